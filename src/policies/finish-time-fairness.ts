import { RondoError } from '../model/errors.js';
import type { LpMethod } from '../solver/index.js';
import type { Problem } from './common.js';
import {
  agnosticReferenceType,
  anyUsable,
  finishAllocation,
  isolatedShares,
  isolatedThroughput,
  makeProblem,
  usableRow,
  zeroShares,
} from './common.js';
import { buildAllocationLp, classSharesOf } from './maxmin.js';
import { classJob, classTerms, expandClasses, groupBy, rowKey } from './common.js';
import type { Classes } from './common.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Finish-time fairness (Themis; Gavel `finish_time_fairness(_perf)`): minimise the largest
 *
 *   rho_j = (now - arrival_j + remaining_j / thr_j(X)) / (isoTime_j + remaining_j / iso_j)
 *
 * where thr_j(X) = sum_k T[j][k] X[j][k], iso_j is the throughput under Gavel's isolated allocation (the cluster
 * split evenly over the m active jobs) and isoTime_j is the time the job would have needed so far in isolation:
 * Gavel accumulates, between calls, `(remaining at the previous call - remaining now) / iso at the previous call`.
 * That bookkeeping is the policy's `state`.
 *
 * rho is not linear, but for a fixed level r the condition rho_j <= r is `thr_j(X) >= remaining_j /
 * (r * E_j - elapsed_j)` (E_j the denominator), a linear constraint. So the optimum is found by bisection on r with
 * an LP feasibility check (simplex), to a relative gap of 1e-6, and the allocation returned is the centre of the
 * feasible region at the optimal r (interior point without crossover, as Gavel's ECOS would return). The agnostic
 * variant uses each job's v100 throughput on every type (Gavel's hard-coded reference).
 */

export interface FtfState {
  readonly kind: 'ftf';
  /** [job id, cumulative isolated time, remaining steps at this call, isolated throughput at this call]. */
  readonly jobs: ReadonlyArray<readonly [string, number, number, number]>;
}

export interface FtfOptions {
  readonly aware: boolean;
  readonly method?: LpMethod;
  /** Relative gap at which the bisection on rho stops. Default 1e-6. */
  readonly tolerance?: number;
}

function readState(raw: unknown): Map<string, { cum: number; rem: number; iso: number }> {
  const out = new Map<string, { cum: number; rem: number; iso: number }>();
  if (raw === undefined) return out;
  const s = raw as FtfState;
  if (!s || s.kind !== 'ftf' || !Array.isArray(s.jobs)) {
    throw new RondoError({ code: 'E_INVALID', problem: 'finish_time_fairness: the state passed back is not a finish-time-fairness state' });
  }
  for (const [id, cum, rem, iso] of s.jobs) out.set(id, { cum, rem, iso });
  return out;
}

interface Ftf {
  p: Problem;
  /** Jobs identical in everything the LP sees share one share vector (identical shares, order-free LP). */
  classes: Classes;
  t: number[][];
  elapsed: number[];
  rem: number[];
  denom: number[];
  inLp: boolean[];
}

/** Shares meeting rho_j <= r for every job in the LP, or undefined. */
function feasibleAt(f: Ftf, r: number, central: boolean, method: LpMethod): number[][] | undefined {
  const { p, t, classes } = f;
  const K = p.types.length;
  const b = buildAllocationLp(p, classes, 'max', false, (j, k) => f.inLp[j]! && t[j]![k]! > 0);
  const idx: number[] = [];
  const val: number[] = [];
  for (let c = 0; c < classes.members.length; c++) {
    const j = classJob(classes, c);
    if (!f.inLp[j] || f.rem[j]! <= 0) continue;
    const slack = r * f.denom[j]! - f.elapsed[j]!;
    if (slack <= 0) return undefined;
    const tj = t[j]!;
    classTerms(b.col, K, c, (k) => tj[k]!, idx, val);
    b.lp.addRow(f.rem[j]! / slack, Infinity, idx, val);
  }
  const res = b.lp.solve(central ? { method, crossover: false } : { method: 'simplex' });
  if (res.status !== 'optimal') return undefined;
  return expandClasses(p, classes, classSharesOf(p, classes, b, res.x));
}

/** Per-job terms of rho (see above) and the state to hand back; shared with the packed variant. */
export interface FtfTerms {
  readonly p: Problem;
  /** Throughput rows the LP uses (v100's on every type for the agnostic variant), unusable cells zeroed. */
  readonly t: number[][];
  readonly elapsed: number[];
  readonly rem: number[];
  readonly denom: number[];
  readonly inLp: boolean[];
  readonly state: FtfState;
}

