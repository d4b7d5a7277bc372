import { RondoError } from '../model/errors.js';
import type { Allocation, GpuType } from '../model/index.js';
import type { PolicyJob, PolicySnapshot } from './types.js';

/**
 * Shared pieces of the policies: which (job, type) cells may be used, Gavel's reference throughputs (equal share,
 * isolated), grouping of interchangeable jobs into classes, and turning per-job shares into an `Allocation`.
 */

export interface Problem {
  readonly types: readonly GpuType[];
  /** GPUs of each type. */
  readonly caps: readonly number[];
  readonly jobs: readonly PolicyJob[];
  /**
   * `usable[j][k]`: job j may get time on type k: the type has GPUs, at least `scaleFactor` of them, the job is
   * allowed there and has a positive throughput there.
   */
  readonly usable: readonly (readonly boolean[])[];
}

const TYPE_NAME_MAX = 20;

export function checkSnapshot(snapshot: PolicySnapshot): void {
  const types = snapshot.cluster.gpuTypes;
  const seen = new Set<string>();
  for (const job of snapshot.jobs) {
    if (seen.has(job.id)) {
      throw new RondoError({ code: 'E_DUPLICATE', problem: `job ${job.id} appears twice in the policy snapshot` });
    }
    seen.add(job.id);
    if (job.throughput.length !== types.length) {
      throw new RondoError({
        code: 'E_INVALID',
        problem: `job ${job.id} has ${job.throughput.length} throughputs for ${types.length} GPU types`,
        expected: `one per type (${types.join(', ').slice(0, TYPE_NAME_MAX * types.length)})`,
      });
    }
    for (const v of job.throughput) {
      if (!Number.isFinite(v) || v < 0) {
        throw new RondoError({ code: 'E_RANGE', problem: `job ${job.id} has throughput ${v}`, expected: 'a finite number >= 0' });
      }
    }
    if (!Number.isInteger(job.scaleFactor) || job.scaleFactor < 1) {
      throw new RondoError({ code: 'E_RANGE', problem: `job ${job.id} has scale factor ${job.scaleFactor}`, expected: 'an integer >= 1' });
    }
    if (!Number.isFinite(job.priorityWeight) || job.priorityWeight <= 0) {
      throw new RondoError({ code: 'E_RANGE', problem: `job ${job.id} has priority weight ${job.priorityWeight}`, expected: 'a number > 0' });
    }
    if (!Number.isFinite(job.remainingSteps) || job.remainingSteps < 0) {
      throw new RondoError({ code: 'E_RANGE', problem: `job ${job.id} has ${job.remainingSteps} remaining steps`, expected: 'a number >= 0' });
    }
  }
}

export function makeProblem(snapshot: PolicySnapshot): Problem {
  checkSnapshot(snapshot);
  const types = snapshot.cluster.gpuTypes;
  const caps = types.map((t) => snapshot.cluster.gpus[t] ?? 0);
  const usable = snapshot.jobs.map((job) => {
    const allowed = job.allowedGpuTypes ? new Set(job.allowedGpuTypes) : undefined;
    return types.map((t, k) => caps[k]! >= job.scaleFactor && job.throughput[k]! > 0 && (!allowed || allowed.has(t)));
  });
  return { types, caps, jobs: snapshot.jobs, usable };
}

/** Throughput row with unusable cells zeroed. */
export function usableRow(p: Problem, j: number, row: readonly number[] = p.jobs[j]!.throughput): number[] {
  return row.map((v, k) => (p.usable[j]![k] ? v : 0));
}

export function anyUsable(p: Problem, j: number): boolean {
  return p.usable[j]!.some((u) => u);
}

/**
 * Gavel's "proportional" (equal-share) throughput used to normalise LAS: every job gets `gpus_k / totalGpus` of
 * each type (Gavel's ProportionalPolicy: `gpus_k / n`, rescaled so the row sums to 1), so the reference throughput
 * is `sum_k T[k] * gpus_k / G`. It does not depend on the number of jobs or their scale factors.
 */
export function proportionalThroughput(caps: readonly number[], row: readonly number[]): number {
  let total = 0;
  for (const c of caps) total += c;
  if (total <= 0) return 0;
  let s = 0;
  for (let k = 0; k < caps.length; k++) s += (row[k]! * caps[k]!) / total;
  return s;
}

/**
 * Gavel's IsolatedPolicy: the cluster split evenly over the `m` jobs, `x[k] = gpus_k / (m * sf)`, scaled down so
 * that the row sums to at most 1.
 */
