import type { LpMethod } from '../solver/index.js';
import type { Classes, Problem } from './common.js';
import { anyUsable, finishAllocation, groupBy, makeProblem, proportionalThroughput, singletons, usableRow, zeroShares } from './common.js';
import { solveMaxMin } from './maxmin.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * LAS / max-min fairness (Gavel `max_min_fairness(_perf)`):
 *
 *   maximise min_j  (scale_j / w_j) * sum_k T[j][k] X[j][k] / T_eq[j]
 *
 * where T_eq[j] = sum_k T[j][k] * gpus_k / G is the throughput under an equal share of every type (Gavel's
 * ProportionalPolicy). The heterogeneity-agnostic variant replaces every usable throughput by 1 (so T_eq = 1 and
 * the objective is time share x scale / weight), as Gavel's MaxMinFairnessPolicy does.
 */

export interface LasOptions {
  readonly aware: boolean;
  /**
   * `classes` (default): one share vector per class of interchangeable jobs (equal throughput row, scale factor,
   * weight, usable types); `per-job`: the plain LP with one row per job. Same optimum; classes is much faster.
   */
  readonly formulation?: 'classes' | 'per-job';
  /** Default `ipm` (without crossover): a central optimum, as Gavel's ECOS returns. */
  readonly method?: LpMethod;
}

export interface LasModel {
  readonly problem: Problem;
  /** Normalised coefficient rows (T / T_eq), zero where unusable. */
  readonly a: number[][];
  readonly mult: Float64Array;
  /** Jobs that can run somewhere; the others get no time and are left out of the LP. */
  readonly inLp: boolean[];
}

/** Builds the coefficient rows of (agnostic or aware) LAS. */
export function lasModel(snapshot: PolicySnapshot, aware: boolean): LasModel {
  const p = makeProblem(snapshot);
  const n = p.jobs.length;
  const a: number[][] = [];
  const mult = new Float64Array(n);
  const inLp: boolean[] = [];
  for (let j = 0; j < n; j++) {
    const job = p.jobs[j]!;
    const raw = aware ? job.throughput : job.throughput.map((v) => (v > 0 ? 1 : 0));
    const row = usableRow(p, j, raw);
    // Gavel normalises by the equal-share throughput of the (possibly all-ones) row over every type.
    const eq = proportionalThroughput(p.caps, raw);
    const ok = anyUsable(p, j) && eq > 0;
    inLp.push(ok);
    a.push(ok ? row.map((v) => v / eq) : row.map(() => 0));
    mult[j] = job.scaleFactor / job.priorityWeight;
  }
  return { problem: p, a, mult, inLp };
}

export function lasClasses(m: LasModel, formulation: 'classes' | 'per-job'): Classes {
  const n = m.problem.jobs.length;
  if (formulation === 'per-job') return singletons(n);
  return groupBy(n, (j) => (m.inLp[j] ? `${m.mult[j]}|${m.problem.jobs[j]!.scaleFactor}|${m.a[j]!.join(',')}` : '-'));
}

/** Solves LAS; returns per-job shares and the optimal level (the min normalised, weighted throughput). */
export function solveLas(
  snapshot: PolicySnapshot,
  opts: LasOptions,
  policyName: string,
): { shares: number[][]; level: number; model: LasModel; solveSeconds: number; classes: number } {
  const m = lasModel(snapshot, opts.aware);
  const p = m.problem;
  const shares = zeroShares(p);
  if (!m.inLp.some((x) => x)) return { shares, level: 0, model: m, solveSeconds: 0, classes: 0 };
  const classes = lasClasses(m, opts.formulation ?? 'classes');
  const n = p.jobs.length;
  const zeros = new Float64Array(n);
  const out = solveMaxMin({
    problem: p,
    a: m.a,
    mult: m.mult,
    base: zeros,
    floor: zeros,
    active: m.inLp,
    classes,
    method: opts.method ?? 'ipm',
    policy: policyName,
  });
  for (let j = 0; j < n; j++) {
    if (!m.inLp[j]) continue;
    shares[j] = Array.from(out.classShares[classes.classOf[j]!]!);
  }
  return { shares, level: out.level, model: m, solveSeconds: out.solveSeconds, classes: classes.members.length };
}

export function createLasPolicy(name: string, aliases: readonly string[], opts: LasOptions): Policy {
  return {
    meta: {
      name,
      aliases,
      description: opts.aware
        ? 'LAS / max-min fairness over effective throughput normalised by the equal-share throughput (heterogeneity-aware)'
        : 'LAS / max-min fairness over time shares, all GPU types treated alike (heterogeneity-agnostic)',
      heterogeneityAware: opts.aware,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const { shares, model } = solveLas(snapshot, opts, name);
      return { allocation: finishAllocation(model.problem, shares) };
    },
  };
}
