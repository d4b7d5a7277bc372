import { RondoError } from '../model/errors.js';
import { makeCluster, type ClusterSpec, type RowKey } from '../model/index.js';
import type { Policy, PolicyJob, PolicyResult, PolicySnapshot } from './types.js';

/**
 * POP (Narayanan et al., SOSP'21): split the jobs and the GPUs into k random sub-problems, let the policy allocate
 * each on its own, and join the allocations. Jobs are spread as evenly as possible (sizes differ by at most one,
 * and each kind of job is spread evenly too: a stratified random split, see `assignPartitions`);
 * each type's GPUs are split as evenly as possible (the remainders of successive types go to successive
 * partitions). The joined allocation is valid: partitions hold disjoint jobs and together no more GPUs than the
 * cluster.
 *
 * Jobs keep their partition between calls (the assignment travels in `state`, with each partition's own policy
 * state), so stateful policies (finish-time fairness, FIFO) keep their bookkeeping. New jobs join the smallest
 * partitions in a seeded pseudo-random order; when finishes leave partitions more than one job apart, the job
 * with the smallest hash moves from a largest to a smallest one (it starts afresh in the inner policy's state).
 * The first call is thus a seeded random split into equal parts. Deterministic: same snapshot, same result.
 * Fewer partitions are used while a partition would be too small for the largest job (`effectivePartitions`).
 *
 * With class aggregation, each partition's LP has about as many classes as the whole problem (classes come from
 * the job table, not the number of jobs), so POP does not shrink the LPs of LAS; it pays off where classes do not
 * help (every job its own throughput row, or rows that depend on remaining work) and costs k solves where they do.
 */

export interface PopState {
  readonly kind: 'pop';
  readonly k: number;
  /** [job id, partition]. */
  readonly assign: ReadonlyArray<readonly [string, number]>;
  readonly inner: readonly unknown[];
}

export interface PopOptions {
  /** Seed of the random split. Default 0. */
  readonly seed?: number;
}

