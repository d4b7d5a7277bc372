import { RondoError } from '../model/errors.js';
import { LpBuilder } from '../solver/index.js';
import { finishAllocation, makeProblem, solverFailure, zeroShares, type Problem } from './common.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Shockwave (Zheng et al., NSDI'23): plan a window of future rounds that trades efficiency (Nash social welfare of
 * the jobs' normalised progress, and the largest remaining time) against finish-time fairness (every job's
 * projected finish time within `rhoMax` of its fair finish time under an equal 1/n share).
 *
 * Per call, with W rounds of D seconds ahead, job j with remaining time R_j (at its current throughput), progress
 * c_j = done/total and scale s_j:
 *   maximise   sum_j w_j u_j / (n W)  -  k M
 *   subject to y_j in [0, min(W, R_j / D)]              rounds j runs in the window
 *              sum_j s_j y_j <= G W                      GPU-rounds of the window
 *              u_j <= piecewise-linear log(c_j + y_j D (1 - c_j) / R_j)   (concave: tangent cuts, no binaries)
 *              M >= R_j - y_j D                          the longest remaining time after the window
 *              now + W D + (R_j - y_j D) / share <= rhoMax * F_j   (finish-time fairness, F_j below)
 * If the fairness rows make it infeasible they are dropped and jobs projected above rhoMax get their utility
 * weighted by rho^lambda instead (Shockwave's fallback). F_j is Shockwave's fair finish time: arrival + (time run so
 * far + remaining time) / min(1, G/n), re-estimated whenever n changes, smoothed by a time-weighted average with
 * momentum 0.9 (kept in `state`).
 *
 * Shockwave solves the window as a MILP (one binary per job and round) with Gurobi. Here y_j is the LP relaxation
 * of sum_r x_jr and the allocation is the planned fraction y_j / W of the window; the round mechanism does the
 * rounding (it runs whole jobs each round in order of planned share over received share). `integral: true` solves
 * the per-round binary MILP with HiGHS instead (relative gap and time limit as Shockwave's: 1e-3, 15 s) and uses
 * its window fractions, which are then whole multiples of 1/W.
 */

export interface ShockwaveOptions {
  /** Rounds planned ahead (Shockwave: 20). */
  readonly windowRounds?: number;
  /** Seconds per round the plan assumes (Shockwave's canonical TACC setup: 120). */
  readonly roundSeconds?: number;
  /** Weight of the largest remaining time (seconds) against welfare (Shockwave: 1e-3). */
  readonly k?: number;
  /** Exponent of the priority of unfairly treated jobs when fairness rows are relaxed (Shockwave: 12). */
  readonly lambda?: number;
  /** Finish-time fairness bound (1: no job later than its fair finish time). */
  readonly rhoMax?: number;
  /**
   * Equal share of a gang of s GPUs: min(1, G / (n s)) (default; the variant Shockwave's code leaves commented
   * out, and what Rondo's rho metric uses). false: Shockwave's min(1, G / n) for every job.
   */
  readonly shareByScale?: boolean;
  /** Solve the per-round binary MILP instead of its relaxation. */
  readonly integral?: boolean;
  readonly mipGap?: number;
  readonly timeLimit?: number;
}

interface JobHistory {
  /** [time, fair finish estimate] each time the estimate was renewed. */
  readonly series: ReadonlyArray<readonly [number, number]>;
}

export interface ShockwaveState {
  readonly kind: 'shockwave';
  readonly jobs: ReadonlyArray<readonly [string, JobHistory]>;
  /** Number of jobs at the last call: estimates are renewed when it changes. */
  readonly lastN: number;
  /** Calls so far, and calls whose fairness rows were infeasible (relaxed). */
  readonly calls?: number;
  readonly relaxed?: number;
}

const LOG_BASES = [0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0];
/** log is -inf at 0; Shockwave anchors the first breakpoint at a small positive origin. */
const LOG_ORIGIN = 1e-3;
const MAX_PRIORITY = 1e6;

function readState(raw: unknown): ShockwaveState | undefined {
  if (raw === undefined) return undefined;
  const s = raw as ShockwaveState;
  if (s && s.kind === 'shockwave' && Array.isArray(s.jobs)) return s;
  throw new RondoError({ code: 'E_INVALID', problem: 'shockwave: the state passed back is not a shockwave state' });
}

/** Time-weighted average of a fair-finish series up to `now`, with momentum towards the latest value. */
export function momentumAverage(series: ReadonlyArray<readonly [number, number]>, now: number, momentum = 0.9): number {
  const last = series.at(-1)![1];
  let span = 0;
  let acc = 0;
  for (let i = 0; i < series.length; i++) {
    const until = i + 1 < series.length ? series[i + 1]![0] : now;
    const w = Math.max(0, until - series[i]![0]);
    span += w;
    acc += w * series[i]![1];
  }
  const avg = span > 0 ? acc / span : last;
  return momentum * avg + (1 - momentum) * last;
}

/** Capacity-weighted mean of a job's usable throughputs: Shockwave plans a homogeneous pool of G GPUs. */
function poolRate(p: Problem, j: number): number {
  let g = 0;
  let s = 0;
  for (let k = 0; k < p.types.length; k++) {
    if (!p.usable[j]![k]) continue;
    g += p.caps[k]!;
    s += p.caps[k]! * p.jobs[j]!.throughput[k]!;
  }
  return g > 0 ? s / g : 0;
}

interface Plan {
  readonly y: Float64Array;
}

function logSegments(): Array<{ b: number; v: number; slope: number }> {
  const v = LOG_BASES.map((b) => Math.log(b === 0 ? LOG_ORIGIN : b));
  const segs: Array<{ b: number; v: number; slope: number }> = [];
  for (let i = 0; i + 1 < LOG_BASES.length; i++) {
    segs.push({ b: LOG_BASES[i]!, v: v[i]!, slope: (v[i + 1]! - v[i]!) / (LOG_BASES[i + 1]! - LOG_BASES[i]!) });
  }
  return segs;
}

const SEGMENTS = logSegments();

interface PlanInput {
  readonly n: number;
  readonly G: number;
  readonly W: number;
  readonly D: number;
  readonly k: number;
  readonly scale: readonly number[];
  readonly remaining: readonly number[];
  /** Rounds each job can use in the window: min(W, R / D), rounded up for the MILP (a last partial round). */
  readonly usable: readonly number[];
  readonly progress: readonly number[];
  readonly weight: readonly number[];
  /** Per-job least rounds in the window from the fairness rows (0 = no row). */
  readonly minRounds?: readonly number[];
  readonly integral: boolean;
  readonly mipGap: number;
  readonly timeLimit: number;
}

function solvePlan(inp: PlanInput): Plan | undefined {
  const { n, G, W, D, k } = inp;
  const lp = new LpBuilder('max', { cols: inp.integral ? n * (W + 2) + 1 : 2 * n + 1, rows: n * (SEGMENTS.length + 3) + W + 1 });
  const M = lp.addVar({ lb: 0, cost: -k });
  const y: number[] = [];
  const u: number[] = [];
  const x: number[][] = [];
  for (let j = 0; j < n; j++) {
    const cap = inp.usable[j]!;
    y.push(lp.addVar({ lb: 0, ub: cap }));
    u.push(lp.addVar({ lb: -1e3, ub: 0, cost: inp.weight[j]! / (n * W) }));
    if (inp.integral) x.push(Array.from({ length: W }, () => lp.addVar({ lb: 0, ub: 1, integer: true })));
  }
  const capIdx: number[] = [];
  const capVal: number[] = [];
  for (let j = 0; j < n; j++) {
    capIdx.push(y[j]!);
    capVal.push(inp.scale[j]!);
    // Progress after the window: c + y D (1 - c) / R (a job's remaining work is R seconds of running).
    const c = inp.progress[j]!;
    const dP = inp.remaining[j]! > 0 ? (D * (1 - c)) / inp.remaining[j]! : 0;
    for (const s of SEGMENTS) {
      // u <= v + slope (c + dP y - b)  <=>  u - slope dP y <= v + slope (c - b)
      lp.addRow(-Infinity, s.v + s.slope * (c - s.b), [u[j]!, y[j]!], [1, -s.slope * dP]);
    }
    // M >= R - y D
    lp.addRow(inp.remaining[j]!, Infinity, [M, y[j]!], [1, D]);
    const least = inp.minRounds?.[j] ?? 0;
    if (least > 0) lp.addRow(least, Infinity, [y[j]!], [1]);
    if (inp.integral) {
      // y = sum_r x_jr: in the MILP y is the number of rounds the job runs in the window.
      lp.addRow(0, 0, [y[j]!, ...x[j]!], [1, ...x[j]!.map(() => -1)]);
    }
  }
  if (inp.integral) {
    for (let r = 0; r < W; r++) {
      lp.addRow(-Infinity, G, x.map((row) => row[r]!), inp.scale);
    }
  } else {
    lp.addRow(-Infinity, G * W, capIdx, capVal);
  }
  const res = lp.solve(
    inp.integral ? { mipGap: inp.mipGap, timeLimit: inp.timeLimit } : { method: 'simplex', timeLimit: inp.timeLimit },
  );
  if (res.status === 'infeasible') return undefined;
  if (res.status !== 'optimal' && !(res.status === 'time_limit' && Number.isFinite(res.objective))) {
    throw solverFailure('shockwave', res.status, res.message);
  }
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) out[j] = Math.max(0, res.x[y[j]!]!);
  return { y: out };
}

export function shockwaveAllocate(snapshot: PolicySnapshot, opts: ShockwaveOptions = {}): PolicyResult {
  const W = opts.windowRounds ?? 20;
  const D = opts.roundSeconds ?? 120;
  const k = opts.k ?? 1e-3;
  const lambda = opts.lambda ?? 12;
  const rhoMax = opts.rhoMax ?? 1;
  const p = makeProblem(snapshot);
  const prev = readState(snapshot.state);
  const hist = new Map<string, JobHistory>(prev?.jobs ?? []);
  const now = snapshot.now;
  // Jobs that can run somewhere; the others get nothing (and no history).
  const idx: number[] = [];
  p.jobs.forEach((_, j) => {
    if (poolRate(p, j) > 0) idx.push(j);
  });
  const n = idx.length;
  const G = p.caps.reduce((a, b) => a + b, 0);
  const shares = zeroShares(p);
  if (n === 0 || G === 0) {
    return { allocation: finishAllocation(p, shares), state: { kind: 'shockwave', jobs: [], lastN: 0, calls: (prev?.calls ?? 0) + 1, relaxed: prev?.relaxed ?? 0 } satisfies ShockwaveState };
  }
  const shareOf = (sf: number): number => Math.min(1, G / (n * (opts.shareByScale === false ? 1 : sf)));
  const renew = prev === undefined || prev.lastN !== n;
  const remaining: number[] = [];
  const progress: number[] = [];
  const scale: number[] = [];
  const target: number[] = [];
  const share: number[] = [];
  const nextHist = new Map<string, JobHistory>();
  for (const j of idx) {
    const job = p.jobs[j]!;
    const rate = poolRate(p, j);
    const R = job.remainingSteps / rate;
    const ran = (job.totalSteps - job.remainingSteps) / rate;
    remaining.push(R);
    progress.push(job.totalSteps > 0 ? 1 - job.remainingSteps / job.totalSteps : 1);
    scale.push(job.scaleFactor);
    share.push(shareOf(job.scaleFactor));
    const old = hist.get(job.id);
    let series = old?.series ?? [];
    if (renew || !old) series = [...series, [now, job.arrivalTime + (ran + R) / share.at(-1)!] as const];
    nextHist.set(job.id, { series });
    target.push(momentumAverage(series, now));
  }
  const horizon = now + W * D;
  // Fairness rows, per job. A job that cannot finish in the window must end it with at most
  // (rhoMax F - horizon) share seconds of work left (Shockwave's row). A job that can finish in the window runs as
  // early as its plan allows, so its row asks for its whole remaining work when now + R <= rhoMax F. A job that
  // cannot meet its bound whatever the plan gets no row and Shockwave's priority rho^lambda on its welfare instead
  // (Shockwave drops every row in that case; see docs/baselines.md).
  const priority = (i: number): number => {
    const rho = (now + remaining[i]! / share[i]!) / target[i]!;
    if (!(rho > rhoMax)) return 1;
    // Shockwave gives jobs about to finish (less than a round left) a far larger exponent; capped for the solver.
    return Math.min(MAX_PRIORITY, rho ** (remaining[i]! < D ? 100 : lambda));
  };
  const usable = remaining.map((R) => Math.min(W, opts.integral ? Math.ceil(R / D - 1e-9) : R / D));
  const minRounds: number[] = [];
  const weight: number[] = [];
  for (let i = 0; i < n; i++) {
    const R = remaining[i]!;
    const bound = rhoMax * target[i]!;
    let least: number | undefined;
    if (R <= W * D) least = now + R <= bound ? usable[i]! : undefined;
    else {
      const need = R - (bound - horizon) * share[i]!;
      least = need <= 0 ? 0 : need <= W * D ? Math.min(W, opts.integral ? Math.ceil(need / D - 1e-9) : need / D) : undefined;
    }
    minRounds.push(least ?? 0);
    weight.push(least === undefined ? priority(i) : 1);
  }
  const base = {
    n, G, W, D, k, scale, remaining, usable, progress, integral: !!opts.integral,
    mipGap: opts.mipGap ?? 1e-3, timeLimit: opts.timeLimit ?? 15,
  };
  let plan = solvePlan({ ...base, weight, minRounds });
  const relaxed = !plan;
  if (!plan) {
    // The rows together do not fit the window: drop them all and prioritise every late job (Shockwave's fallback).
    plan = solvePlan({ ...base, weight: idx.map((_, i) => priority(i)) });
    if (!plan) throw solverFailure('shockwave', 'infeasible');
  }
  idx.forEach((j, i) => {
    // Share = planned rounds over the rounds the job could use in the window: a job planned to finish inside the
    // window runs now (the plan's order within the window is free, and finishing early only helps).
    const frac = Math.min(1, plan.y[i]! / usable[i]!);
    if (!(frac > 0)) return;
    // Spread the planned time over the types the job may use, in proportion to their GPUs.
    let g = 0;
    for (let kk = 0; kk < p.types.length; kk++) if (p.usable[j]![kk]) g += p.caps[kk]!;
    for (let kk = 0; kk < p.types.length; kk++) if (p.usable[j]![kk]) shares[j]![kk] = (frac * p.caps[kk]!) / g;
  });
  const state: ShockwaveState = {
    kind: 'shockwave',
    jobs: [...nextHist.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
    lastN: n,
    calls: (prev?.calls ?? 0) + 1,
    relaxed: (prev?.relaxed ?? 0) + (relaxed ? 1 : 0),
  };
  return { allocation: finishAllocation(p, shares), state };
}

export function createShockwavePolicy(name: string, aliases: readonly string[], opts: ShockwaveOptions = {}): Policy {
  return {
    meta: {
      name,
      aliases,
      description: 'Shockwave: window planner trading Nash welfare and makespan against finish-time fairness',
      heterogeneityAware: false,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      return shockwaveAllocate(snapshot, opts);
    },
  };
}