export function isolatedShares(caps: readonly number[], m: number, scaleFactor: number): number[] {
  const x = caps.map((c) => c / m / scaleFactor);
  const sum = x.reduce((a, b) => a + b, 0);
  const div = Math.max(sum, 1);
  return x.map((v) => v / div);
}

export function isolatedThroughput(caps: readonly number[], m: number, scaleFactor: number, row: readonly number[]): number {
  const x = isolatedShares(caps, m, scaleFactor);
  let s = 0;
  for (let k = 0; k < caps.length; k++) s += x[k]! * row[k]!;
  return s;
}

/**
 * Index of the throughput Gavel's heterogeneity-agnostic `finish_time_fairness` and `min_total_duration` use for
 * every type: v100's ("all other worker types have a throughput of 0 for some job"). Clusters without v100 use
 * the first type.
 */
export function agnosticReferenceType(types: readonly GpuType[]): number {
  const k = types.indexOf('v100');
  return k >= 0 ? k : 0;
}

/** Groups of interchangeable jobs: equal keys. Order: first appearance. */
export interface Classes {
  /** Job indices of each class. */
  readonly members: readonly number[][];
  /** Class of each job. */
  readonly classOf: Int32Array;
}

export function groupBy(n: number, keyOf: (j: number) => string): Classes {
  const byKey = new Map<string, number>();
  const members: number[][] = [];
  const classOf = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const key = keyOf(j);
    let c = byKey.get(key);
    if (c === undefined) {
      c = members.length;
      byKey.set(key, c);
      members.push([]);
    }
    members[c]!.push(j);
    classOf[j] = c;
  }
  return { members, classOf };
}

export function singletons(n: number): Classes {
  const classOf = new Int32Array(n);
  const members: number[][] = [];
  for (let j = 0; j < n; j++) {
    classOf[j] = j;
    members.push([j]);
  }
  return { members, classOf };
}

/**
 * Cleans solver output into a valid allocation: negatives and round-off are clipped, unusable cells zeroed, rows
 * summing above 1 scaled to 1, and any type used above capacity scaled to capacity (interior-point solutions
 * satisfy the constraints only to ~1e-8).
 */
export function finishAllocation(p: Problem, shares: number[][]): Allocation {
  const K = p.types.length;
  const used = new Float64Array(K);
  for (let j = 0; j < shares.length; j++) {
    const row = shares[j]!;
    let sum = 0;
    for (let k = 0; k < K; k++) {
      let v = row[k]!;
      if (!p.usable[j]![k] || !(v > 1e-12)) v = 0;
      row[k] = v;
      sum += v;
    }
    if (sum > 1) for (let k = 0; k < K; k++) row[k] = row[k]! / sum;
    for (let k = 0; k < K; k++) used[k] = used[k]! + row[k]! * p.jobs[j]!.scaleFactor;
  }
  for (let k = 0; k < K; k++) {
    if (used[k]! > p.caps[k]!) {
      const f = p.caps[k]! / used[k]!;
      for (const row of shares) row[k] = row[k]! * f;
    }
  }
  const map = new Map<string, readonly number[]>();
  p.jobs.forEach((job, j) => map.set(job.id, shares[j]!));
  return { gpuTypes: p.types, shares: map };
}

export function zeroShares(p: Problem): number[][] {
  return p.jobs.map(() => p.types.map(() => 0));
}

/** Effective throughput of a job under its shares. */
export function effectiveThroughput(row: readonly number[], shares: readonly number[]): number {
  let s = 0;
  for (let k = 0; k < row.length; k++) s += row[k]! * shares[k]!;
  return s;
}

export function solverFailure(policy: string, status: string, message?: string): RondoError {
  return new RondoError({
    code: 'E_SOLVER',
    problem: `policy ${policy}: the LP solver returned ${status}${message ? ` (${message})` : ''}`,
  });
}

/** Per-job shares from per-class shares. */
export function expandClasses(p: Problem, classes: Classes, classShares: readonly Float64Array[], include: (j: number) => boolean = () => true): number[][] {
  const shares = zeroShares(p);
  for (let j = 0; j < p.jobs.length; j++) {
    if (!include(j)) continue;
    shares[j] = Array.from(classShares[classes.classOf[j]!]!);
  }
  return shares;
}

export function rowKey(row: readonly number[]): string {
  return row.join(',');
}
