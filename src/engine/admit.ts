/**
 * Phase: admission. Jobs the source hands in become active: a record, a mechanism row, a fresh ledger entry (seeded
 * like Gavel's), and a stale allocation. A restarted engine gives a job back its saved bookkeeping (persistence.ts).
 */
import { RondoError, jobKey, type ClusterSpec, type Job } from '../model/index.js';
import { addRows } from '../mechanism/index.js';
import type { RunState } from './state.js';
import type { JobRecord } from './types.js';

export function admit(s: RunState, jobs: readonly Job[]): void {
  if (jobs.length === 0) return;
  const { cfg } = s;
  for (const job of jobs) {
    if (s.keepHistory ? s.seen.has(job.id) : s.active.has(job.id)) {
      throw new RondoError({ code: 'E_DUPLICATE', problem: `job ${job.id} submitted twice` });
    }
    if (s.keepHistory) s.seen.add(job.id);
    const throughput = cfg.throughputOf(job, s.cluster);
    const back = s.restoring?.get(job.id);
    const rec: JobRecord = {
      id: job.id,
      index: s.admitted++,
      jobType: job.jobType,
      scaleFactor: job.scaleFactor,
      arrivalTime: job.arrivalTime,
      totalSteps: back?.totalSteps ?? (cfg.totalStepsOf ? cfg.totalStepsOf(job) : defaultTotalSteps(job, s.cluster, throughput)),
      stepsDone: back?.stepsDone ?? 0,
      finishTime: undefined,
      runSeconds: s.types.map(() => 0),
      roundsRun: back?.roundsRun ?? 0,
      preemptions: back?.preemptions ?? 0,
      failures: back?.failures ?? 0,
      failed: false,
      cancelled: false,
      activeJobSeconds: 0,
    };
    if (s.keepHistory) s.records.push(rec);
    cfg.stop?.admitted(rec);
    const kk = jobKey(job.jobType, job.scaleFactor);
    let kind = s.kinds.get(kk);
    if (kind === undefined) s.kinds.set(kk, (kind = s.kinds.size));
    const row = { key: job.id, jobIds: [job.id], scaleFactor: job.scaleFactor, throughput };
    s.active.set(job.id, { job, rec, throughput, row, kind, spanFrom: s.spanCount });
    s.rowsVersion++;
    cfg.observer?.onJobArrived?.(job.id, job.arrivalTime);
  }
  s.ledger = addRows(s.ledger, jobs.map((j) => j.id), s.roundDuration);
  s.stale = true;
}

/** `job.totalSteps`, else its duration times its throughput on its reference type (`EngineConfig.totalStepsOf`). */
function defaultTotalSteps(job: Job, cluster: ClusterSpec, throughput: readonly number[]): number {
  if (job.totalSteps !== undefined) return job.totalSteps;
  const ref = job.referenceGpuType ?? 'v100';
  const k = cluster.gpuTypes.indexOf(ref);
  const t = k >= 0 ? throughput[k]! : Math.max(...throughput);
  if (!(t > 0)) {
    throw new RondoError({
      code: 'E_INVALID',
      problem: `job ${job.id} has only a duration and no throughput on its reference type ${ref}`,
      hint: 'give totalSteps, or a reference GPU type the throughput table measures',
    });
  }
  return (job.durationS ?? 0) * t;
}
