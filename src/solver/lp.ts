// Over 500 lines: LpBuilder.solve defaults to the Solver here and the Solver takes builders, so the one seam would be an import cycle.
import type { Highs, ModelData } from 'highs';
import { RondoError } from '../model/errors.js';
import { HighsInstances, isAbort } from './highs-runtime.js';
import { F64, I32 } from './buffers.js';
import { SolveCache, type CachedSolution, type ModelWords, type SolveCacheStats } from './cache.js';

/**
 * A small LP/MILP layer over HiGHS. Models are built with typed arrays (columns with bounds and costs, rows in
 * CSR), handed to HiGHS' persistent API in one call, solved synchronously, and disposed before `solve` returns.
 * Nothing of HiGHS' own API leaves this folder.
 */

export type { LpMethod, LpResult, LpStatus, SolveOptions, VarOptions, WarmStart } from './lp-types.js';
export { BasisStatus } from './lp-types.js';
import { simplexStrategyCode } from './lp-types.js';
import type { LpResult, LpStatus, SolveOptions, VarOptions, WarmStart } from './lp-types.js';

/** Builds an LP/MILP: named or anonymous columns, sparse rows `lb <= a.x <= ub`. */
export class LpBuilder {
  readonly sense: 'min' | 'max';
  private readonly cost: F64;
  private readonly lower: F64;
  private readonly upper: F64;
  private readonly integer: number[] = [];
  private readonly names = new Map<string, number>();
  private readonly rowLower: F64;
  private readonly rowUpper: F64;
  private readonly starts: I32;
  private readonly indices: I32;
  private readonly values: F64;

  constructor(sense: 'min' | 'max', sizeHint: { cols?: number; rows?: number; nonzeros?: number } = {}) {
    this.sense = sense;
    const c = sizeHint.cols ?? 64;
    const r = sizeHint.rows ?? 64;
    const nz = sizeHint.nonzeros ?? 4 * c;
    this.cost = new F64(c);
    this.lower = new F64(c);
    this.upper = new F64(c);
    this.rowLower = new F64(r);
    this.rowUpper = new F64(r);
    this.starts = new I32(r + 1);
    this.starts.push(0);
    this.indices = new I32(nz);
    this.values = new F64(nz);
  }

  get numCols(): number {
    return this.cost.n;
  }

  get numRows(): number {
    return this.rowLower.n;
  }

  /** Adds a column; returns its index. */
  addVar(opts: VarOptions = {}): number {
    const j = this.cost.n;
    const lb = opts.lb ?? 0;
    const ub = opts.ub ?? Infinity;
    if (Number.isNaN(lb) || Number.isNaN(ub) || lb > ub) {
      throw new RondoError({ code: 'E_SOLVER', problem: `column ${opts.name ?? j} has bounds [${lb}, ${ub}]` });
    }
    this.cost.push(opts.cost ?? 0);
    this.lower.push(lb);
    this.upper.push(ub);
    if (opts.integer) this.integer.push(j);
    if (opts.name !== undefined) {
      if (this.names.has(opts.name)) throw new RondoError({ code: 'E_SOLVER', problem: `column name ${opts.name} used twice` });
      this.names.set(opts.name, j);
    }
    return j;
  }

  col(name: string): number {
    const j = this.names.get(name);
    if (j === undefined) throw new RondoError({ code: 'E_SOLVER', problem: `no column named ${name}` });
    return j;
  }

  setCost(j: number, c: number): void {
    this.cost.a[j] = c;
  }

  setBounds(j: number, lb: number, ub: number): void {
    this.lower.a[j] = lb;
    this.upper.a[j] = ub;
  }

  /** Adds row `lb <= sum values[i] * x[indices[i]] <= ub` (no repeated index); returns its index. */
  addRow(lb: number, ub: number, indices: ArrayLike<number>, values: ArrayLike<number>): number {
    const i = this.rowLower.n;
    for (let k = 0; k < indices.length; k++) {
      const v = values[k]!;
      if (v === 0) continue;
      if (!Number.isFinite(v)) throw new RondoError({ code: 'E_SOLVER', problem: `row ${i} has coefficient ${v}` });
      this.indices.push(indices[k]!);
      this.values.push(v);
    }
    this.rowLower.push(lb);
    this.rowUpper.push(ub);
    this.starts.push(this.indices.n);
    return i;
  }

  /** Named columns and their indices. */
  columnNames(): ReadonlyMap<string, number> {
    return this.names;
  }

