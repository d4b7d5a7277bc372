import { LpBuilder } from '../solver/index.js';

/**
 * The LAS max-min LP (`maxmin.ts`) solved by price-directed decomposition over the K GPU types, for problems whose
 * jobs do not collapse into few classes (every job with its own measured or estimated throughput row).
 *
 *   maximise t  s.t.  mult_j * sum_k a[j][k] X[j][k] >= t (active j),  sum_k X[j][k] <= 1,
 *                     sum_j w_j X[j][k] <= caps_k,  X >= 0 on usable cells (a > 0)
 *
 * Only the K capacity rows couple the jobs. With prices p >= 0 on them (Lagrangian relaxation), each job alone
 * minimises its GPU cost `sum_k p_k w_j X[j][k]` for a given throughput r: the cheapest way is on the lower convex
 * hull of (0, 0) and its (a[j][k], p_k w_j) points, so at most two adjacent hull types share a job, in closed form.
 * The best level t for the prices is where the summed hull slopes (in t) reach 1: a binary search over the sorted
 * breakpoints. That
 * gives an upper bound on the LP optimum, `L(p) = p.caps + max_t (t - sum_j cost_j(t / mult_j))`, and an
 * allocation (a column): every active job at exactly t / mult_j, using `U_k` GPUs of type k.
 *
 * Dantzig-Wolfe over these columns: the master LP (K + 1 rows) mixes columns, `max sum_i l_i t_i` with
 * `sum_i l_i U_i <= caps` and `sum_i l_i = 1`; a mix of allocations is an allocation (every constraint is linear)
 * whose level is at least the mixed t. Its capacity duals are the next prices. The master value is a feasible
 * level (lower bound), the best L(p) an upper bound on the exact optimum, so the ratio is certified; it stops once
 * the ratio reaches `minRatio`. Leftover GPUs are then handed out (levels only rise). Callers fall back to the exact
 * LP when `certified` is false.
 */
export interface DecomposedInput {
  /** Number of jobs (or class representatives). */
  readonly n: number;
  readonly K: number;
  /** Row-major n x K coefficients, 0 where the job cannot run. */
  readonly a: Float64Array;
  readonly mult: ArrayLike<number>;
  /** GPUs one unit of X[j][k] takes (scale factor x class size). */
  readonly w: ArrayLike<number>;
  readonly active: ArrayLike<boolean>;
  readonly caps: readonly number[];
  /** Stop once lower / upper bound >= this (default 0.9995: leaves room for rounding below 0.999). */
  readonly minRatio?: number;
  /** Give up (certified false) after this many master solves (default 200). */
  readonly maxIterations?: number;
}

export interface DecomposedOutput {
  /** Row-major n x K shares; rows sum to <= 1, types within capacity. */
  readonly x: Float64Array;
  /** Level of the mixed allocation before leftover GPUs are handed out (lower bound on the optimum). */
  readonly lowerBound: number;
  /** Best Lagrangian bound (the exact optimum is at most this). */
  readonly upperBound: number;
  readonly iterations: number;
  readonly certified: boolean;
}

interface Column {
  t: number;
  U: Float64Array;
  /** Prices that generated it (its allocation is recomputed from them); undefined for the fixed first columns. */
  p?: Float64Array;
  /** Allocation of a fixed column. */
  x?: Float64Array;
}

/** Per job: its usable types ordered by a ascending (precomputed once), -1 padded. */
function typeOrder(inp: DecomposedInput): Int32Array {
  const { n, K, a } = inp;
  const order = new Int32Array(n * K).fill(-1);
  const tmp: number[] = [];
  for (let j = 0; j < n; j++) {
    tmp.length = 0;
    for (let k = 0; k < K; k++) if (a[j * K + k]! > 0) tmp.push(k);
    tmp.sort((u, v) => a[j * K + u]! - a[j * K + v]! || u - v);
    for (let i = 0; i < tmp.length; i++) order[j * K + i] = tmp[i]!;
  }
  return order;
}

/**
 * Lower convex hulls of every job's (a, cost) points from the origin, for prices p: `hull[j * K + i]` is the type
 * of vertex i + 1 (vertex 0 is the origin), `len[j]` the vertex count past the origin.
 */
function hulls(inp: DecomposedInput, order: Int32Array, p: Float64Array, hull: Int32Array, len: Int32Array): void {
  const { n, K, a, w } = inp;
  for (let j = 0; j < n; j++) {
    let m = 0;
    const base = j * K;
    for (let i = 0; i < K; i++) {
      const k = order[base + i]!;
      if (k < 0) break;
      const ak = a[base + k]!;
      const qk = p[k]! * w[j]!;
      // Equal a: keep the cheaper point.
      if (m > 0 && a[base + hull[base + m - 1]!]! === ak) {
        if (p[hull[base + m - 1]!]! * w[j]! <= qk) continue;
        m--;
      }
      // Pop vertices that lie on or above the segment from their predecessor to this point.
      while (m > 0) {
        const k1 = hull[base + m - 1]!;
        const a1 = a[base + k1]!;
        const q1 = p[k1]! * w[j]!;
        const a0 = m > 1 ? a[base + hull[base + m - 2]!]! : 0;
        const q0 = m > 1 ? p[hull[base + m - 2]!]! * w[j]! : 0;
        if ((q1 - q0) * (ak - a0) >= (qk - q0) * (a1 - a0)) m--;
        else break;
      }
      hull[base + m++] = k;
    }
    len[j] = m;
  }
}

