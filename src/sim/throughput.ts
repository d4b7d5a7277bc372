import {
  colocatedThroughput,
  isolatedThroughput,
  jobKey,
  spreadThroughput,
  type ClusterSpec,
  type GpuType,
  type Job,
  type ThroughputTable,
} from '../model/index.js';

/**
 * Consolidated isolated throughput of a job on each cluster type (0 where unmeasured, or where the job may not
 * run because of its allowed GPU types). This is what policies see.
 */
export function tableThroughputs(table: ThroughputTable, cluster: ClusterSpec): (job: Job) => readonly number[] {
  const cache = new Map<string, readonly number[]>();
  return (job: Job) => {
    const key = jobKey(job.jobType, job.scaleFactor);
    let row = cache.get(key);
    if (!row) {
      row = cluster.gpuTypes.map((t) => isolatedThroughput(table, t, key) ?? 0);
      cache.set(key, row);
    }
    if (job.gpuTypes) {
      const allowed = new Set(job.gpuTypes.map((t) => t.toLowerCase()));
      return row.map((v, k) => (allowed.has(cluster.gpuTypes[k]!) ? v : 0));
    }
    return row;
  };
}

/** Throughput a job actually gets on a placement: spread gangs use the `_unconsolidated` measurement when asked. */
export function placedThroughput(
  table: ThroughputTable,
  job: Job,
  gpuType: GpuType,
  consolidated: boolean,
  spreadPenalty: boolean,
): number {
  const key = jobKey(job.jobType, job.scaleFactor);
  if (!consolidated && spreadPenalty && job.scaleFactor > 1) return spreadThroughput(table, gpuType, key) ?? 0;
  return isolatedThroughput(table, gpuType, key) ?? 0;
}

/**
 * Throughputs `[a's, b's]` of two jobs sharing GPUs, or undefined when the pair was not measured. Gavel's files
 * store each pair under both keys (`[self, other]` from each side); a table holding only one side still works.
 */
export function pairThroughput(table: ThroughputTable, a: Job, b: Job, gpuType: GpuType): readonly [number, number] | undefined {
  const ka = jobKey(a.jobType, a.scaleFactor);
  const kb = jobKey(b.jobType, b.scaleFactor);
  const ab = colocatedThroughput(table, gpuType, ka, kb);
  if (ab) return ab;
  const ba = colocatedThroughput(table, gpuType, kb, ka);
  return ba ? [ba[1], ba[0]] : undefined;
}
