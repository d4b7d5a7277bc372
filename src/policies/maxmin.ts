import { LpBuilder } from '../solver/index.js';
import type { LpMethod } from '../solver/index.js';
import type { Classes, Problem } from './common.js';
import { classJob, classSize, classTerms, solverFailure } from './common.js';

/**
 * The max-min LP shared by LAS and water-filling, solved over classes of interchangeable jobs.
 *
 * Per job j with shares X[j][k]: `u_j = sum_k a[j][k] X[j][k]` (a = throughput / reference throughput). Jobs in
 * `active` must reach `mult_j * (u_j - base_j) >= t`; every job keeps `u_j >= floor_j`. Maximise t subject to
 * `sum_k X[j][k] <= 1` and `sum_j scale_j X[j][k] <= gpus_k`.
 *
 * Jobs of one class have equal a-row, scale factor, mult, base, floor and activity. Averaging any optimal per-job
 * solution over a class is again feasible and optimal (every constraint is linear and each job's own constraint
 * only gets its class average), so the class LP with one share vector per class and capacity rows weighted by the
 * class size has the same optimum t; the symmetric solution it returns gives identical jobs identical shares, and
 * its size depends on the number of classes, not jobs.
 */
export interface MaxMinInput {
  readonly problem: Problem;
  /** Per job: coefficient row (zero where unusable). */
  readonly a: readonly (readonly number[])[];
  readonly mult: ArrayLike<number>;
  readonly base: ArrayLike<number>;
  readonly floor: ArrayLike<number>;
  readonly active: ArrayLike<boolean>;
  readonly classes: Classes;
  readonly method: LpMethod;
  readonly policy: string;
}

export interface MaxMinOutput {
  /** Optimal t (0 when no job is active; may be a hair below 0 when bases are tight). */
  readonly level: number;
  /** Shares of each class (per job of the class). */
  readonly classShares: Float64Array[];
  readonly solveSeconds: number;
}

export interface ClassLp {
  lp: LpBuilder;
  /** Column of (class, type), or -1. */
  col: Int32Array;
  tCol: number;
}

function buildBase(inp: MaxMinInput, withT: boolean): ClassLp {
  return buildAllocationLp(inp.problem, inp.classes, 'max', withT, (j, k) => inp.a[j]![k]! > 0);
}

/**
 * The allocation polytope over classes: a share column per usable (class, type), `sum_k Y[c][k] <= 1`, and
 * `sum_c size_c * scale_c * Y[c][k] <= gpus_k`. With `withT`, a column t >= 0 of cost 1 is added.
 */
export function buildAllocationLp(
  p: Problem,
  classes: Classes,
  sense: 'min' | 'max',
  withT: boolean,
  useCell: (j: number, k: number) => boolean = () => true,
): ClassLp {
  const K = p.types.length;
  const C = classes.members.length;
  const lp = new LpBuilder(sense, { cols: C * K + 1, rows: 2 * C + K, nonzeros: 3 * C * K + C });
  const col = new Int32Array(C * K).fill(-1);
  for (let c = 0; c < C; c++) {
    const j = classJob(classes, c);
    for (let k = 0; k < K; k++) {
      if (p.usable[j]![k] && useCell(j, k)) col[c * K + k] = lp.addVar({ lb: 0, ub: 1 });
    }
  }
  // t is free: rows `mult * (u - base) >= t` then stay feasible even when a base carried over from an earlier
  // (inexact) solve is a hair above what is reachable.
  const tCol = withT ? lp.addVar({ lb: -Infinity, ub: Infinity, cost: 1, name: 't' }) : -1;
  // Row sums.
  const idx: number[] = [];
  const val: number[] = [];
  for (let c = 0; c < C; c++) {
    classTerms(col, K, c, () => 1, idx, val);
    if (idx.length > 1) lp.addRow(-Infinity, 1, idx, val);
  }
  // Capacity.
  for (let k = 0; k < K; k++) {
    idx.length = 0;
    val.length = 0;
    for (let c = 0; c < C; c++) {
      const v = col[c * K + k]!;
      if (v < 0) continue;
      const members = classes.members[c]!;
      idx.push(v);
      val.push(classSize(classes, c) * p.jobs[members[0]!]!.scaleFactor);
    }
    if (idx.length > 0) lp.addRow(-Infinity, p.caps[k]!, idx, val);
  }
  return { lp, col, tCol };
}

