import { RondoError } from '../model/errors.js';
import { LpBuilder } from '../solver/index.js';
import { byId, poolRate, usableGpus } from './baseline-common.js';
import { finishAllocation, makeProblem, solverFailure, zeroShares, type Problem } from './common.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Themis (Mahajan et al., NSDI'20): finish-time fairness through auctions. A job's rho is its projected finish
 * time sharing the cluster over its finish time alone on an equal 1/n share. On every call (Themis: every lease
 * expiry) only the GPUs not held by the others are auctioned, and only among the (1 - f) fraction of jobs with the
 * worst rho (f is Themis' fairness knob). The auction is the Partial Allocation mechanism: the allocation maximising
 * the product of the bidders' valuations (here 1/rho, concave in the time fraction x: maximised as a sum of logs
 * with tangent cuts, an LP), each bidder then keeping the fraction prod_{others} v(x*) / prod_{others} v(x*_-i) of
 * its share (what its presence costs the others), which makes truthful bids optimal. What the auction leaves is
 * handed to the other jobs, worst rho first (work conservation). Heterogeneity-agnostic: a job's fraction is spread
 * over GPU types in proportion to their counts; allocations (leases) travel in `state`.
 *
 * For an LP-only finish-time-fairness policy see `finish_time_fairness` (Gavel's formulation: minimise the largest
 * rho over the whole cluster at once). The auction differs in that non-bidders keep their leases, so one call moves
 * at most the auctioned part of the cluster.
 */

export interface ThemisOptions {
  /** Fairness knob f: the worst (1 - f) fraction of jobs bid (default 0.8). */
  readonly fairnessKnob?: number;
}

export interface ThemisState {
  readonly kind: 'themis';
  /** Job id -> time fraction it holds. */
  readonly leases: ReadonlyArray<readonly [string, number]>;
}

const GRID = [0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

function readState(raw: unknown): ThemisState | undefined {
  if (raw === undefined) return undefined;
  const s = raw as ThemisState;
  if (s && s.kind === 'themis' && Array.isArray(s.leases)) return s;
  throw new RondoError({ code: 'E_INVALID', problem: 'themis: the state passed back is not a themis state' });
}

/** rho(x) = (elapsed + R / x) / ideal, with R the remaining time at full speed; x = 0 gives Infinity. */
export interface RhoModel {
  readonly elapsed: number;
  readonly remaining: number;
  readonly ideal: number;
}

export function rhoAt(m: RhoModel, x: number): number {
  return x > 0 ? (m.elapsed + m.remaining / x) / m.ideal : Infinity;
}

/** log(1/rho(x)) = log(ideal x) - log(elapsed x + R). */
function logValue(m: RhoModel, x: number): [number] {
  return [Math.log(m.ideal * x) - Math.log(m.elapsed * x + m.remaining)];
}

/** Maximises sum_i log(1/rho_i(x_i)) s.t. sum_i s_i x_i <= cap, x_i in [0, 1]; returns x. */
export function nashAuction(models: readonly RhoModel[], scale: readonly number[], cap: number): Float64Array {
  const n = models.length;
  const x = new Float64Array(n);
  if (n === 0 || cap <= 0) return x;
  const lp = new LpBuilder('max');
  const xs: number[] = [];
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    xs.push(lp.addVar({ lb: 0, ub: 1 }));
    us.push(lp.addVar({ lb: -1e4, ub: Infinity, cost: 1 }));
    // Chords between grid points (an under-estimate of the concave log value, exact at the grid): with tangents the
    // optimum would be flat between tangent points and the split between equal bidders arbitrary.
    for (let g = 0; g + 1 < GRID.length; g++) {
      const [v0] = logValue(models[i]!, GRID[g]!);
      const [v1] = logValue(models[i]!, GRID[g + 1]!);
      const slope = (v1 - v0) / (GRID[g + 1]! - GRID[g]!);
      // u <= v0 + slope (x - g0)
      lp.addRow(-Infinity, v0 - slope * GRID[g]!, [us[i]!, xs[i]!], [1, -slope]);
    }
  }
  lp.addRow(-Infinity, cap, xs, scale);
  const res = lp.solve({ method: 'simplex' });
  if (res.status !== 'optimal') throw solverFailure('themis', res.status, res.message);
  for (let i = 0; i < n; i++) x[i] = Math.min(1, Math.max(0, res.x[xs[i]!]!));
  return x;
}

