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
  /**
   * Jobs each class stands for, when the problem's jobs are themselves representatives of larger groups
   * (`members[c].length` otherwise).
   */
  readonly size?: ArrayLike<number>;
}

export function classSize(classes: Classes, c: number): number {
  return classes.size ? classes.size[c]! : classes.members[c]!.length;
}

/** The job standing for class c in an LP over classes (its first member; every member has the same row). */
export function classJob(classes: Classes, c: number): number {
  return classes.members[c]![0]!;
}

/**
 * One class's terms of an LP row: clears `idx` and `val`, then appends, for each type k in order where class c has a
 * column (`col[c * K + k] >= 0`), that column and `coef(k, column)`. The class-per-row LPs of the allocation
 * policies (max-min, finish-time fairness, makespan, max-sum, packing) all build their per-class rows with it;
 * callers may append further terms (a `t` or slack column) before adding the row.
 */
export function classTerms(col: Int32Array, K: number, c: number, coef: (k: number, column: number) => number, idx: number[], val: number[]): void {
  idx.length = 0;
  val.length = 0;
  for (let k = 0; k < K; k++) {
    const v = col[c * K + k]!;
    if (v >= 0) {
      idx.push(v);
      val.push(coef(k, v));
    }
  }
}

/**
 * Groups jobs that are interchangeable for throughput-based policies: equal scale factor, weight, allowed types
 * and throughput row. Keys are walked through nested maps of numbers (no string building: this runs on every
 * call for thousands of jobs). Returns the class of each job, one representative (the first) per class, and the
 * class sizes.
 */
export function classifyJobs(
  jobs: readonly PolicyJob[],
  types: readonly GpuType[],
  perJob = false,
): { classOf: Int32Array; reps: number[]; size: number[] } {
  const n = jobs.length;
  const classOf = new Int32Array(n);
  const reps: number[] = [];
  const size: number[] = [];
  if (perJob) {
    for (let j = 0; j < n; j++) {
      classOf[j] = j;
      reps.push(j);
      size.push(1);
    }
    return { classOf, reps, size };
  }
  type Node = Map<number, Node | number>;
  const root: Node = new Map();
  const allowedIds = new Map<string, number>();
  const K = types.length;
  for (let j = 0; j < n; j++) {
    const job = jobs[j]!;
    let allowedId = 0;
    if (job.allowedGpuTypes) {
      const key = types.map((t) => (job.allowedGpuTypes!.includes(t) ? '1' : '0')).join('');
      let id = allowedIds.get(key);
      if (id === undefined) allowedIds.set(key, (id = allowedIds.size + 1));
      allowedId = id;
    }
    let node = root;
    const walk = (key: number): void => {
      let next = node.get(key) as Node | undefined;
      if (next === undefined) node.set(key, (next = new Map()));
      node = next;
    };
    walk(job.scaleFactor);
    walk(job.priorityWeight);
    walk(allowedId);
    for (let k = 0; k < K - 1; k++) walk(job.throughput[k]!);
    const last = job.throughput[K - 1]!;
    let c = node.get(last) as number | undefined;
    if (c === undefined) {
      c = reps.length;
      node.set(last, c);
      reps.push(j);
      size.push(0);
    }
    classOf[j] = c;
    size[c] = size[c]! + 1;
  }
  // Canonical class order (see `groupBy`): by scale factor, weight, allowed types, then throughputs.
  const allowedKey = (j: number): string => {
    const a = jobs[j]!.allowedGpuTypes;
    return a ? types.map((t) => (a.includes(t) ? '1' : '0')).join('') : '';
  };
  const order = reps.map((_, c) => c);
  order.sort((x, y) => {
    const a = jobs[reps[x]!]!;
    const b = jobs[reps[y]!]!;
    if (a.scaleFactor !== b.scaleFactor) return a.scaleFactor - b.scaleFactor;
    if (a.priorityWeight !== b.priorityWeight) return a.priorityWeight - b.priorityWeight;
    for (let k = 0; k < K; k++) if (a.throughput[k] !== b.throughput[k]) return a.throughput[k]! - b.throughput[k]!;
    const ka = allowedKey(reps[x]!);
    const kb = allowedKey(reps[y]!);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  const rank = new Int32Array(order.length);
  order.forEach((c, r) => (rank[c] = r));
  for (let j = 0; j < n; j++) classOf[j] = rank[classOf[j]!]!;
  return { classOf, reps: order.map((c) => reps[c]!), size: order.map((c) => size[c]!) };
}

/**
 * `finishAllocation` for a problem over class representatives: cleans each class's shares (capacity counted with
 * the class sizes) and gives every job of the snapshot its own copy of its class's row.
 */
export function finishClassAllocation(
  reps: Problem,
  size: ArrayLike<number>,
  classShares: number[][],
  jobs: readonly PolicyJob[],
  classOf: Int32Array,
): Allocation {
  const K = reps.types.length;
  const used = new Float64Array(K);
  for (let c = 0; c < classShares.length; c++) {
    const row = classShares[c]!;
    let sum = 0;
    for (let k = 0; k < K; k++) {
      let v = row[k]!;
      if (!reps.usable[c]![k] || !(v > 1e-12)) v = 0;
      row[k] = v;
      sum += v;
    }
    if (sum > 1) for (let k = 0; k < K; k++) row[k] = row[k]! / sum;
    for (let k = 0; k < K; k++) used[k] = used[k]! + row[k]! * reps.jobs[c]!.scaleFactor * size[c]!;
  }
  for (let k = 0; k < K; k++) {
    if (used[k]! > reps.caps[k]!) {
      const f = reps.caps[k]! / used[k]!;
      for (const row of classShares) row[k] = row[k]! * f;
    }
  }
  // The jobs of a class share their class's row (allocations are read-only): one array per class, not per job.
  const map = new Map<string, readonly number[]>();
  for (let j = 0; j < jobs.length; j++) map.set(jobs[j]!.id, classShares[classOf[j]!]!);
  return { gpuTypes: reps.types, shares: map };
}

/**
 * Groups jobs by key. Classes come out sorted by key, so the LP built over them does not depend on the order of
 * the jobs in the snapshot (an interior-point solution is only unique up to the solver's tolerance, and the
 * column order would otherwise leak into it).
 */
export function groupBy(n: number, keyOf: (j: number) => string): Classes {
  const byKey = new Map<string, number[]>();
  for (let j = 0; j < n; j++) {
    const key = keyOf(j);
    let list = byKey.get(key);
    if (!list) byKey.set(key, (list = []));
    list.push(j);
  }
  const keys = [...byKey.keys()].sort();
  const members = keys.map((k) => byKey.get(k)!);
  const classOf = new Int32Array(n);
  members.forEach((list, c) => {
    for (const j of list) classOf[j] = c;
  });
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
