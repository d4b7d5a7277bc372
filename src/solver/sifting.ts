import { RondoError } from '../model/errors.js';
import { BasisStatus, defaultSolver, LpBuilder, type LpResult, type Solver, type SolveOptions, type WarmStart } from './lp.js';

/**
 * Column generation ("sifting") for LPs with many columns of which few are nonzero at an optimum, such as the
 * tenant-level LPs (tens of thousands of job-class columns, a few thousand of them used). The LP restricted to a
 * working set of columns is solved; every column left out is priced with that solve's row duals (reduced cost
 * `c_j - sum_i y_i a_ij`); columns that would improve the objective join the set and the restricted LP is solved
 * again from the previous basis. When no column prices out, the restricted optimum with the rest at 0, together
 * with its row duals, is primal and dual feasible for the whole LP: an optimum of it (the same objective; the
 * vertex may differ where the LP has several optima).
 *
 * Only columns whose lower bound is 0 can be left out (0 must be a feasible value for them). If a restricted LP is
 * infeasible or fails (the working set cannot meet some row), the whole LP is solved as it is.
 */

/** Reduced costs within this of improving are not worth another round (HiGHS' own dual feasibility tolerance). */
const DUAL_TOL = 1e-7;
/**
 * Rounds before the whole LP is solved from the last basis instead; each round adds every column that prices out,
 * and a working set that starts far too small can take many rounds of a few pivots each.
 */
const MAX_ROUNDS = 8;

export interface SiftingStats {
  rounds: number;
  columns: number;
  fullSolves: number;
}

export interface SiftingOptions extends SolveOptions {
  /** Called once per solve with how it went (tests and diagnostics). */
  readonly onStats?: (s: SiftingStats) => void;
}

/**
 * Solves `lp` starting from the columns marked in `initial` (others with a lower bound other than 0 are added).
 * Simplex only: pricing needs the duals of a basic solution.
 */
export function solveSifting(lp: LpBuilder, initial: Uint8Array, options: SiftingOptions = {}, solver: Solver = defaultSolver): LpResult {
  if (lp.isMip) throw new RondoError({ code: 'E_SOLVER', problem: 'column generation is for LPs; this model has integer columns' });
  if ((options.method ?? 'simplex') !== 'simplex') throw new RondoError({ code: 'E_SOLVER', problem: `column generation needs simplex, not ${options.method}` });
  const { onStats, ...solveOpts } = options;
  const a = lp.arrays();
  const n = lp.numCols;
  const m = lp.numRows;
  if (initial.length !== n) throw new RondoError({ code: 'E_SOLVER', problem: `working set has ${initial.length} entries for ${n} columns` });
  const keep = Uint8Array.from(initial);
  for (let j = 0; j < n; j++) if (a.lower[j] !== 0) keep[j] = 1;
  const sign = lp.sense === 'max' ? 1 : -1;
  let basis: { colStatus: Int32Array; rowStatus: Int32Array } | undefined;
  let rounds = 0;
  let seconds = 0;
  const d = new Float64Array(n);
  while (rounds < MAX_ROUNDS) {
    rounds++;
    const sub = restrict(lp, a, keep);
    if (sub.cols.length === n && sub.rows.length === m) {
      // Everything is in: this is the LP itself.
      const r = solver.solve(lp, basis ? { simplexStrategy: 'primal', ...solveOpts, warmStart: basis } : solveOpts);
      onStats?.({ rounds, columns: n, fullSolves: 1 });
      return r;
    }
    // From the last basis the grown LP is primal feasible (new columns at 0): primal simplex goes on from there.
    const r = solver.solve(sub.lp, basis ? { simplexStrategy: 'primal', ...solveOpts, warmStart: restrictBasis(basis, sub) } : solveOpts);
    if (r.status !== 'optimal' || !r.rowDual) {
      if (r.status === 'unbounded') return expand(lp, r, sub, seconds + r.solveSeconds);
      onStats?.({ rounds, columns: n, fullSolves: 1 });
      return solver.solve(lp, solveOpts);
    }
    // Reduced costs of the columns left out, from the row duals: d = c - A^T y.
    for (let j = 0; j < n; j++) d[j] = keep[j] ? 0 : a.cost[j]!;
    const y = r.rowDual;
    for (let s = 0; s < sub.rows.length; s++) {
      const i = sub.rows[s]!;
      const yi = y[s]!;
      if (yi === 0) continue;
      for (let p = a.starts[i]!; p < a.starts[i + 1]!; p++) {
        const j = a.indices[p]!;
        if (!keep[j]) d[j] = d[j]! - yi * a.values[p]!;
      }
    }
    let added = 0;
    for (let j = 0; j < n; j++) {
      if (!keep[j] && sign * d[j]! > DUAL_TOL && a.upper[j]! > 0) {
        keep[j] = 1;
        added++;
      }
    }
    if (added === 0) {
      onStats?.({ rounds, columns: sub.cols.length, fullSolves: 0 });
      return expand(lp, r, sub, seconds + r.solveSeconds);
    }
    seconds += r.solveSeconds;
    basis = fullBasis(r.warmStart, sub, n, m);
  }
  onStats?.({ rounds, columns: n, fullSolves: 1 });
  return solver.solve(lp, basis ? { simplexStrategy: 'primal', ...solveOpts, warmStart: basis } : solveOpts);
}