/** Right derivative in t of sum_j cost_j(t / mult_j) (the summed hull slopes). */
function slopeAt(inp: DecomposedInput, p: Float64Array, hull: Int32Array, len: Int32Array, t: number): number {
  const { n, K, a, w, mult, active } = inp;
  let s = 0;
  for (let j = 0; j < n; j++) {
    if (!active[j]) continue;
    const base = j * K;
    const r = t / mult[j]!;
    let a0 = 0;
    let q0 = 0;
    for (let i = 0; i < len[j]!; i++) {
      const k = hull[base + i]!;
      const a1 = a[base + k]!;
      const q1 = p[k]! * w[j]!;
      if (r < a1 || i === len[j]! - 1) {
        s += (q1 - q0) / (a1 - a0) / mult[j]!;
        break;
      }
      a0 = a1;
      q0 = q1;
    }
  }
  return s;
}

interface Work {
  readonly order: Int32Array;
  readonly hull: Int32Array;
  readonly len: Int32Array;
  readonly events: Float64Array;
}

/**
 * The Lagrangian subproblem at prices p: the best level t, the GPUs U its allocation uses, and L(p). With `x`, the
 * allocation itself is written there (only needed for the columns the final mix uses, so it is not kept per column).
 */
function price(inp: DecomposedInput, wk: Work, p: Float64Array, x?: Float64Array): { col: Column; bound: number } {
  const { n, K, a, w, mult, active, caps } = inp;
  const { hull, len, events } = wk;
  hulls(inp, wk.order, p, hull, len);
  // Largest level every active job can reach alone; breakpoints below it are the candidate optima.
  let tMax = Infinity;
  for (let j = 0; j < n; j++) {
    if (!active[j] || len[j] === 0) continue;
    tMax = Math.min(tMax, mult[j]! * a[j * K + hull[j * K + len[j]! - 1]!]!);
  }
  if (!Number.isFinite(tMax)) tMax = 0;
  let ne = 0;
  events[ne++] = 0;
  for (let j = 0; j < n; j++) {
    if (!active[j]) continue;
    for (let i = 0; i < len[j]! - 1; i++) {
      const t = mult[j]! * a[j * K + hull[j * K + i]!]!;
      if (t < tMax) events[ne++] = t;
    }
  }
  const ev = events.subarray(0, ne).sort();
  // phi(t) = t - sum cost is concave: the optimum is the first breakpoint whose right slope of the cost reaches 1.
  let lo = 0;
  let hi = ne;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (slopeAt(inp, p, hull, len, ev[mid]!) >= 1) hi = mid;
    else lo = mid + 1;
  }
  const t = lo < ne ? ev[lo]! : tMax;
  const U = new Float64Array(K);
  let cost = 0;
  for (let j = 0; j < n; j++) {
    if (!active[j] || len[j] === 0) continue;
    const base = j * K;
    const r = t / mult[j]!;
    let prev = -1;
    let a0 = 0;
    for (let i = 0; i < len[j]!; i++) {
      const k = hull[base + i]!;
      const a1 = a[base + k]!;
      if (r <= a1 || i === len[j]! - 1) {
        // r on the hull segment from the previous vertex (or the origin) to this one.
        const theta = Math.min(1, (r - a0) / (a1 - a0));
        U[k] = U[k]! + theta * w[j]!;
        cost += p[k]! * theta * w[j]!;
        if (x) x[base + k] = theta;
        if (prev >= 0) {
          U[prev] = U[prev]! + (1 - theta) * w[j]!;
          cost += p[prev]! * (1 - theta) * w[j]!;
          if (x) x[base + prev] = 1 - theta;
        }
        break;
      }
      prev = k;
      a0 = a1;
    }
  }
  let pc = 0;
  for (let k = 0; k < K; k++) pc += p[k]! * caps[k]!;
  return { col: { t, U, p: Float64Array.from(p) }, bound: pc + t - cost };
}