function sharesOf(inp: MaxMinInput, b: ClassLp, x: Float64Array): Float64Array[] {
  return classSharesOf(inp.problem, inp.classes, b, x);
}

export function classSharesOf(p: Problem, classes: Classes, b: ClassLp, x: Float64Array): Float64Array[] {
  const K = p.types.length;
  return classes.members.map((_, c) => {
    const s = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      const v = b.col[c * K + k]!;
      if (v >= 0) s[k] = Math.min(1, Math.max(0, x[v]!));
    }
    return s;
  });
}

/** Solves the max-min LP (one level). */
export function solveMaxMin(inp: MaxMinInput): MaxMinOutput {
  const { problem: p, classes } = inp;
  const K = p.types.length;
  const b = buildBase(inp, true);
  const idx: number[] = [];
  const val: number[] = [];
  let anyActive = false;
  for (let c = 0; c < classes.members.length; c++) {
    const j = classJob(classes, c);
    const act = inp.active[j]!;
    const m = act ? inp.mult[j]! : 1;
    const a = inp.a[j]!;
    classTerms(b.col, K, c, (k) => m * a[k]!, idx, val);
    if (act) {
      anyActive = true;
      // mult * u - t >= mult * base
      idx.push(b.tCol);
      val.push(-1);
      b.lp.addRow(m * inp.base[j]!, Infinity, idx, val);
    } else if (inp.floor[j]! > 0) {
      b.lp.addRow(inp.floor[j]!, Infinity, idx, val);
    }
  }
  if (!anyActive) b.lp.setBounds(b.tCol, 0, 0);
  const r = b.lp.solve({ method: inp.method, crossover: false });
  if (r.status !== 'optimal') throw solverFailure(inp.policy, r.status, r.message);
  return { level: anyActive ? r.x[b.tCol]! : 0, classShares: sharesOf(inp, b, r.x), solveSeconds: r.solveSeconds };
}

/**
 * Which active classes can still improve: classes whose `u` can exceed `floor * (1 + relSlack) + absSlack` while
 * every job keeps `u >= floor` (Gavel finds these with a MILP maximising the number of jobs that reach that bar
 * together). Here an LP maximises the sum of bounded improvements `s_c` in [0, 1] (s_c = 1: the full step); a
 * simplex vertex gives each class all or nothing where they compete, so classes above 1/2 are improvable, and the
 * remaining candidates are re-checked with those set aside until an LP finds none.
 */
export function improvableClasses(inp: MaxMinInput, relSlack = 1e-4, absSlack = 1e-5): boolean[] {
  const { problem: p, classes } = inp;
  const K = p.types.length;
  const C = classes.members.length;
  const found = new Array<boolean>(C).fill(false);
  const candidates = new Set<number>();
  for (let c = 0; c < C; c++) if (inp.active[classes.members[c]![0]!]) candidates.add(c);
  while (candidates.size > 0) {
    const b = buildBase(inp, false);
    const sCol = new Map<number, number>();
    const idx: number[] = [];
    const val: number[] = [];
    for (let c = 0; c < C; c++) {
      const j = classJob(classes, c);
      const a = inp.a[j]!;
      classTerms(b.col, K, c, (k) => a[k]!, idx, val);
      if (candidates.has(c)) {
        const level = inp.floor[j]!;
        const step = level * relSlack + absSlack;
        const s = b.lp.addVar({ lb: 0, ub: 1, cost: 1 });
        sCol.set(c, s);
        idx.push(s);
        val.push(-step);
        b.lp.addRow(level, Infinity, idx, val);
      } else if (inp.floor[j]! > 0) {
        b.lp.addRow(inp.floor[j]!, Infinity, idx, val);
      }
    }
    const r = b.lp.solve({ method: 'simplex' });
    if (r.status !== 'optimal') throw solverFailure(inp.policy, r.status, r.message);
    let progress = false;
    for (const [c, s] of sCol) {
      // Half a step: well above what relaxed floors (1% of a step in water-filling) alone allow.
      if (r.x[s]! > 0.5) {
        found[c] = true;
        candidates.delete(c);
        progress = true;
      }
    }
    if (!progress) break;
  }
  return found;
}
