import type { LpMethod } from '../solver/index.js';
import type { Problem } from './common.js';
import { agnosticReferenceType, anyUsable, classJob, classTerms, expandClasses, finishAllocation, groupBy, makeProblem, rowKey, usableRow } from './common.js';
import { buildAllocationLp, classSharesOf } from './maxmin.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Makespan (Gavel `min_total_duration(_perf)`): the smallest T such that every active job can finish within T,
 * i.e. `sum_k T[j][k] X[j][k] >= remaining_j / T` is feasible. Found as Gavel does, by bisection on T starting
 * from [100 s, 1e6 s] and stopping once the bracket is within a factor 1.05 (moving the window up by 10x while no T
 * in it is feasible). The allocation is the one for the smallest feasible T tried, taken at the centre of that
 * feasibility region (interior point without crossover, as Gavel's ECOS returns for its constant objective).
 * The agnostic variant uses each job's v100 throughput on every usable type (Gavel's hard-coded reference).
 */

export interface MtdOptions {
  readonly aware: boolean;
  /** Bracket ratio at which bisection stops; Gavel uses 1.05. */
  readonly bracket?: number;
  readonly method?: LpMethod;
}

export interface MtdResult {
  readonly shares: number[][];
  /** The smallest feasible T found (seconds), or 0 when no job has work left. */
  readonly makespan: number;
}

function rows(p: Problem, aware: boolean): number[][] {
  const ref = agnosticReferenceType(p.types);
  return p.jobs.map((job, j) => usableRow(p, j, aware ? job.throughput : job.throughput.map(() => job.throughput[ref]!)));
}

function feasibleAt(p: Problem, t: number[][], include: (j: number) => boolean, T: number, central: boolean, method: LpMethod): number[][] | undefined {
  const n = p.jobs.length;
  const K = p.types.length;
  const classes = groupBy(n, (j) => (include(j) ? `${p.jobs[j]!.scaleFactor}|${p.jobs[j]!.remainingSteps}|${rowKey(t[j]!)}` : '-'));
  const b = buildAllocationLp(p, classes, 'max', false, (j, k) => t[j]![k]! > 0);
  const idx: number[] = [];
  const val: number[] = [];
  for (let c = 0; c < classes.members.length; c++) {
    const j = classJob(classes, c);
    if (!include(j)) continue;
    const tj = t[j]!;
    classTerms(b.col, K, c, (k) => tj[k]!, idx, val);
    b.lp.addRow(p.jobs[j]!.remainingSteps / T, Infinity, idx, val);
  }
  const r = b.lp.solve(central ? { method, crossover: false } : { method: 'simplex' });
  if (r.status !== 'optimal') return undefined;
  return expandClasses(p, classes, classSharesOf(p, classes, b, r.x), include);
}

/**
 * Gavel's search for the smallest feasible makespan: bisection in [100 s, 1e6 s] down to a bracket ratio, moving
 * the window up 10x while nothing in it is feasible (at most 12 times: 1e6 * 10^12 s has no practical meaning).
 * Shared with the packed variant.
 */
export function bisectMakespan(feasible: (T: number) => boolean, bracket: number): number | undefined {
  let minT = 100;
  let maxT = 1e6;
  let lastMax = maxT;
  let best: number | undefined;
  for (let round = 0; best === undefined && round < 12; round++) {
    while (bracket * minT < maxT) {
      const T = (minT + maxT) / 2;
      if (feasible(T)) {
        best = T;
        maxT = T;
      } else minT = T;
    }
    maxT = lastMax * 10;
    minT = lastMax;
    lastMax *= 10;
  }
  return best;
}

export function solveMinTotalDuration(snapshot: PolicySnapshot, opts: MtdOptions): MtdResult & { problem: Problem } {
  const p = makeProblem(snapshot);
  const t = rows(p, opts.aware);
  const include = (j: number): boolean => anyUsable(p, j) && p.jobs[j]!.remainingSteps > 0 && t[j]!.some((v) => v > 0);
  const method = opts.method ?? 'ipm';
  if (!p.jobs.some((_, j) => include(j))) return { shares: p.jobs.map(() => p.types.map(() => 0)), makespan: 0, problem: p };
  const best = bisectMakespan((T) => feasibleAt(p, t, include, T, false, method) !== undefined, opts.bracket ?? 1.05);
  if (best === undefined) return { shares: p.jobs.map(() => p.types.map(() => 0)), makespan: Infinity, problem: p };
  const shares = feasibleAt(p, t, include, best, true, method) ?? feasibleAt(p, t, include, best, false, method)!;
  return { shares, makespan: best, problem: p };
}

export function createMinTotalDurationPolicy(name: string, aliases: readonly string[], opts: MtdOptions): Policy {
  return {
    meta: {
      name,
      aliases,
      description: opts.aware
        ? 'Makespan: smallest T such that every active job can finish within T (bisection, heterogeneity-aware)'
        : "Makespan with every type assumed as fast as the job's v100 throughput (heterogeneity-agnostic)",
      heterogeneityAware: opts.aware,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const r = solveMinTotalDuration(snapshot, opts);
      return { allocation: finishAllocation(r.problem, r.shares) };
    },
  };
}
