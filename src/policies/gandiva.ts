import { RondoError } from '../model/errors.js';
import { colocatedThroughput, jobKey, pairKey, type Allocation, type RowKey, randomStep } from '../model/index.js';
import { usableGpus } from './baseline-common.js';
import { makeProblem, type Problem } from './common.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Gandiva (Xiao et al., OSDI'18), heterogeneity-agnostic: when there are more jobs than GPUs it time-slices them,
 * and it packs jobs onto the same GPUs (space sharing) by trial: a random pair of jobs of the same size is packed,
 * and introspection keeps the pair only if their packed throughputs, each normalised by the job's throughput alone,
 * sum to more than 1; a bad pair is unpacked and not tried again. Migration is what the round mechanism does when a
 * job's GPUs change.
 *
 * Allocation: rows are the single jobs and the kept pairs; each row gets the same time fraction
 * min(1, G / GPUs the rows need), spread over the GPU types in proportion to their counts (agnostic). Packing is
 * only tried when the rows need more GPUs than there are. Pairs, the pairs found bad and the generator's seed travel
 * in `state` (deterministic for a given seed).
 */

export interface GandivaOptions {
  readonly seed?: number;
  /**
   * Emit pair rows for packed jobs (the registered `gandiva`, like Gavel's `Gandiva_Packing`). Off: time slicing and
   * migration only.
   */
  readonly packing?: boolean;
}

export interface GandivaState {
  readonly kind: 'gandiva';
  readonly pairs: ReadonlyArray<readonly [string, string]>;
  readonly rejected: readonly string[];
  readonly rng: number;
}

function readState(raw: unknown): GandivaState | undefined {
  if (raw === undefined) return undefined;
  const s = raw as GandivaState;
  if (s && s.kind === 'gandiva' && Array.isArray(s.pairs)) return s;
  throw new RondoError({ code: 'E_INVALID', problem: 'gandiva: the state passed back is not a gandiva state' });
}

/**
 * Sum over the pair of packed throughput / alone throughput, averaged over the types both may use (weighted by GPU
 * count); undefined when no type has a measurement for the pair.
 */
export function packedGain(snapshot: PolicySnapshot, p: Problem, a: number, b: number): number | undefined {
  const table = snapshot.throughputs;
  if (!table) return undefined;
  const ja = p.jobs[a]!;
  const jb = p.jobs[b]!;
  const ka = jobKey(ja.jobType, ja.scaleFactor);
  const kb = jobKey(jb.jobType, jb.scaleFactor);
  let g = 0;
  let s = 0;
  for (let k = 0; k < p.types.length; k++) {
    if (!p.usable[a]![k] || !p.usable[b]![k]) continue;
    const pair = colocatedThroughput(table, p.types[k]!, ka, kb);
    if (!pair) continue;
    const v = pair[0] / ja.throughput[k]! + pair[1] / jb.throughput[k]!;
    g += p.caps[k]!;
    s += p.caps[k]! * v;
  }
  return g > 0 ? s / g : undefined;
}

