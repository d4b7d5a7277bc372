import { ThroughputEstimator } from '../estimate/index.js';
import { isolatedThroughput, jobKey, type ClusterSpec, type Job, type RoundPlan, type ThroughputTable } from '../model/index.js';
import type { ExecJob, Executor, RoundReport } from '../engine/types.js';

export interface EstimateSettings {
  /** Reference job types (model names) drawn from the table with `seed` (default: all). */
  readonly referenceJobTypes?: number;
  readonly seed?: number;
}

/**
 * `rondo simulate --estimate-throughputs`: the policy sees estimated throughputs, the executor the true table.
 *
 * Every job is treated as unseen: its own job type is left out of the estimator's references. At arrival it has
 * measured nothing, so the policy sees the reference shape (the typical ratio between types); after each round it
 * ran, the type it ran on counts as measured (in a simulation the measurement is the table's value exactly) and the
 * other types are re-estimated from it at the next allocation. Rows depend only on (key, measured types), so jobs of
 * one key that ran on the same types share a row and the policies' class grouping still applies.
 */
export class EstimatedThroughputs {
  private readonly estimator: ThroughputEstimator;
  /** Job id -> GPU types it has run on. */
  private readonly ran = new Map<string, Set<string>>();
  private readonly rows = new Map<string, readonly number[]>();

  constructor(
    private readonly table: ThroughputTable,
    settings: EstimateSettings = {},
  ) {
    this.estimator = new ThroughputEstimator(table, settings);
  }

  /** What the policy sees: the estimate per cluster type, 0 where the true row is 0 (the job cannot run there). */
  row(job: Job, truth: readonly number[], cluster: ClusterSpec): readonly number[] {
    const key = jobKey(job.jobType, job.scaleFactor);
    const ran = [...(this.ran.get(job.id) ?? [])].sort();
    const id = `${key}\n${ran.join(',')}\n${truth.map((v) => (v > 0 ? 1 : 0)).join('')}\n${cluster.gpuTypes.join(',')}`;
    let row = this.rows.get(id);
    if (!row) {
      const measured = Object.fromEntries(ran.map((t) => [t, isolatedThroughput(this.table, t, key) ?? 0]));
      const est = this.estimator.isolatedRow({ jobType: job.jobType, scaleFactor: job.scaleFactor, measured, excludeSelf: true }, cluster.gpuTypes);
      row = est.map((v, k) => (truth[k]! > 0 ? v : 0));
      this.rows.set(id, row);
    }
    return row;
  }

  /** Wraps an executor: a job that made progress on a type has measured it. */
  observe(inner: Executor): Executor {
    const ran = this.ran;
    return {
      async runRound(plan: RoundPlan, jobs: ReadonlyMap<string, ExecJob>): Promise<RoundReport> {
        const report = await inner.runRound(plan, jobs);
        for (const p of report.progress) {
          if (p.failed || !(p.runTime > 0)) continue;
          let s = ran.get(p.jobId);
          if (!s) ran.set(p.jobId, (s = new Set()));
          s.add(p.gpuType);
          if (p.finished) ran.delete(p.jobId);
        }
        return report;
      },
      ...(inner.release ? { release: (id: string) => inner.release!(id) } : {}),
      ...(inner.observe ? { observe: (now: number) => inner.observe!(now) } : {}),
    };
  }
}
