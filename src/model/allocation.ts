import { RondoError } from './errors.js';
import type { ClusterSpec, GpuType } from './cluster.js';

/**
 * Key of an allocation row: a job id, or two job ids joined by `+` for a space-sharing pair (smaller id first, so
 * a pair has one key).
 */
export type RowKey = string;

export function pairKey(a: string, b: string): RowKey {
  return a < b ? `${a}+${b}` : `${b}+${a}`;
}

/**
 * Row key of an assignment's job ids (one job, or a pair whose key does not depend on the order of its ids). The
 * mechanism and the engine both key their ledgers by it, so there is one definition.
 */
export function rowKeyOf(jobIds: readonly string[]): RowKey {
  return jobIds.length === 2 ? pairKey(jobIds[0]!, jobIds[1]!) : jobIds[0]!;
}

export function rowJobs(key: RowKey): string[] {
  return key.split('+');
}

/** True when the row is one of `jobs` or a pair containing one (no array built: it runs over every ledger row). */
export function rowHasAnyJob(key: RowKey, jobs: ReadonlySet<string>): boolean {
  const plus = key.indexOf('+');
  return plus < 0 ? jobs.has(key) : jobs.has(key.slice(0, plus)) || jobs.has(key.slice(plus + 1));
}

/**
 * A policy's answer: `shares.get(row)[k]` is the fraction of wall time the row should spend on `gpuTypes[k]`.
 * Invariants (checked by `validateAllocation`): shares >= 0, each row's shares sum to <= 1, and for each type the
 * GPUs used, sum over rows of scale * share, stay within the type's count.
 */
export interface Allocation {
  readonly gpuTypes: readonly GpuType[];
  readonly shares: ReadonlyMap<RowKey, readonly number[]>;
}

/** Sum of a job's shares over every row it appears in, per type. */
export function jobShares(alloc: Allocation, jobId: string): number[] {
  const out = alloc.gpuTypes.map(() => 0);
  for (const [key, row] of alloc.shares) {
    if (key === jobId || rowJobs(key).includes(jobId)) row.forEach((v, k) => (out[k]! += v));
  }
  return out;
}

/**
 * Checks an allocation against Gavel's constraints to `tol`. `scaleOf` gives each job's GPU count. Throws a
 * RondoError naming the first violated constraint.
 */
export function validateAllocation(
  alloc: Allocation,
  cluster: ClusterSpec,
  scaleOf: (jobId: string) => number,
  tol = 1e-6,
): void {
  const used = alloc.gpuTypes.map(() => 0);
  const perJob = new Map<string, number>();
  for (const [key, row] of alloc.shares) {
    if (row.length !== alloc.gpuTypes.length) {
      throw new RondoError({ code: 'E_INVALID', problem: `allocation row ${key} has ${row.length} entries for ${alloc.gpuTypes.length} GPU types` });
    }
    const jobs = rowJobs(key);
    let sum = 0;
    row.forEach((v, k) => {
      if (!Number.isFinite(v) || v < -tol) {
        throw new RondoError({ code: 'E_INVALID', problem: `allocation of ${key} on ${alloc.gpuTypes[k]} is ${v}` });
      }
      sum += v;
      used[k]! += scaleOf(jobs[0]!) * v;
    });
    for (const j of jobs) perJob.set(j, (perJob.get(j) ?? 0) + sum);
  }
  for (const [j, s] of perJob) {
    if (s > 1 + tol) throw new RondoError({ code: 'E_INVALID', problem: `job ${j} is allocated ${s} > 1 of wall time` });
  }
  alloc.gpuTypes.forEach((t, k) => {
    const cap = cluster.gpus[t] ?? 0;
    if (used[k]! > cap + tol * Math.max(1, cap)) {
      throw new RondoError({ code: 'E_INVALID', problem: `allocation uses ${used[k]} GPUs of ${t}, cluster has ${cap}` });
    }
  });
}
