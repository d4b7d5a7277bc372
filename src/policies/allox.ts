import { LpBuilder } from '../solver/index.js';
import { anyUsable, finishAllocation, makeProblem, solverFailure, zeroShares, type Problem } from './common.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * AlloX (Le et al., EuroSys'20): minimise the sum of completion times by matching jobs to (GPU type, queue
 * position) slots. A job placed p-th from the end of a queue on type k delays itself and the p - 1 jobs behind it by
 * its processing time there, so the slot costs p x (remaining steps / throughput on k). AlloX solves this as a
 * min-cost bipartite matching over individual machines. GPUs of one type are interchangeable, so here a slot is
 * (type k, layer p) with room for `gpus_k` GPUs, and a gang of s GPUs fills s of them: with single-GPU jobs this is a
 * transportation problem whose LP has integral vertices (the matching); with gangs we solve it as a MILP (HiGHS,
 * through src/solver). The jobs of the deepest occupied layers (the ones with the most jobs behind them, i.e. the
 * first to run) get whole GPUs now, shortest first within a layer.
 */

export interface AlloxOptions {
  /** MILP time limit in seconds. */
  readonly timeLimit?: number;
}

export interface AlloxPlan {
  /** Per job: [type index, layer] (layer 1 = last in its queue), or undefined when the job was not matched. */
  readonly slot: ReadonlyArray<readonly [number, number] | undefined>;
}

export function alloxMatch(p: Problem, opts: AlloxOptions = {}): AlloxPlan {
  const n = p.jobs.length;
  const K = p.types.length;
  const jobs = p.jobs.map((_, j) => j).filter((j) => anyUsable(p, j));
  const gangs = jobs.some((j) => p.jobs[j]!.scaleFactor > 1);
  // Layers per type: enough that every job could be queued on its own type alone.
  const layers = p.caps.map((c) => (c > 0 ? Math.max(1, Math.ceil(jobs.reduce((s, j) => s + p.jobs[j]!.scaleFactor, 0) / c)) : 0));
  const lp = new LpBuilder('min');
  const cols: Array<Array<{ k: number; layer: number; col: number }>> = p.jobs.map(() => []);
  for (const j of jobs) {
    const job = p.jobs[j]!;
    for (let k = 0; k < K; k++) {
      if (!p.usable[j]![k]) continue;
      const t = job.remainingSteps / job.throughput[k]!;
      for (let layer = 1; layer <= layers[k]!; layer++) {
        cols[j]!.push({ k, layer, col: lp.addVar({ lb: 0, ub: 1, cost: layer * t, integer: gangs }) });
      }
    }
    lp.addRow(1, 1, cols[j]!.map((c) => c.col), cols[j]!.map(() => 1));
  }
  for (let k = 0; k < K; k++) {
    for (let layer = 1; layer <= layers[k]!; layer++) {
      const idx: number[] = [];
      const val: number[] = [];
      for (const j of jobs) {
        const c = cols[j]!.find((x) => x.k === k && x.layer === layer);
        if (c) {
          idx.push(c.col);
          val.push(p.jobs[j]!.scaleFactor);
        }
      }
      if (idx.length > 0) lp.addRow(-Infinity, p.caps[k]!, idx, val);
    }
  }
  const res = lp.solve(gangs ? { mipGap: 1e-4, timeLimit: opts.timeLimit ?? 10 } : { method: 'simplex' });
  if (res.status !== 'optimal' && !(res.status === 'time_limit' && Number.isFinite(res.objective))) {
    throw solverFailure('allox', res.status, res.message);
  }
  const slot: Array<readonly [number, number] | undefined> = new Array(n).fill(undefined);
  for (const j of jobs) {
    // Pick the largest value (1 at an integral vertex).
    let best: { k: number; layer: number; v: number } | undefined;
    for (const c of cols[j]!) {
      const v = res.x[c.col]!;
      if (!best || v > best.v + 1e-9) best = { k: c.k, layer: c.layer, v };
    }
    if (best && best.v > 1e-6) slot[j] = [best.k, best.layer];
  }
  return { slot };
}

export function alloxShares(p: Problem, plan: AlloxPlan): number[][] {
  const shares = zeroShares(p);
  const avail = [...p.caps];
  const order = p.jobs
    .map((job, j) => ({ j, s: plan.slot[j] }))
    .filter((x): x is { j: number; s: readonly [number, number] } => x.s !== undefined)
    .map(({ j, s }) => ({ j, k: s[0], layer: s[1], t: p.jobs[j]!.remainingSteps / p.jobs[j]!.throughput[s[0]]! }))
    .sort((a, b) => b.layer - a.layer || a.t - b.t || a.j - b.j);
  for (const { j, k } of order) {
    const sf = p.jobs[j]!.scaleFactor;
    if (avail[k]! < sf) continue;
    shares[j]![k] = 1;
    avail[k] = avail[k]! - sf;
  }
  return shares;
}

export function createAlloxPolicy(name: string, aliases: readonly string[], opts: AlloxOptions = {}): Policy {
  return {
    meta: {
      name,
      aliases,
      description: 'AlloX: min-cost matching of jobs to (GPU type, queue position) slots; minimises total completion time',
      heterogeneityAware: true,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const p = makeProblem(snapshot);
      return { allocation: finishAllocation(p, alloxShares(p, alloxMatch(p, opts))) };
    },
  };
}