/** 32-bit FNV-1a of the seed and the id, then a murmur-style finaliser: a stable pseudo-random order of jobs. */
function hashId(seed: number, id: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function readState(raw: unknown, k: number): PopState | undefined {
  if (raw === undefined) return undefined;
  const s = raw as PopState;
  if (!s || s.kind !== 'pop' || !Array.isArray(s.assign) || !Array.isArray(s.inner)) {
    throw new RondoError({ code: 'E_INVALID', problem: 'POP: the state passed back is not a POP state' });
  }
  // A different k (a changed setting): start over with a fresh split.
  return s.k === k ? s : undefined;
}

/**
 * Partition of every job (index into `jobs`), balanced to within one job. New jobs are dealt out stratified: sorted
 * by `stratum` (jobs alike for the policy), then by a seeded hash within it, and handed in turn to the smallest
 * partition (scanning on from the last one used), so every partition gets about the same mix of each kind of job.
 * A purely random split leaves some partitions with a harder mix, and a max-min objective is set by the worst one.
 */
export function assignPartitions(
  jobs: readonly PolicyJob[],
  k: number,
  seed: number,
  previous?: ReadonlyMap<string, number>,
  stratum: (job: PolicyJob) => string = () => '',
): Int32Array {
  const n = jobs.length;
  const part = new Int32Array(n).fill(-1);
  const members: number[][] = Array.from({ length: k }, () => []);
  const hash = jobs.map((j) => hashId(seed, j.id));
  const fresh: number[] = [];
  for (let j = 0; j < n; j++) {
    const p = previous?.get(jobs[j]!.id);
    if (p !== undefined && p >= 0 && p < k) {
      part[j] = p;
      members[p]!.push(j);
    } else fresh.push(j);
  }
  const byHash = (a: number, b: number): number => hash[a]! - hash[b]! || (jobs[a]!.id < jobs[b]!.id ? -1 : 1);
  const strata = fresh.map((j) => stratum(jobs[j]!));
  const strataHash = new Map<string, number>();
  for (const key of strata) if (!strataHash.has(key)) strataHash.set(key, hashId(seed + 1, key));
  const order = fresh.map((_, i) => i);
  order.sort((x, y) => {
    const a = strata[x]!;
    const b = strata[y]!;
    if (a !== b) return strataHash.get(a)! - strataHash.get(b)! || (a < b ? -1 : 1);
    return byHash(fresh[x]!, fresh[y]!);
  });
  const smallest = (from = 0): number => {
    let best = from % k;
    for (let i = 1; i < k; i++) {
      const p = (from + i) % k;
      if (members[p]!.length < members[best]!.length) best = p;
    }
    return best;
  };
  let cursor = 0;
  for (const i of order) {
    const j = fresh[i]!;
    const p = smallest(cursor);
    part[j] = p;
    members[p]!.push(j);
    cursor = p + 1;
  }
  for (;;) {
    let lo = smallest();
    let hi = 0;
    for (let p = 1; p < k; p++) if (members[p]!.length > members[hi]!.length) hi = p;
    if (members[hi]!.length - members[lo]!.length <= 1) break;
    const list = members[hi]!;
    let pick = 0;
    for (let i = 1; i < list.length; i++) if (byHash(list[i]!, list[pick]!) < 0) pick = i;
    const j = list[pick]!;
    list.splice(pick, 1);
    members[lo]!.push(j);
    part[j] = lo;
    lo = smallest();
  }
  return part;
}

/** GPUs of each type per partition: `gpus_t` split as evenly as possible, remainders rotating over partitions. */
export function splitCluster(cluster: ClusterSpec, k: number): ClusterSpec[] {
  const counts: Array<Array<[string, number]>> = Array.from({ length: k }, () => []);
  let offset = 0;
  for (const t of cluster.gpuTypes) {
    const g = cluster.gpus[t] ?? 0;
    const base = Math.floor(g / k);
    const extra = g - base * k;
    for (let p = 0; p < k; p++) counts[p]!.push([t, base]);
    for (let i = 0; i < extra; i++) counts[(offset + i) % k]!.at(-1)![1] += 1;
    offset = (offset + extra) % k;
  }
  return counts.map((c) => makeCluster(c, { ...cluster.gpusPerServer }));
}

/**
 * The largest k' <= k at which every job that can run in the whole cluster can still run in a partition (some
 * type it may use keeps at least its scale factor of GPUs in every partition). Otherwise a job larger than a
 * partition's share would never be scheduled; POP is meant for clusters much larger than their largest job.
 */
export function effectivePartitions(snapshot: PolicySnapshot, k: number): number {
  const types = snapshot.cluster.gpuTypes;
  const caps = types.map((t) => snapshot.cluster.gpus[t] ?? 0);
  // Per job, the most GPUs of one type it may use; the job needs floor(that / k') >= its scale factor.
  let limit = k;
  for (const job of snapshot.jobs) {
    let best = 0;
    types.forEach((t, i) => {
      if (job.throughput[i]! > 0 && (!job.allowedGpuTypes || job.allowedGpuTypes.includes(t))) best = Math.max(best, caps[i]!);
    });
    if (best < job.scaleFactor) continue; // cannot run anywhere, partitions or not
    limit = Math.min(limit, Math.floor(best / job.scaleFactor));
  }
  return Math.max(1, limit);
}

/** Jobs alike for every policy here: same job type, scale factor, weight and throughput row. */
function stratumOf(job: PolicyJob): string {
  return `${job.jobType}\u0000${job.scaleFactor}\u0000${job.priorityWeight}\u0000${job.throughput.join(',')}`;
}

export function createPopPolicy(inner: Policy, kMax: number, opts: PopOptions = {}): Policy {
  if (!Number.isInteger(kMax) || kMax < 1) {
    throw new RondoError({ code: 'E_USAGE', problem: `POP needs a whole number of partitions >= 1, got ${kMax}`, hint: 'e.g. --partitions 8' });
  }
  const seed = opts.seed ?? 0;
  return {
    meta: { ...inner.meta, description: `${inner.meta.description} (POP: ${kMax} random sub-problems)` },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const k = effectivePartitions(snapshot, kMax);
      const prev = readState(snapshot.state, k);
      const prevAssign = prev ? new Map(prev.assign) : undefined;
      const part = assignPartitions(snapshot.jobs, k, seed, prevAssign, stratumOf);
      const clusters = splitCluster(snapshot.cluster, k);
      const jobsOf: PolicyJob[][] = Array.from({ length: k }, () => []);
      // Snapshot order (arrival order) is kept inside each partition; FIFO policies rely on it.
      snapshot.jobs.forEach((job, j) => jobsOf[part[j]!]!.push(job));
      const shares = new Map<RowKey, readonly number[]>();
      const innerStates: unknown[] = [];
      for (let p = 0; p < k; p++) {
        const sub: PolicySnapshot = { ...snapshot, cluster: clusters[p]!, jobs: jobsOf[p]!, state: prev?.inner[p] };
        if (jobsOf[p]!.length === 0) {
          innerStates.push(prev?.inner[p]);
          continue;
        }
        const r = inner.allocate(sub);
        innerStates.push(r.state);
        for (const [key, row] of r.allocation.shares) shares.set(key, row);
      }
      const state: PopState = { kind: 'pop', k, assign: snapshot.jobs.map((job, j) => [job.id, part[j]!] as const), inner: innerStates };
      return { allocation: { gpuTypes: snapshot.cluster.gpuTypes, shares }, state };
    },
  };
}

/** The policy itself for k = 1, else its POP wrapper. */
export function withPartitions(policy: Policy, k: number, opts: PopOptions = {}): Policy {
  if (k === 1 && Number.isInteger(k)) return policy;
  return createPopPolicy(policy, k, opts);
}