  /** Solves the model (synchronously; `await initSolver()` first) in the solver instance's reused native model. */
  solve(options: SolveOptions = {}, solver: Solver = defaultSolver): LpResult {
    return solver.solve(this, options);
  }

  /** @internal */
  data(highs: Highs): ModelData {
    const inf = highs.infinity;
    const clamp = (a: Float64Array): Float64Array => {
      const b = new Float64Array(a.length);
      for (let k = 0; k < a.length; k++) {
        const v = a[k]!;
        b[k] = v === Infinity ? inf : v === -Infinity ? -inf : v;
      }
      return b;
    };
    const numCols = this.cost.n;
    const numRows = this.rowLower.n;
    let integrality: Int32Array | undefined;
    if (this.integer.length > 0) {
      integrality = new Int32Array(numCols);
      for (const j of this.integer) integrality[j] = highs.constants.variableType.integer;
    }
    return {
      numCols,
      numRows,
      sense: this.sense === 'max' ? highs.constants.objectiveSense.maximize : highs.constants.objectiveSense.minimize,
      colCost: this.cost.view(),
      colLower: clamp(this.lower.view()),
      colUpper: clamp(this.upper.view()),
      rowLower: clamp(this.rowLower.view()),
      rowUpper: clamp(this.rowUpper.view()),
      matrix: {
        format: 'csr',
        numRows,
        numCols,
        starts: this.starts.view(),
        indices: this.indices.view(),
        values: this.values.view(),
      },
      ...(integrality ? { integrality } : {}),
    } as ModelData;
  }

  /**
   * @internal Every number defining the model and the options that change its answer, as 32-bit words (the solve
   * cache's key). Infinite bounds keep their IEEE bits; names do not change the answer and are left out.
   */
  modelWords(options: SolveOptions): ModelWords {
    const f64 = [this.cost, this.lower, this.upper, this.rowLower, this.rowUpper, this.values];
    const i32 = [this.starts, this.indices];
    const opts = new Float64Array([
      this.sense === 'max' ? 1 : 0,
      this.cost.n,
      this.rowLower.n,
      this.indices.n,
      ['simplex', 'ipm', 'choose'].indexOf(options.method ?? 'simplex'),
      options.crossover === undefined ? -1 : options.crossover ? 1 : 0,
      options.presolve === undefined ? -1 : options.presolve ? 1 : 0,
      options.feasibilityTolerance ?? -1,
      options.ipmTolerance ?? -1,
      options.mipGap ?? -1,
      options.simplexStrategy === undefined ? -1 : simplexStrategyCode(options.simplexStrategy),
    ]);
    const basis = options.warmStart?.colStatus && options.warmStart.rowStatus ? [options.warmStart.colStatus, options.warmStart.rowStatus] : [];
    let n = opts.length * 2 + this.integer.length + basis.reduce((s, b) => s + b.length + 1, 0);
    for (const a of f64) n += a.n * 2;
    for (const a of i32) n += a.n;
    const words = new Uint32Array(n);
    let at = 0;
    const putF64 = (a: Float64Array): void => {
      words.set(new Uint32Array(a.buffer, a.byteOffset, a.length * 2), at);
      at += a.length * 2;
    };
    putF64(opts);
    for (const a of f64) putF64(a.view());
    for (const a of i32) {
      const v = a.view();
      words.set(new Uint32Array(v.buffer, v.byteOffset, v.length), at);
      at += v.length;
    }
    words.set(this.integer, at);
    at += this.integer.length;
    for (const b of basis) {
      // Length first, so that where one status array ends is part of the key.
      words[at++] = b.length;
      words.set(new Uint32Array(b.buffer, b.byteOffset, b.length), at);
      at += b.length;
    }
    return { words };
  }

  /** @internal The model's arrays (views, not copies), for column generation (sifting.ts). */
  arrays(): { cost: Float64Array; lower: Float64Array; upper: Float64Array; rowLower: Float64Array; rowUpper: Float64Array; starts: Int32Array; indices: Int32Array; values: Float64Array } {
    return {
      cost: this.cost.view(),
      lower: this.lower.view(),
      upper: this.upper.view(),
      rowLower: this.rowLower.view(),
      rowUpper: this.rowUpper.view(),
      starts: this.starts.view(),
      indices: this.indices.view(),
      values: this.values.view(),
    };
  }

  /** @internal */
  bounds(): { rowLower: Float64Array; rowUpper: Float64Array } {
    return { rowLower: this.rowLower.view(), rowUpper: this.rowUpper.view() };
  }

