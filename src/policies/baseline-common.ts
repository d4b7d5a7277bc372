import type { Problem } from './common.js';

/**
 * Helpers shared by the literature baselines (Gandiva, AlloX, Tiresias, Themis, SJF, Shockwave): most of them are
 * heterogeneity-agnostic and think of the cluster as one pool of GPUs, and most hand out whole GPUs in a priority
 * order.
 */

/** GPUs of the types a job may use. */
export function usableGpus(p: Problem, j: number): number {
  let g = 0;
  for (let k = 0; k < p.types.length; k++) if (p.usable[j]![k]) g += p.caps[k]!;
  return g;
}

/**
 * A job's throughput on the pool of GPUs it may use: the capacity-weighted mean of its per-type throughputs (what a
 * heterogeneity-agnostic scheduler, placing it on any free GPU, gets on average).
 */
export function poolRate(p: Problem, j: number): number {
  const g = usableGpus(p, j);
  if (g === 0) return 0;
  let s = 0;
  for (let k = 0; k < p.types.length; k++) if (p.usable[j]![k]) s += p.caps[k]! * p.jobs[j]!.throughput[k]!;
  return s / g;
}

/** GPU-seconds a job has used so far (Tiresias' attained service), estimated from its progress and pool rate. */
export function attainedService(p: Problem, j: number): number {
  const job = p.jobs[j]!;
  const r = poolRate(p, j);
  return r > 0 ? (job.scaleFactor * (job.totalSteps - job.remainingSteps)) / r : 0;
}

/**
 * Gives whole GPUs to jobs in `order`: each job takes one type with room for its gang (`pickType` chooses among
 * them; default the first in cluster order, as an agnostic scheduler would); jobs that fit nowhere are skipped, so
 * smaller jobs behind them may start (work conservation, as Tiresias and Gandiva do). Returns the chosen type per
 * job (-1 = none) and writes share 1 into `shares`.
 */
export function packWholeGpus(
  p: Problem,
  order: readonly number[],
  shares: number[][],
  pickType: (j: number, fits: readonly number[]) => number = (_j, fits) => fits[0]!,
  avail: number[] = [...p.caps],
): number[] {
  const placed = p.jobs.map(() => -1);
  for (const j of order) {
    const sf = p.jobs[j]!.scaleFactor;
    const fits: number[] = [];
    for (let k = 0; k < p.types.length; k++) if (p.usable[j]![k] && avail[k]! >= sf) fits.push(k);
    if (fits.length === 0) continue;
    const k = pickType(j, fits);
    shares[j]![k] = 1;
    avail[k] = avail[k]! - sf;
    placed[j] = k;
  }
  return placed;
}

/** Sorted copy of ids for deterministic state. */
export function byId<T>(entries: Iterable<readonly [string, T]>): Array<[string, T]> {
  return [...entries].map(([k, v]) => [k, v] as [string, T]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