interface Restricted {
  readonly lp: LpBuilder;
  /** Original index of each column and row of the restricted LP. */
  readonly cols: Int32Array;
  readonly rows: Int32Array;
}

function restrict(lp: LpBuilder, a: ReturnType<LpBuilder['arrays']>, keep: Uint8Array): Restricted {
  const n = keep.length;
  const at = new Int32Array(n).fill(-1);
  let kept = 0;
  for (let j = 0; j < n; j++) if (keep[j]) at[j] = kept++;
  const cols = new Int32Array(kept);
  const out = new LpBuilder(lp.sense, { cols: kept, rows: lp.numRows, nonzeros: a.indices.length });
  for (let j = 0; j < n; j++) {
    if (at[j]! < 0) continue;
    cols[at[j]!] = j;
    out.addVar({ lb: a.lower[j]!, ub: a.upper[j]!, cost: a.cost[j]! });
  }
  const idx: number[] = [];
  const val: number[] = [];
  const rows: number[] = [];
  for (let i = 0; i < lp.numRows; i++) {
    idx.length = 0;
    val.length = 0;
    for (let p = a.starts[i]!; p < a.starts[i + 1]!; p++) {
      const j = at[a.indices[p]!]!;
      if (j < 0) continue;
      idx.push(j);
      val.push(a.values[p]!);
    }
    // A row left empty that 0 satisfies says nothing (its dual is 0); one that 0 violates stays, to be infeasible.
    if (idx.length === 0 && a.rowLower[i]! <= 0 && a.rowUpper[i]! >= 0) continue;
    rows.push(i);
    out.addRow(a.rowLower[i]!, a.rowUpper[i]!, idx, val);
  }
  return { lp: out, cols, rows: Int32Array.from(rows) };
}

const { atLower: AT_LOWER, basic: BASIC } = BasisStatus;

/** A basis of the whole LP on a restricted one (the same number of basic variables: every row that joined is basic). */
function restrictBasis(full: { colStatus: Int32Array; rowStatus: Int32Array }, sub: Restricted): WarmStart {
  return { colStatus: sub.cols.map((j) => full.colStatus[j]!), rowStatus: sub.rows.map((i) => full.rowStatus[i]!) };
}

/**
 * A restricted basis as a basis of the whole LP: columns left out are nonbasic at their lower bound (0), rows left
 * out basic.
 */
function fullBasis(ws: WarmStart | undefined, sub: Restricted, n: number, m: number): { colStatus: Int32Array; rowStatus: Int32Array } | undefined {
  if (!ws?.colStatus || !ws.rowStatus) return undefined;
  const colStatus = new Int32Array(n).fill(AT_LOWER);
  sub.cols.forEach((j, c) => (colStatus[j] = ws.colStatus![c]!));
  const rowStatus = new Int32Array(m).fill(BASIC);
  sub.rows.forEach((i, s) => (rowStatus[i] = ws.rowStatus![s]!));
  return { colStatus, rowStatus };
}

/** A restricted solve as a solve of the whole LP: columns left out are 0 (nonbasic at their lower bound). */
function expand(lp: LpBuilder, r: LpResult, sub: Restricted, seconds: number): LpResult {
  const n = lp.numCols;
  const m = lp.numRows;
  const x = new Float64Array(n);
  sub.cols.forEach((j, c) => (x[j] = r.x[c]!));
  const rowValue = new Float64Array(m);
  sub.rows.forEach((i, s) => (rowValue[i] = r.rowValue[s]!));
  let rowDual: Float64Array | undefined;
  if (r.rowDual) {
    rowDual = new Float64Array(m);
    sub.rows.forEach((i, s) => (rowDual![i] = r.rowDual![s]!));
  }
  const full = fullBasis(r.warmStart, sub, n, m);
  return {
    status: r.status,
    objective: r.objective,
    x,
    rowValue,
    rowDual,
    warmStart: full ? { ...full, colValue: x } : undefined,
    solveSeconds: seconds,
    ...(r.message !== undefined ? { message: r.message } : {}),
    value(name: string): number {
      const j = lp.columnNames().get(name);
      if (j === undefined) throw new RondoError({ code: 'E_SOLVER', problem: `no column named ${name}` });
      return x[j]!;
    },
  };
}
