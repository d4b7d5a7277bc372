import { RondoError } from '../model/errors.js';
import type { Problem } from './common.js';
import { anyUsable, finishAllocation, makeProblem, zeroShares } from './common.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';
import { randomStep } from '../model/random.js';

/**
 * FIFO, as Gavel's FIFOPolicy: jobs in arrival order get whole GPUs (share 1.0 on one type) while GPUs are free;
 * the first job that fits nowhere stops the queue (no job jumps ahead).
 *
 * - `fifo_perf`: recomputed from scratch on every call; each job takes the free type where it runs fastest (ties:
 *   the alphabetically first type, Gavel's sorted worker types).
 * - `fifo` (base mode) keeps its assignments between calls (in `state`): a queued job inherits the type of a job
 *   that completed, and a new job is given a type chosen at random among those with room. Gavel's code draws that
 *   random index but then assigns the job the type left in a stale loop variable: the last GPU type of the
 *   scheduler's cluster spec (with Gavel's sorted worker types, v100 for k80/p100/v100), even when it has no room.
 *   We reproduce that (`gavelQuirk`, default on) so that simulations match Gavel's reference runs; with it off the
 *   drawn type is used. The draw uses a seeded generator kept in `state` (Gavel seeds Python's `random` with 0; the
 *   drawn index only decides which type leaves the candidate list, not where jobs go).
 *
 * Jobs that can run nowhere (no usable type) are skipped rather than blocking the queue forever.
 */

export interface FifoState {
  readonly kind: 'fifo-base';
  /** Job id -> GPU type, for jobs holding GPUs. */
  readonly assigned: ReadonlyArray<readonly [string, string]>;
  readonly rng: number;
}

function sortedTypeIdx(p: Problem): number[] {
  return p.types.map((_, k) => k).sort((x, y) => (p.types[x]! < p.types[y]! ? -1 : p.types[x]! > p.types[y]! ? 1 : 0));
}

export function fifoPerf(p: Problem): number[][] {
  const shares = zeroShares(p);
  const avail = [...p.caps];
  let open = sortedTypeIdx(p).filter((k) => avail[k]! > 0);
  for (let j = 0; j < p.jobs.length && open.length > 0; j++) {
    if (!anyUsable(p, j)) continue;
    const job = p.jobs[j]!;
    let best = -1;
    for (const k of open) {
      if (!p.usable[j]![k] || avail[k]! < job.scaleFactor) continue;
      if (best < 0 || job.throughput[k]! > job.throughput[best]!) best = k;
    }
    if (best < 0) break;
    shares[j]![best] = 1;
    avail[best] = avail[best]! - job.scaleFactor;
    if (avail[best] === 0) open = open.filter((k) => k !== best);
  }
  return shares;
}

function readState(raw: unknown): FifoState | undefined {
  if (raw === undefined) return undefined;
  const s = raw as FifoState;
  if (s && s.kind === 'fifo-base' && Array.isArray(s.assigned)) return s;
  throw new RondoError({ code: 'E_INVALID', problem: 'fifo: the state passed back is not a fifo state' });
}

function fifoBase(p: Problem, prev: FifoState | undefined, gavelQuirk: boolean, seed: number): { shares: number[][]; state: FifoState } {
  const idOf = new Map<string, number>();
  p.jobs.forEach((job, j) => idOf.set(job.id, j));
  const typeIdx = new Map<string, number>();
  p.types.forEach((t, k) => typeIdx.set(t, k));
  let rng = prev?.rng ?? seed >>> 0;
  const assigned = new Map<string, number>();
  for (const [id, t] of prev?.assigned ?? []) {
    const k = typeIdx.get(t);
    if (k !== undefined) assigned.set(id, k);
  }
  const avail = [...p.caps];
  const queue: number[] = [];
  for (let j = 0; j < p.jobs.length; j++) if (!assigned.has(p.jobs[j]!.id) && anyUsable(p, j)) queue.push(j);
  // Completed jobs hand their type to the head of the queue (if it fits there); running jobs hold their GPUs.
  const ids = [...assigned.keys()].sort();
  for (const id of ids) {
    const k = assigned.get(id)!;
    const j = idOf.get(id);
    if (j === undefined) {
      if (queue.length > 0) {
        const next = queue.shift()!;
        const sf = p.jobs[next]!.scaleFactor;
        if (sf <= avail[k]! && p.usable[next]![k]) {
          assigned.set(p.jobs[next]!.id, k);
          avail[k] = avail[k]! - sf;
        }
      }
      assigned.delete(id);
    } else {
      avail[k] = avail[k]! - p.jobs[j]!.scaleFactor;
    }
  }
  let open = sortedTypeIdx(p).filter((k) => avail[k]! > 0);
  // Gavel's stale loop variable: the last type of its cluster spec, whose worker types are kept sorted.
  const stale = sortedTypeIdx(p).at(-1)!;
  while (queue.length > 0 && open.length > 0) {
    const j = queue.shift()!;
    const sf = p.jobs[j]!.scaleFactor;
    const cands = open.filter((k) => avail[k]! >= sf && (gavelQuirk || p.usable[j]![k]));
    if (cands.length === 0) break;
    let u: number;
    [u, rng] = randomStep(rng);
    const drawn = Math.floor(u * cands.length);
    const k = gavelQuirk ? stale : cands[drawn]!;
    assigned.set(p.jobs[j]!.id, k);
    avail[k] = avail[k]! - sf;
    if (avail[k] === 0) {
      const popped = cands[drawn]!;
      open = open.filter((x) => x !== popped);
    }
  }
  const shares = zeroShares(p);
  for (const [id, k] of assigned) {
    const j = idOf.get(id)!;
    // A job Gavel places on a type where it cannot run gets no time there (Rondo's constraint); it stays queued.
    if (p.usable[j]![k]) shares[j]![k] = 1;
  }
  const list = [...assigned.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1)).map(([id, k]) => [id, p.types[k]!] as const);
  return { shares, state: { kind: 'fifo-base', assigned: list, rng } };
}

export interface FifoOptions {
  readonly mode: 'base' | 'perf';
  readonly gavelQuirk?: boolean;
  readonly seed?: number;
}

export function createFifoPolicy(name: string, aliases: readonly string[], opts: FifoOptions): Policy {
  return {
    meta: {
      name,
      aliases,
      description:
        opts.mode === 'perf'
          ? 'FIFO: jobs in arrival order get whole GPUs of the free type where they run fastest'
          : "FIFO: jobs in arrival order keep whole GPUs between calls; type as Gavel's base FIFO picks it",
      heterogeneityAware: opts.mode === 'perf',
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
      onlyAllocatedRowsRun: true,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const p = makeProblem(snapshot);
      if (opts.mode === 'perf') return { allocation: finishAllocation(p, fifoPerf(p)) };
      const { shares, state } = fifoBase(p, readState(snapshot.state), opts.gavelQuirk ?? true, opts.seed ?? 0);
      return { allocation: finishAllocation(p, shares), state };
    },
  };
}
