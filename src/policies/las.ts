import { RondoError } from '../model/errors.js';
import type { LpMethod } from '../solver/index.js';
import type { Classes, Problem } from './common.js';
import {
  anyUsable,
  checkSnapshot,
  classifyJobs,
  finishClassAllocation,
  makeProblem,
  proportionalThroughput,
  usableRow,
  zeroShares,
} from './common.js';
import { solveMaxMin } from './maxmin.js';
import { solveMaxMinDecomposed } from './maxmin-decomposed.js';
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
  /**
   * `lp`: the exact LP. `decomposed`: price-directed decomposition over the GPU types (`maxmin-decomposed.ts`),
   * certified within `minRatio` of the exact optimum, else the exact LP. `auto` (default): `decomposed` when the
   * class formulation leaves at least `DECOMPOSE_MIN_CLASSES` classes (jobs with their own throughput rows), the
   * LP otherwise, so problems the class trick keeps small are solved exactly as before.
   */
  readonly solver?: 'lp' | 'decomposed' | 'auto';
  /** Certified fraction of the exact optimum the decomposition must reach (default 0.999). */
  readonly minRatio?: number;
}

/**
 * Classes from which `auto` decomposes. The exact LP takes about 0.8 s at 1,000 distinct rows and 8-17 s at 10,000
 * on a shared 2-core machine; Gavel-table workloads stay far below this (one class per table row, scale factor,
 * weight and allowed set), so their allocations do not change.
 */
export const DECOMPOSE_MIN_CLASSES = 2000;

