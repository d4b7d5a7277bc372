/**
 * The LP layer's public types: what a solve may be asked (SolveOptions) and what it answers (LpResult). Kept apart
 * from lp.ts, which holds the builder and the solver that use them.
 */

export type LpStatus = 'optimal' | 'infeasible' | 'unbounded' | 'time_limit' | 'error';

/**
 * `simplex` returns a vertex. `ipm` is HiGHS' interior-point method: with `crossover: false` it stops at an
 * interior point of the optimal face (close to its analytic centre), which is what Gavel's ECOS returned and what
 * the Gavel-named policies rely on. `choose` lets HiGHS decide.
 */
export type LpMethod = 'simplex' | 'ipm' | 'choose';

/** Opaque warm start from an earlier solve of a model with the same columns and rows. */
/** HiGHS' basis statuses (`highs.constants.basisStatus`), for a `WarmStart` built by hand. */
export const BasisStatus = { atLower: 0, basic: 1, atUpper: 2, freeAtZero: 3 } as const;

/** HiGHS' `simplex_strategy` for `SolveOptions.simplexStrategy`. */
export function simplexStrategyCode(s: 'dual' | 'primal'): number {
  return s === 'primal' ? 4 : 1;
}

export interface WarmStart {
  readonly colValue?: Float64Array;
  readonly colStatus?: Int32Array;
  readonly rowStatus?: Int32Array;
}

export interface SolveOptions {
  /** Default `simplex`. */
  readonly method?: LpMethod;
  /** For `ipm`: run crossover to a vertex. Default false (keep the central point). */
  readonly crossover?: boolean;
  /** Seconds; default none. */
  readonly timeLimit?: number;
  /**
   * Default true, except for `ipm` without crossover: HiGHS' presolve there can end on a vertex (or an `unknown`
   * status) for degenerate LPs, which defeats the point of asking for a central solution.
   */
  readonly presolve?: boolean;
  /** Primal/dual feasibility tolerance; HiGHS' default 1e-7. */
  readonly feasibilityTolerance?: number;
  /** IPM optimality tolerance; HiGHS' default 1e-8. */
  readonly ipmTolerance?: number;
  /** A basis (simplex) or primal point from an earlier solve of the same shape. */
  readonly warmStart?: WarmStart;
  /**
   * Simplex variant; default HiGHS' choice (dual). `primal` suits a warm start from a primal feasible basis, as
   * when columns are added to a solved LP (sifting.ts).
   */
  readonly simplexStrategy?: 'dual' | 'primal';
  /** MIP relative gap (MILP only). */
  readonly mipGap?: number;
  /**
   * Default true: reuse the answer of an identical earlier solve (see cache.ts; exact, since HiGHS is
   * deterministic). Solves with a time limit, or a warm start with a primal point, are never cached; a warm start
   * that is a basis alone is part of the cache key (the same model from the same basis gives the same answer).
   */
  readonly cache?: boolean;
}

export interface LpResult {
  readonly status: LpStatus;
  /** Objective in the model's sense; NaN unless a primal solution is available. */
  readonly objective: number;
  /** Column values (length = columns); zeros when no solution is available. */
  readonly x: Float64Array;
  /** Row activities. */
  readonly rowValue: Float64Array;
  /** Row duals where HiGHS provides them (LP only). */
  readonly rowDual: Float64Array | undefined;
  /** Basis for a warm start (simplex or IPM with crossover). */
  readonly warmStart: WarmStart | undefined;
  readonly solveSeconds: number;
  /** Solver's words when status is `error`. */
  readonly message?: string;
  /** Value of a named column. */
  value(name: string): number;
}

export interface VarOptions {
  readonly lb?: number;
  readonly ub?: number;
  readonly cost?: number;
  readonly integer?: boolean;
  readonly name?: string;
}
