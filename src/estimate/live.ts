import type { GpuType, ThroughputTable } from '../model/index.js';
import { ThroughputEstimator, type EstimatorOptions, type TypeThroughput } from './estimator.js';

/** What the live scheduler knows of a job when it asks for its throughputs. */
export interface LiveJob {
  /** Model name as in the throughput table; null or absent when the submitter did not say. */
  readonly jobType?: string | null;
  readonly scaleFactor: number;
  /** Allowed GPU types (null/absent: any). */
  readonly gpuTypes?: readonly string[] | null;
}

/** The name an unnamed job is estimated under: no table has it, so it always gets the low-rank estimate. */
const UNNAMED = '\u0000unnamed';

/**
 * Throughputs of live jobs (the server's view): a job that names a job type the table knows gets the table's row
 * (scaled to its own measurements), any other job the low-rank estimate from what it measured; measurements
 * replace both as they arrive. Pure: the caller brings the measurements and the cluster.
 */
export class LiveThroughputs {
  readonly estimator: ThroughputEstimator;
  /** Rows of jobs that measured nothing yet (most of a long queue), by everything they depend on. */
  private readonly unmeasured = new Map<string, number[]>();

  constructor(table: ThroughputTable, opts: EstimatorOptions = {}) {
    this.estimator = new ThroughputEstimator(table, opts);
  }

  /** Per type of `types`: value, source, confidence (for the API and the dashboard). */
  view(types: readonly GpuType[], job: LiveJob, measured: Readonly<Record<GpuType, number>>): TypeThroughput[] {
    return this.estimator.isolated({ jobType: job.jobType ?? UNNAMED, scaleFactor: job.scaleFactor, measured }, types);
  }

  /**
   * The row the policy sees on a cluster: `view`'s values, 0 where the job may not run or where no single worker
   * has `scaleFactor` GPUs of the type (`largestPerWorker`, aligned with `types`).
   */
  row(types: readonly GpuType[], largestPerWorker: readonly number[], job: LiveJob, measured: Readonly<Record<GpuType, number>>): number[] {
    let id: string | undefined;
    if (Object.keys(measured).length === 0) {
      id = `${job.jobType ?? UNNAMED}\n${job.scaleFactor}\n${types.join(',')}\n${largestPerWorker.join(',')}\n${job.gpuTypes?.join(',') ?? '*'}`;
      const hit = this.unmeasured.get(id);
      if (hit) return [...hit];
      if (this.unmeasured.size > 10_000) this.unmeasured.clear();
    }
    const v = this.view(types, job, measured);
    const row = types.map((t, k) => {
      if (job.gpuTypes && !job.gpuTypes.includes(t)) return 0;
      if (job.scaleFactor > largestPerWorker[k]!) return 0;
      return v[k]!.value;
    });
    if (id !== undefined) this.unmeasured.set(id, [...row]);
    return row;
  }
}