export function ftfTerms(snapshot: PolicySnapshot, aware: boolean): FtfTerms {
  const p = makeProblem(snapshot);
  const prev = readState(snapshot.state);
  const ref = agnosticReferenceType(p.types);
  const m = p.jobs.length;
  const t = p.jobs.map((job, j) => usableRow(p, j, aware ? job.throughput : job.throughput.map(() => job.throughput[ref]!)));
  const fullRows = p.jobs.map((job) => (aware ? [...job.throughput] : job.throughput.map(() => job.throughput[ref]!)));
  const elapsed: number[] = [];
  const rem: number[] = [];
  const denom: number[] = [];
  const inLp: boolean[] = [];
  const stateJobs: Array<readonly [string, number, number, number]> = [];
  p.jobs.forEach((job, j) => {
    // Gavel's isolated throughput uses the job's full row (it does not know about unusable cells).
    const iso = isolatedThroughput(p.caps, m, job.scaleFactor, fullRows[j]!);
    const before = prev.get(job.id);
    let cum = before?.cum ?? 0;
    if (before && before.iso > 0) cum += (before.rem - job.remainingSteps) / before.iso;
    stateJobs.push([job.id, cum, job.remainingSteps, iso]);
    elapsed.push(Math.max(0, snapshot.now - job.arrivalTime));
    rem.push(job.remainingSteps);
    denom.push(iso > 0 ? cum + job.remainingSteps / iso : 0);
    inLp.push(anyUsable(p, j) && iso > 0 && t[j]!.some((v) => v > 0) && denom[j]! > 0);
  });
  return { p, t, elapsed, rem, denom, inLp, state: { kind: 'ftf', jobs: stateJobs } };
}

/**
 * The smallest rho (to relative `tol`) at which `feasible(rho, false)` finds shares, and the central shares there
 * (`feasible(rho, true)`); undefined when none is found. `lo` is a lower bound on rho.
 */
export function bisectRho<T>(lo: number, feasible: (r: number, central: boolean) => T | undefined, tol: number): { rho: number; shares: T } | undefined {
  // rho must exceed elapsed / denom for every job; start just above that and double until feasible.
  let hi = Math.max(1, lo * 2);
  let shares = feasible(hi, false);
  for (let i = 0; !shares && i < 60; i++) {
    lo = hi;
    hi *= 2;
    shares = feasible(hi, false);
  }
  if (!shares) return undefined;
  while (hi - lo > tol * hi) {
    const mid = (lo + hi) / 2;
    if (feasible(mid, false)) hi = mid;
    else lo = mid;
  }
  shares = feasible(hi, true) ?? feasible(hi, false)!;
  return { rho: hi, shares };
}

export function solveFinishTimeFairness(
  snapshot: PolicySnapshot,
  opts: FtfOptions,
): { shares: number[][]; rho: number; state: FtfState; problem: Problem } {
  const { p, t, elapsed, rem, denom, inLp, state } = ftfTerms(snapshot, opts.aware);
  const m = p.jobs.length;
  const classes = groupBy(m, (j) =>
    inLp[j] ? `${p.jobs[j]!.scaleFactor}|${rem[j]}|${elapsed[j]}|${denom[j]}|${rowKey(t[j]!)}` : `-|${p.usable[j]!.join('')}`,
  );
  const f: Ftf = { p, t, classes, elapsed, rem, denom, inLp };
  const method = opts.method ?? 'ipm';
  if (!inLp.some((x, j) => x && rem[j]! > 0)) {
    return { shares: zeroShares(p), rho: 0, state, problem: p };
  }
  let lo = 0;
  for (let j = 0; j < m; j++) if (inLp[j] && rem[j]! > 0) lo = Math.max(lo, elapsed[j]! / denom[j]!);
  const found = bisectRho(lo, (r, central) => feasibleAt(f, r, central, method), opts.tolerance ?? 1e-6);
  if (!found) {
    // Gavel falls back to the isolated allocation when its solver finds nothing.
    return { shares: p.jobs.map((job) => isolatedShares(p.caps, m, job.scaleFactor)), rho: Infinity, state, problem: p };
  }
  return { shares: found.shares, rho: found.rho, state, problem: p };
}

export function createFinishTimeFairnessPolicy(name: string, aliases: readonly string[], opts: FtfOptions): Policy {
  return {
    meta: {
      name,
      aliases,
      description: opts.aware
        ? 'Finish-time fairness (Themis): minimise the largest ratio of finish time shared to finish time isolated'
        : "Finish-time fairness with every type assumed as fast as the job's v100 throughput (heterogeneity-agnostic)",
      heterogeneityAware: opts.aware,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const r = solveFinishTimeFairness(snapshot, opts);
      return { allocation: finishAllocation(r.problem, r.shares), state: r.state };
    },
  };
}