/** How a decomposed solve went (`solveLas(...).decomposition`). */
export interface LasDecomposition {
  /** Level of the returned allocation (before leftover GPUs were handed out). */
  readonly lowerBound: number;
  /** Bound on the exact optimum from the best prices. */
  readonly upperBound: number;
  /** lowerBound / upperBound: the certified fraction of the exact optimum. */
  readonly ratio: number;
  readonly iterations: number;
  readonly seconds: number;
  /** Not certified within `minRatio`: the exact LP was solved instead. */
  readonly fellBack: boolean;
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

/**
 * Solves LAS. Jobs are first reduced to one representative per class (equal scale factor, weight, allowed types
 * and throughput row; see `classifyJobs`) and the LP is built over the representatives with class sizes, so its
 * size stops growing with the number of jobs. `per-job` keeps one representative per job (the plain LP).
 * Returns the class shares, the class of each job and the optimal level.
 */
export function solveLas(
  snapshot: PolicySnapshot,
  opts: LasOptions,
  policyName: string,
): {
  classShares: number[][];
  classOf: Int32Array;
  size: number[];
  level: number;
  model: LasModel;
  solveSeconds: number;
  classes: number;
  decomposition?: LasDecomposition;
} {
  checkSnapshot(snapshot);
  // The agnostic LP sees only which types a job can use (its row becomes 0/1), so jobs of different types with the
  // same usable types are interchangeable there: classify on that row, and the LP shrinks to a handful of classes.
  const classRows = opts.aware ? snapshot.jobs : snapshot.jobs.map((j) => ({ ...j, throughput: j.throughput.map((v) => (v > 0 ? 1 : 0)) }));
  const { classOf, reps, size } = classifyJobs(classRows, snapshot.cluster.gpuTypes, opts.formulation === 'per-job');
  const m = lasModel({ ...snapshot, jobs: reps.map((j) => snapshot.jobs[j]!) }, opts.aware);
  const p = m.problem;
  const C = reps.length;
  const classShares = zeroShares(p);
  if (!m.inLp.some((x) => x)) return { classShares, classOf, size, level: 0, model: m, solveSeconds: 0, classes: C };
  let decomposition: LasDecomposition | undefined;
  const solver = opts.solver ?? 'auto';
  if (solver === 'decomposed' || (solver === 'auto' && opts.formulation !== 'per-job' && C >= DECOMPOSE_MIN_CLASSES)) {
    const minRatio = opts.minRatio ?? 0.999;
    if (!(minRatio > 0)) {
      throw new RondoError({ code: 'E_RANGE', problem: `policy ${policyName}: minRatio ${minRatio}`, expected: 'a number > 0 (at most 1 to be reachable; default 0.999)' });
    }
    const d = decompose(m, size, minRatio);
    decomposition = d.info;
    if (!d.info.fellBack) {
      for (let c = 0; c < C; c++) if (m.inLp[c]) classShares[c] = d.shares[c]!;
      return { classShares, classOf, size, level: d.info.lowerBound, model: m, solveSeconds: d.info.seconds, classes: C, decomposition };
    }
  }
  const classes: Classes = { members: reps.map((_, c) => [c]), classOf: Int32Array.from(reps.keys()), size };
  const zeros = new Float64Array(C);
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
  for (let c = 0; c < C; c++) if (m.inLp[c]) classShares[c] = Array.from(out.classShares[c]!);
  return {
    classShares,
    classOf,
    size,
    level: Math.max(0, out.level),
    model: m,
    solveSeconds: out.solveSeconds,
    classes: C,
    ...(decomposition ? { decomposition } : {}),
  };
}

/** Decompositions run by this thread so far (the policy interface has no room for diagnostics). */
export interface LasDecompositionStats {
  readonly runs: number;
  /** Runs whose ratio was not certified, so the exact LP was solved instead. */
  readonly fellBack: number;
  /** Lowest certified ratio of a run that did not fall back (1 when none ran). */
  readonly lowestRatio: number;
  readonly last?: LasDecomposition;
}

let stats: { runs: number; fellBack: number; lowestRatio: number; last?: LasDecomposition } = { runs: 0, fellBack: 0, lowestRatio: 1 };

export function lasDecompositionStats(): LasDecompositionStats {
  return { ...stats };
}

export function resetLasDecompositionStats(): void {
  stats = { runs: 0, fellBack: 0, lowestRatio: 1 };
}

/**
 * The decomposition over class representatives (capacity weighted by class size). It stops at a certified ratio a
 * little above `minRatio` so that cleaning the shares cannot push the level below it.
 */
function decompose(m: LasModel, size: readonly number[], minRatio: number): { shares: number[][]; info: LasDecomposition } {
  const t0 = performance.now();
  const p = m.problem;
  const C = p.jobs.length;
  const K = p.types.length;
  const a = new Float64Array(C * K);
  const w = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const row = m.a[c]!;
    for (let k = 0; k < K; k++) a[c * K + k] = m.inLp[c] ? row[k]! : 0;
    w[c] = size[c]! * p.jobs[c]!.scaleFactor;
  }
  const target = 1 - (1 - minRatio) / 2;
  const out = solveMaxMinDecomposed({ n: C, K, a, mult: m.mult, w, active: m.inLp, caps: p.caps, minRatio: target });
  const shares: number[][] = new Array<number[]>(C);
  for (let c = 0; c < C; c++) {
    const row = new Array<number>(K);
    for (let k = 0; k < K; k++) row[k] = out.x[c * K + k]!;
    shares[c] = row;
  }
  const ratio = out.upperBound > 0 ? out.lowerBound / out.upperBound : 1;
  const info: LasDecomposition = {
    lowerBound: out.lowerBound,
    upperBound: out.upperBound,
    ratio,
    iterations: out.iterations,
    seconds: (performance.now() - t0) / 1000,
    fellBack: !out.certified || !(ratio >= minRatio),
  };
  stats.runs++;
  if (info.fellBack) stats.fellBack++;
  else stats.lowestRatio = Math.min(stats.lowestRatio, ratio);
  stats.last = info;
  return { shares, info };
}

/** Per-job shares of a LAS solution (tests and tools; the policy builds its allocation directly). */
export function lasJobShares(r: ReturnType<typeof solveLas>): number[][] {
  return Array.from(r.classOf, (c) => [...r.classShares[c]!]);
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
      const r = solveLas(snapshot, opts, name);
      return { allocation: finishClassAllocation(r.model.problem, r.size, r.classShares, snapshot.jobs, r.classOf) };
    },
  };
}