/** A feasible first column besides zero: every job an equal slice of every type it may use. */
function proportionalColumn(inp: DecomposedInput): Column {
  const { n, K, a, w, mult, active, caps } = inp;
  let demand = 0;
  let gpus = 0;
  for (let j = 0; j < n; j++) if (active[j]) demand += w[j]!;
  for (const c of caps) gpus += c;
  const S = Math.max(demand, gpus);
  const x = new Float64Array(n * K);
  const U = new Float64Array(K);
  let t = Infinity;
  for (let j = 0; j < n; j++) {
    if (!active[j]) continue;
    let u = 0;
    for (let k = 0; k < K; k++) {
      if (!(a[j * K + k]! > 0) || S <= 0) continue;
      const v = caps[k]! / S;
      x[j * K + k] = v;
      U[k] = U[k]! + v * w[j]!;
      u += a[j * K + k]! * v;
    }
    t = Math.min(t, mult[j]! * u);
  }
  return { t: Number.isFinite(t) ? t : 0, U, x };
}

/** The master LP, or undefined when HiGHS does not solve it (the caller then reports no certificate). */
function solveMaster(cols: readonly Column[], caps: readonly number[], K: number): { lambda: Float64Array; p: Float64Array; value: number } | undefined {
  const lp = new LpBuilder('max', { cols: cols.length, rows: K + 1, nonzeros: (K + 1) * cols.length });
  for (const c of cols) lp.addVar({ lb: 0, cost: c.t });
  const idx = cols.map((_, i) => i);
  for (let k = 0; k < K; k++) lp.addRow(-Infinity, caps[k]!, idx, cols.map((c) => c.U[k]!));
  lp.addRow(1, 1, idx, cols.map(() => 1));
  const r = lp.solve({ method: 'simplex', cache: false });
  if (r.status !== 'optimal' || !r.rowDual) return undefined;
  const p = new Float64Array(K);
  // Capacity duals of a maximisation are <= 0 in HiGHS' sign convention; the prices are their magnitudes.
  for (let k = 0; k < K; k++) p[k] = Math.abs(r.rowDual[k]!);
  return { lambda: r.x, p, value: r.objective };
}

/**
 * Hands out GPUs the mix leaves idle: type by type, to jobs with room left in their row, fastest (largest a)
 * first. Levels only rise, so the certified level stands; the exact LP's interior point also spends such slack.
 */
function fillLeftover(inp: DecomposedInput, x: Float64Array): void {
  const { n, K, a, w, active, caps } = inp;
  const used = new Float64Array(K);
  const room = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) {
      s += x[j * K + k]!;
      used[k] = used[k]! + x[j * K + k]! * w[j]!;
    }
    room[j] = active[j] ? Math.max(0, 1 - s) : 0;
  }
  for (let k = 0; k < K; k++) {
    let left = caps[k]! - used[k]!;
    if (!(left > 1e-9)) continue;
    const order: number[] = [];
    for (let j = 0; j < n; j++) if (room[j]! > 1e-12 && a[j * K + k]! > 0) order.push(j);
    order.sort((u, v) => a[v * K + k]! - a[u * K + k]! || u - v);
    for (const j of order) {
      if (!(left > 1e-9)) break;
      const add = Math.min(room[j]!, left / w[j]!);
      x[j * K + k] = x[j * K + k]! + add;
      room[j] = room[j]! - add;
      left -= add * w[j]!;
    }
  }
}

export function solveMaxMinDecomposed(inp: DecomposedInput): DecomposedOutput {
  const { n, K, caps } = inp;
  const minRatio = inp.minRatio ?? 0.9995;
  const maxIterations = inp.maxIterations ?? 200;
  const wk: Work = { order: typeOrder(inp), hull: new Int32Array(n * K), len: new Int32Array(n), events: new Float64Array(n * K + 1) };
  const cols: Column[] = [{ t: 0, U: new Float64Array(K), x: new Float64Array(n * K) }, proportionalColumn(inp)];
  let upper = Infinity;
  let master = solveMaster(cols, caps, K);
  let iterations = 1;
  while (master) {
    const { col, bound } = price(inp, wk, master.p);
    upper = Math.min(upper, bound);
    if (master.value >= minRatio * upper || iterations >= maxIterations) break;
    cols.push(col);
    const next = solveMaster(cols, caps, K);
    iterations++;
    // A master HiGHS did not solve: keep the last one (its mix is still feasible) and stop.
    if (!next) break;
    master = next;
  }
  const x = new Float64Array(n * K);
  if (!master) return { x, lowerBound: 0, upperBound: upper, iterations, certified: false };
  const xi = new Float64Array(n * K);
  for (let i = 0; i < master.lambda.length; i++) {
    const l = master.lambda[i]!;
    if (!(l > 0)) continue;
    const c = cols[i]!;
    let src = c.x;
    if (!src) {
      xi.fill(0);
      price(inp, wk, c.p!, xi);
      src = xi;
    }
    for (let e = 0; e < x.length; e++) x[e] = x[e]! + l * src[e]!;
  }
  fillLeftover(inp, x);
  return { x, lowerBound: master.value, upperBound: upper, iterations, certified: master.value >= minRatio * upper };
}