export function gandivaAllocate(snapshot: PolicySnapshot, opts: GandivaOptions = {}): PolicyResult {
  const p = makeProblem(snapshot);
  const prev = readState(snapshot.state);
  const idOf = new Map(p.jobs.map((job, j) => [job.id, j] as const));
  const rejected = new Set(prev?.rejected ?? []);
  let rng = prev?.rng ?? (opts.seed ?? 0) >>> 0;
  const paired = new Set<number>();
  const pairs: Array<[number, number]> = [];
  // Introspection of the kept pairs: both still here and still a gain.
  for (const [x, y] of prev?.pairs ?? []) {
    const a = idOf.get(x);
    const b = idOf.get(y);
    if (a === undefined || b === undefined) continue;
    const gain = packedGain(snapshot, p, a, b);
    if (gain === undefined || gain <= 1) {
      rejected.add(pairKey(x, y));
      continue;
    }
    pairs.push([a, b]);
    paired.add(a).add(b);
  }
  const runnable = p.jobs.map((_, j) => j).filter((j) => usableGpus(p, j) > 0);
  const G = p.caps.reduce((s, c) => s + c, 0);
  const need = (): number =>
    runnable.reduce((s, j) => s + (paired.has(j) ? 0 : p.jobs[j]!.scaleFactor), 0) + pairs.reduce((s, [a]) => s + p.jobs[a]!.scaleFactor, 0);
  // Oversubscribed: try packing random same-size pairs (each job at most one trial per call).
  if (opts.packing && need() > G) {
    const free = runnable.filter((j) => !paired.has(j));
    const tried = new Set<number>();
    for (const a of free) {
      if (need() <= G) break;
      if (paired.has(a) || tried.has(a)) continue;
      tried.add(a);
      const cands = free.filter(
        (b) => b !== a && !paired.has(b) && !tried.has(b) && p.jobs[b]!.scaleFactor === p.jobs[a]!.scaleFactor && !rejected.has(pairKey(p.jobs[a]!.id, p.jobs[b]!.id)),
      );
      if (cands.length === 0) continue;
      let u: number;
      [u, rng] = randomStep(rng);
      const b = cands[Math.floor(u * cands.length)]!;
      tried.add(b);
      const gain = packedGain(snapshot, p, a, b);
      if (gain === undefined || gain <= 1) {
        rejected.add(pairKey(p.jobs[a]!.id, p.jobs[b]!.id));
        continue;
      }
      pairs.push([a, b]);
      paired.add(a).add(b);
    }
  }
  const frac = Math.min(1, G / Math.max(1, need()));
  const shares = new Map<RowKey, readonly number[]>();
  const rowOf = (j: number): number[] => {
    const g = usableGpus(p, j);
    return p.types.map((_, k) => (p.usable[j]![k] ? (frac * p.caps[k]!) / g : 0));
  };
  for (const j of runnable) if (!paired.has(j)) shares.set(p.jobs[j]!.id, rowOf(j));
  for (const [a, b] of pairs) {
    // A pair may only use types where both may run.
    const row = rowOf(a).map((v, k) => (p.usable[b]![k] ? v : 0));
    shares.set(pairKey(p.jobs[a]!.id, p.jobs[b]!.id), row);
  }
  // Capacity can be exceeded when rows cannot use every type; scale each type down to fit.
  const used = p.types.map(() => 0);
  for (const [key, row] of shares) {
    const sf = p.jobs[idOf.get(key.split('+')[0]!)!]!.scaleFactor;
    row.forEach((v, k) => (used[k]! += v * sf));
  }
  const scaled = new Map<RowKey, readonly number[]>();
  for (const [key, row] of shares) scaled.set(key, row.map((v, k) => (used[k]! > p.caps[k]! ? (v * p.caps[k]!) / used[k]! : v)));
  const allocation: Allocation = { gpuTypes: p.types, shares: scaled };
  const state: GandivaState = {
    kind: 'gandiva',
    pairs: pairs.map(([a, b]) => [p.jobs[a]!.id, p.jobs[b]!.id] as const),
    rejected: [...rejected].filter((k) => k.split('+').every((id) => idOf.has(id))).sort(),
    rng,
  };
  return { allocation, state };
}

export function createGandivaPolicy(name: string, aliases: readonly string[], opts: GandivaOptions = {}): Policy {
  return {
    meta: {
      name,
      aliases,
      description: opts.packing
        ? 'Gandiva: time slicing with introspective packing (keep a packed pair only if it gains) and migration'
        : 'Gandiva: time slicing of oversubscribed GPUs and migration, without packing',
      heterogeneityAware: false,
      spaceSharing: !!opts.packing,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      return gandivaAllocate(snapshot, opts);
    },
  };
}