  get isMip(): boolean {
    return this.integer.length > 0;
  }
}

function mapStatus(highs: Highs, code: number): LpStatus {
  const s = highs.constants.modelStatus;
  // An empty model (no columns, or presolve removed everything) is trivially solved.
  if (code === s.optimal || code === s.empty) return 'optimal';
  if (code === s.infeasible) return 'infeasible';
  if (code === s.unbounded || code === s.unboundedOrInfeasible) return 'unbounded';
  if (code === s.timeLimit) return 'time_limit';
  return 'error';
}

function trivial(lp: LpBuilder, t0: number): LpResult {
  // No columns: every row activity is 0; HiGHS declines to report on such a model.
  let feasible = true;
  const data = lp.bounds();
  for (let i = 0; i < data.rowLower.length; i++) if (data.rowLower[i]! > 1e-9 || data.rowUpper[i]! < -1e-9) feasible = false;
  return {
    status: feasible ? 'optimal' : 'infeasible',
    objective: feasible ? 0 : NaN,
    x: new Float64Array(0),
    rowValue: new Float64Array(lp.numRows),
    rowDual: undefined,
    warmStart: undefined,
    solveSeconds: (performance.now() - t0) / 1000,
    value(name: string): number {
      throw new RondoError({ code: 'E_SOLVER', problem: `no column named ${name}` });
    },
  };
}

function fromCache(lp: LpBuilder, hit: CachedSolution, t0: number): LpResult {
  const names = lp.columnNames();
  const x = hit.x;
  return {
    status: 'optimal',
    objective: hit.objective,
    x,
    rowValue: hit.rowValue,
    rowDual: hit.rowDual,
    warmStart: hit.warmStart,
    solveSeconds: (performance.now() - t0) / 1000,
    value(name: string): number {
      const j = names.get(name);
      if (j === undefined) throw new RondoError({ code: 'E_SOLVER', problem: `no column named ${name}` });
      return x[j]!;
    },
  };
}

type HighsModel = ReturnType<Highs['createModel']>;

/**
 * Options a solve may set. Options persist in a model, so each solve sets all of these, to HiGHS' defaults where it
 * has no value of its own; one with an infinite default (a time limit) is restored by resetting every option.
 */
const SOLVE_OPTIONS = [
  'output_flag',
  'presolve',
  'solver',
  'run_crossover',
  'mip_rel_gap',
  'time_limit',
  'primal_feasibility_tolerance',
  'dual_feasibility_tolerance',
  'ipm_optimality_tolerance',
  'simplex_strategy',
] as const;

/**
 * One HiGHS model per solver instance, reused by every solve: creating a model (its options, info and timers) costs
 * more than solving the small LPs a simulation solves thousands of times. `passModel` replaces the model and
 * discards the previous solution and basis, so a solve sees only its own data and options.
 */
interface ReusedModel {
  readonly model: HighsModel;
  /** HiGHS' finite defaults of `SOLVE_OPTIONS`. */
  readonly defaults: Record<string, string | number | boolean>;
  /** The last solve set an option that is not in `defaults`: reset all options first. */
  dirty: boolean;
}
/**
 * The LP solver: one owner for the HiGHS instances, the solve cache, the reused native models, the timing counters
 * and the debug sink. Policies solve through `defaultSolver` (the one instance a thread has) unless given another.
 */
export class Solver {
  readonly instances = new HighsInstances();
  readonly cache = new SolveCache();
  /** Receives one line per HiGHS run (the CLI sets it for RONDO_LP_DEBUG); none by default. */
  debug: ((line: string) => void) | undefined;
  private crossoverFallbacks = 0;
  private runSeconds = 0;
  private readonly reusable = new WeakMap<Highs, ReusedModel>();

  /** Loads HiGHS (once). Every solve after this resolves is synchronous. */
  init(): Promise<void> {
    return this.instances.init();
  }

  get ready(): boolean {
    return this.instances.ready;
  }

  /** Seconds spent in HiGHS' `run()` (for timing reports: a sweep records them per point). */
  get seconds(): number {
    return this.runSeconds;
  }

  /** How many central interior-point solves fell back to crossover (see `solve`), for diagnostics and tests. */
  get centralFallbacks(): number {
    return this.crossoverFallbacks;
  }