function product(models: readonly RhoModel[], x: ArrayLike<number>, skip: number): number {
  // In logs: the product of 1/rho over everyone but `skip`.
  let s = 0;
  for (let i = 0; i < models.length; i++) if (i !== skip) s += x[i]! > 0 ? logValue(models[i]!, x[i]!)[0] : -1e4;
  return s;
}

/** Partial Allocation: the auction's shares scaled by each bidder's c_i. */
export function partialAllocation(models: readonly RhoModel[], scale: readonly number[], cap: number): Float64Array {
  const x = nashAuction(models, scale, cap);
  const out = new Float64Array(models.length);
  for (let i = 0; i < models.length; i++) {
    const others = models.filter((_, j) => j !== i);
    const xo = nashAuction(others, scale.filter((_, j) => j !== i), cap);
    const withI = product(models, x, i);
    const withoutI = product(others, xo, -1);
    const c = Math.min(1, Math.exp(withI - withoutI));
    out[i] = x[i]! * c;
  }
  return out;
}

export function themisFractions(p: Problem, now: number, prev: ThemisState | undefined, knob: number): Map<string, number> {
  const runnable = p.jobs.map((_, j) => j).filter((j) => usableGpus(p, j) > 0 && poolRate(p, j) > 0);
  const n = runnable.length;
  const G = p.caps.reduce((a, b) => a + b, 0);
  const held = new Map(prev?.leases ?? []);
  const model = (j: number): RhoModel => {
    const job = p.jobs[j]!;
    const r = poolRate(p, j);
    const equal = Math.min(1, G / (n * job.scaleFactor));
    return { elapsed: Math.max(0, now - job.arrivalTime), remaining: job.remainingSteps / r, ideal: job.totalSteps / r / equal };
  };
  const rho = (j: number): number => rhoAt(model(j), held.get(p.jobs[j]!.id) ?? 0);
  const byRho = [...runnable].sort((a, b) => rho(b) - rho(a) || a - b);
  const bidders = byRho.slice(0, Math.max(1, Math.ceil((1 - knob) * n)));
  const bidSet = new Set(bidders);
  const out = new Map<string, number>();
  let used = 0;
  for (const j of runnable) {
    if (bidSet.has(j)) continue;
    const x = held.get(p.jobs[j]!.id) ?? 0;
    if (x > 0) {
      out.set(p.jobs[j]!.id, x);
      used += x * p.jobs[j]!.scaleFactor;
    }
  }
  let cap = Math.max(0, G - used);
  const won = partialAllocation(bidders.map(model), bidders.map((j) => p.jobs[j]!.scaleFactor), cap);
  bidders.forEach((j, i) => {
    if (won[i]! > 1e-9) out.set(p.jobs[j]!.id, won[i]!);
    cap -= won[i]! * p.jobs[j]!.scaleFactor;
  });
  // Leftovers to everyone below a full share, worst rho first.
  for (const j of byRho) {
    if (cap <= 1e-9) break;
    const id = p.jobs[j]!.id;
    const x = out.get(id) ?? 0;
    const add = Math.min(1 - x, cap / p.jobs[j]!.scaleFactor);
    if (add > 1e-9) {
      out.set(id, x + add);
      cap -= add * p.jobs[j]!.scaleFactor;
    }
  }
  return out;
}

export function createThemisPolicy(name: string, aliases: readonly string[], opts: ThemisOptions = {}): Policy {
  const knob = opts.fairnessKnob ?? 0.8;
  if (!(knob >= 0 && knob < 1)) throw new RondoError({ code: 'E_USAGE', problem: 'themis: fairness knob must be in [0, 1)', found: String(knob) });
  return {
    meta: {
      name,
      aliases,
      description: 'Themis: finish-time fairness by partial-allocation auctions among the worst-rho jobs',
      heterogeneityAware: false,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const p = makeProblem(snapshot);
      const fr = themisFractions(p, snapshot.now, readState(snapshot.state), knob);
      const shares = zeroShares(p);
      p.jobs.forEach((job, j) => {
        const x = fr.get(job.id) ?? 0;
        if (!(x > 0)) return;
        const g = usableGpus(p, j);
        for (let k = 0; k < p.types.length; k++) if (p.usable[j]![k]) shares[j]![k] = (x * p.caps[k]!) / g;
      });
      return { allocation: finishAllocation(p, shares), state: { kind: 'themis', leases: byId(fr) } satisfies ThemisState };
    },
  };
}
