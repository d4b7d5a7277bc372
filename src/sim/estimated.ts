import { ThroughputEstimator } from '../estimate/index.js';
import {
  isolatedThroughput,
  jobKey,
  seededRandom,
  type ClusterSpec,
  type Job,
  type RoundPlan,
  type ThroughputEntry,
  type ThroughputTable,
} from '../model/index.js';
import type { ExecJob, Executor, RoundReport } from '../engine/types.js';
import type { Policy, PolicyJob, PolicySnapshot } from '../policies/types.js';

export interface EstimateSettings {
  /** Reference job types (model names) drawn from the table with `seed` (default: all). */
  readonly referenceJobTypes?: number;
  readonly seed?: number;
  /**
   * Space-sharing policies: the fraction of (GPU type, reference job) co-locations each job key is profiled against
   * (Gavel's `profiling_percentage`, default 1); its co-located throughputs are then those of the reference key it
   * matches (Gavel's estimator).
   */
  readonly profiledFraction?: number;
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
  /** Job key -> the reference key it is matched to for co-location (undefined: no match possible). */
  private readonly matches = new Map<string, string | undefined>();
  private readonly factors = new Map<string, number | undefined>();
  private readonly random: () => number;
  private readonly fraction: number;

  constructor(
    private readonly table: ThroughputTable,
    settings: EstimateSettings = {},
  ) {
    this.estimator = new ThroughputEstimator(table, settings);
    this.random = seededRandom((settings.seed ?? 0) + 1);
    this.fraction = settings.profiledFraction ?? 1;
    if (!(this.fraction >= 0 && this.fraction <= 1)) throw new Error(`the profiled fraction must be from 0 to 1, not ${this.fraction}`);
  }

  /**
   * Wraps a space-sharing policy so that it sees estimated co-located throughputs: each class of jobs (job key and
   * estimated row) gets a key of its own in a table made for this call, whose isolated throughputs are the estimated
   * row and whose co-located throughputs with another job's key are, relative to that row, those of the reference key
   * the job was matched to (Gavel). Allocation rows are keyed by job ids, so the result needs no translation.
   */
  wrapPolicy(policy: Policy): Policy {
    if (!policy.meta.spaceSharing) return policy;
    return { meta: policy.meta, allocate: (s) => policy.allocate(this.believed(s)) };
  }

  private matchOf(key: string, jobType: string, scaleFactor: number): string | undefined {
    if (!this.matches.has(key)) {
      // Profiled once per job key, in arrival order of the keys (deterministic for a seed).
      const profile = this.estimator.profileColocations(key, this.fraction, this.random, jobType);
      this.matches.set(key, this.estimator.matchReference(scaleFactor, profile, jobType)?.key);
    }
    return this.matches.get(key);
  }

  /** Co-located / isolated throughput of reference key `like` next to `partner` on `gpuType` (memoised). */
  private factor(like: string, partner: string, gpuType: string): number | undefined {
    const id = `${like}\n${partner}\n${gpuType}`;
    if (!this.factors.has(id)) this.factors.set(id, this.estimator.colocatedLike(like, partner, gpuType, 1, 1)?.[0]);
    return this.factors.get(id);
  }

  private believed(s: PolicySnapshot): PolicySnapshot {
    const types = s.cluster.gpuTypes;
    const classOf = new Map<string, { key: string; job: PolicyJob; match: string | undefined }>();
    const jobs = s.jobs.map((j) => {
      const key = jobKey(j.jobType, j.scaleFactor);
      const id = `${key}\n${j.throughput.join(',')}`;
      let c = classOf.get(id);
      if (!c) {
        c = { key: `${j.jobType}#${classOf.size}`, job: j, match: this.matchOf(key, j.jobType, j.scaleFactor) };
        classOf.set(id, c);
      }
      return { ...j, jobType: c.key };
    });
    const consolidated: Record<string, Record<string, ThroughputEntry>> = Object.fromEntries(types.map((t) => [t, {}]));
    const classes = [...classOf.values()];
    types.forEach((t, k) => {
      for (const a of classes) {
        const colocated: Record<string, readonly [number, number]> = {};
        for (const b of classes) {
          if (a.job.scaleFactor !== b.job.scaleFactor || !a.match || !b.match) continue;
          // a's side from its match next to b's true key; b's side from b's match next to a's true key.
          const mine = this.factor(a.match, jobKey(b.job.jobType, b.job.scaleFactor), t);
          const theirs = this.factor(b.match, jobKey(a.job.jobType, a.job.scaleFactor), t);
          if (mine !== undefined && theirs !== undefined) {
            colocated[jobKey(b.key, b.job.scaleFactor)] = [mine * a.job.throughput[k]!, theirs * b.job.throughput[k]!];
          }
        }
        consolidated[t]![jobKey(a.key, a.job.scaleFactor)] = { isolated: a.job.throughput[k]!, colocated };
      }
    });
    return { ...s, jobs, throughputs: { gpuTypes: types, consolidated, unconsolidated: {} } };
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