  /** Solves a built model (synchronously; `await init()` first), from the cache when it holds the same model. */
  solve(lp: LpBuilder, options: SolveOptions = {}): LpResult {
    const t0 = performance.now();
    if (lp.numCols === 0) return trivial(lp, t0);
    // Only complete, deterministic solves are memoised: a time limit or a warm start can change the answer, so a
    // starting basis is keyed with the model (modelWords) and a starting point is not cached at all.
    const ws = options.warmStart;
    const basisOnly = ws !== undefined && ws.colValue === undefined && ws.colStatus !== undefined && ws.rowStatus !== undefined;
    const cacheable = this.cache.enabled && options.cache !== false && options.timeLimit === undefined && (ws === undefined || basisOnly);
    const key = cacheable ? lp.modelWords(options) : undefined;
    if (key) {
      const hit = this.cache.lookup(key);
      if (hit) return fromCache(lp, hit, t0);
    }
    let result = this.solveUncached(lp, options, true, t0);
    if (result.status === 'error' && (options.method ?? 'simplex') === 'ipm' && !options.crossover && !lp.isMip) {
      // Without crossover HiGHS' interior point can stop short of its tolerances on a badly scaled LP and report
      // "unknown". Crossover from that point reaches an optimal vertex: still an optimum, only not the central one.
      // On some infeasible LPs the central run fails outright (HiGHS status -1, before any iteration) while this
      // run proves infeasibility: that verdict is kept too, so callers can relax the model (Gavel's SLO fallback).
      const again = this.solveUncached(lp, { ...options, crossover: true }, true, t0);
      if (again.status === 'optimal' || again.status === 'infeasible' || again.status === 'unbounded') {
        this.crossoverFallbacks++;
        result = again;
      }
    }
    if (key && result.status === 'optimal') {
      this.cache.store(key, { objective: result.objective, x: result.x, rowValue: result.rowValue, rowDual: result.rowDual, warmStart: result.warmStart });
    }
    return result;
  }

  private reusableModel(highs: Highs): ReusedModel {
    let r = this.reusable.get(highs);
    if (!r) {
      const model = highs.createModel();
      const defaults: Record<string, string | number | boolean> = {};
      for (const k of SOLVE_OPTIONS) {
        const v = model.options.get(k) as string | number | boolean;
        if (typeof v !== 'number' || Number.isFinite(v)) defaults[k] = v;
      }
      r = { model, defaults, dirty: false };
      this.reusable.set(highs, r);
    }
    return r;
  }

  private solveUncached(lp: LpBuilder, options: SolveOptions, retry: boolean, t0: number): LpResult {
    const highs = this.instances.activeHighs();
    let model: HighsModel | undefined;
    // HiGHS measures a time limit from the creation of the model (its run clock keeps going between solves), so a
    // solve with a time limit gets a model of its own.
    let own: HighsModel | undefined;
    try {
      const reused: ReusedModel =
        options.timeLimit === undefined ? this.reusableModel(highs) : { model: (own = highs.createModel()), defaults: {}, dirty: false };
      model = reused.model;
      model.passModel(lp.data(highs));
      const method = options.method ?? 'simplex';
      const central = method === 'ipm' && !options.crossover;
      const presolve = options.presolve ?? !central;
      const opts: Record<string, string | number | boolean> = {
        output_flag: false,
        presolve: presolve ? 'choose' : 'off',
      };
      if (!lp.isMip) {
        opts['solver'] = method;
        if (method === 'ipm') opts['run_crossover'] = options.crossover ? 'on' : 'off';
      } else if (options.mipGap !== undefined) {
        opts['mip_rel_gap'] = options.mipGap;
      }
      if (options.timeLimit !== undefined) opts['time_limit'] = options.timeLimit;
      if (options.feasibilityTolerance !== undefined) {
        opts['primal_feasibility_tolerance'] = options.feasibilityTolerance;
        opts['dual_feasibility_tolerance'] = options.feasibilityTolerance;
      }
      if (options.ipmTolerance !== undefined) opts['ipm_optimality_tolerance'] = options.ipmTolerance;
      if (options.simplexStrategy !== undefined) opts['simplex_strategy'] = simplexStrategyCode(options.simplexStrategy);
      if (reused.dirty) model.options.reset();
      reused.dirty = Object.keys(opts).some((k) => !(k in reused.defaults));
      model.options.set({ ...reused.defaults, ...opts });
      const ws = options.warmStart;
      if (ws?.colStatus && ws.rowStatus && ws.colStatus.length === lp.numCols && ws.rowStatus.length === lp.numRows) {
        model.setBasis({ colStatus: ws.colStatus, rowStatus: ws.rowStatus } as Parameters<typeof model.setBasis>[0]);
      } else if (ws?.colValue && ws.colValue.length === lp.numCols) {
        model.setSolution({ colValue: ws.colValue });
      }
      const tRun = performance.now();
      // A time limit makes the answer depend on the clock. MIP solves keep the real clock too: they are rare, and
      // HiGHS' branch and bound is not audited here for other uses of time.
      if (own || lp.isMip) model.run();
      else this.instances.untimedRun(() => model!.run());
      this.runSeconds += (performance.now() - tRun) / 1000;
      if (this.debug) {
        this.debug(`lp ${lp.numCols}x${lp.numRows} ${method} run=${(performance.now() - tRun).toFixed(2)}ms total=${(performance.now() - t0).toFixed(2)}ms simplex_it=${String(model.info.get('simplex_iteration_count'))} ipm_it=${String(model.info.get('ipm_iteration_count'))} status=${model.getModelStatus()} primal=${String(model.info.get('primal_solution_status'))}`);
      }
      const status = mapStatus(highs, model.getModelStatus());
      const sol = model.getSolution();
      const primalOk = (model.info.get('primal_solution_status') as number) >= 2;
      let warm: WarmStart | undefined;
      if (status === 'optimal' && !lp.isMip && (method !== 'ipm' || options.crossover)) {
        try {
          const b = model.getBasis();
          warm = { colStatus: b.colStatus, rowStatus: b.rowStatus, colValue: sol.colValue };
        } catch {
          warm = { colValue: sol.colValue };
        }
      } else if (primalOk) {
        warm = { colValue: sol.colValue };
      }
      const x = primalOk ? sol.colValue : new Float64Array(lp.numCols);
      const names = lp.columnNames();
      return {
        status: status === 'time_limit' || primalOk || status !== 'optimal' ? status : 'error',
        objective: primalOk ? model.getObjectiveValue() : NaN,
        x,
        rowValue: primalOk ? sol.rowValue : new Float64Array(lp.numRows),
        rowDual: !lp.isMip && primalOk ? sol.rowDual : undefined,
        warmStart: warm,
        solveSeconds: (performance.now() - t0) / 1000,
        value(name: string): number {
          const j = names.get(name);
          if (j === undefined) throw new RondoError({ code: 'E_SOLVER', problem: `no column named ${name}` });
          return x[j]!;
        },
      };
    } catch (e) {
      if (e instanceof RondoError) throw e;
      if (isAbort(e)) {
        // The instance is dead. Swap to the standby and try once more on a fresh heap.
        model = undefined;
        const swapped = this.instances.recycle('aborted');
        if (swapped && retry) return this.solveUncached(lp, options, false, t0);
        throw new RondoError({
          code: 'E_SOLVER',
          problem: `the LP solver aborted (${(e as Error).message})`,
          hint: swapped ? 'the model may be too large for the 2 GiB solver heap' : 'await initSolver() again to reload the solver',
        });
      }
      const names = lp.columnNames();
      const x = new Float64Array(lp.numCols);
      return {
        status: 'error',
        objective: NaN,
        x,
        rowValue: new Float64Array(lp.numRows),
        rowDual: undefined,
        warmStart: undefined,
        solveSeconds: (performance.now() - t0) / 1000,
        message: (e as Error).message,
        value(name: string): number {
          const j = names.get(name);
          if (j === undefined) throw new RondoError({ code: 'E_SOLVER', problem: `no column named ${name}` });
          return 0;
        },
      };
    } finally {
      try {
        own?.dispose();
      } catch {
        // Disposing a model of a dead instance can throw; the instance is being replaced anyway.
      }
      this.instances.afterSolve();
    }
  }
}

/** The thread's solver: what `LpBuilder.solve` uses unless given another. */
export const defaultSolver = new Solver();

/** Loads the default solver (once). Every solve after this resolves is synchronous. */
export function initSolver(): Promise<void> {
  return defaultSolver.init();
}

export function solverReady(): boolean {
  return defaultSolver.ready;
}

/** Seconds the default solver has spent in HiGHS' `run()` since the thread started. */
export function solverSeconds(): number {
  return defaultSolver.seconds;
}

export function centralFallbackCount(): number {
  return defaultSolver.centralFallbacks;
}

export function configureSolveCache(opts: { maxBytes: number }): void {
  defaultSolver.cache.configure(opts);
}

export function clearSolveCache(): void {
  defaultSolver.cache.clear();
}

export function solveCacheStats(): SolveCacheStats {
  return defaultSolver.cache.stats();
}
