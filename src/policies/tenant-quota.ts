import { LpBuilder, type LpResult } from '../solver/index.js';
import { solveSifting } from '../solver/sifting.js';
import type { TenantTree } from '../model/tenants.js';
import { classSize, finishAllocation, solverFailure, zeroShares } from './common.js';
import { demandCaps, entitlements, richestColumns, tenantProblem, type TenantProblem } from './tenant-model.js';
import { innerShares } from './tenant-inner.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Tenant quotas in normalised throughput (docs/tenants.md, "tenant_quota"). Per call, on HiGHS:
 *
 * 1. Entitlements E_i: what each node's guarantee is worth to its own active jobs (tenant-model.ts).
 * 2. If the guarantees cannot all be met together (normalised or nested ones can conflict), the largest common
 *    fraction lambda <= 1 of them is found by an LP and every entitlement is scaled by it.
 * 3. Water-filling over the leaves with demand: maximise theta with `U_t >= E_t + base_t + w_t * theta` for the
 *    unfrozen leaves (w_t: the leaf's share of the weights, spread down the tree over subtrees that can still grow,
 *    Gavel's hierarchical reweighting), every node keeping `U_i >= E_i` and every frozen leaf its level; then
 *    freeze the leaves that cannot grow any more (an LP over bounded improvements, as water-filling.ts). The
 *    capacity rows hold back the unused part of each lending-limited guarantee; borrowing limits cap GPUs per type
 *    (or normalised units) above the guarantee.
 * 4. Each leaf's GPUs per type and its normalised throughput from step 3 are handed to its inner policy
 *    (tenant-inner.ts), which divides them among its own jobs.
 *
 * The policy is pure: a lent guarantee comes back at the next allocation, when the mechanism preempts (with a
 * checkpoint) the borrower's jobs whose share went down; nothing is killed.
 */

const RELAX_REL = 1e-7;
const RELAX_ABS = 1e-6;

function relaxed(v: number): number {
  return Math.max(0, v - RELAX_REL * Math.abs(v) - RELAX_ABS);
}

export interface Polytope {
  readonly lp: LpBuilder;
  /** Column of (class, type), or -1. */
  readonly col: Int32Array;
}

/** Allocation polytope over tenant classes with capacity, lending reservations and borrowing limits. */
export function tenantPolytope(tp: TenantProblem, sense: 'min' | 'max'): Polytope {
  const { p, classes, flat } = tp;
  const K = p.types.length;
  const C = classes.members.length;
  const lp = new LpBuilder(sense, { cols: C * K + 8, rows: C + K + flat.nodes.length * K });
  const col = new Int32Array(C * K).fill(-1);
  for (let c = 0; c < C; c++) {
    const j = classes.members[c]![0]!;
    if (!tp.inLp[j]) continue;
    const idx: number[] = [];
    for (let k = 0; k < K; k++) {
      if (tp.value[j]![k]! > 0) {
        col[c * K + k] = lp.addVar({ lb: 0, ub: 1 });
        idx.push(col[c * K + k]!);
      }
    }
    if (idx.length > 1) lp.addRow(-Infinity, 1, idx, idx.map(() => 1));
  }
  for (let k = 0; k < K; k++) {
    const t = p.types[k]!;
    const [idx, val] = gpuExpr(tp, col, tp.classes.members.map((_, c) => c), k);
    let cap = p.caps[k]!;
    // Unused reserved GPUs (guarantee minus lending limit) of a leaf are out of everyone else's reach:
    // sum N + sum_i (r_i - m_i) <= G with m_i <= min(r_i, N_i); the LP sets m_i to that minimum where it matters.
    flat.nodes.forEach((node, i) => {
      const g = node.guarantee;
      if (!node.lendingLimit || g?.kind !== 'gpus') return;
      const lend = node.lendingLimit[t];
      const r = Math.min(cap, (g.gpus[t] ?? 0) - (lend ?? g.gpus[t] ?? 0));
      if (!(r > 0)) return;
      cap -= r;
      if (!tp.hasDemand[i]) return;
      const m = lp.addVar({ lb: 0, ub: r });
      const [ni, nv] = gpuExpr(tp, col, tp.subtreeClasses[i]!, k);
      lp.addRow(-Infinity, 0, [m, ...ni], [1, ...nv.map((v) => -v)]);
      idx.push(m);
      val.push(-1);
    });
    if (idx.length > 0) lp.addRow(-Infinity, Math.max(0, cap), idx, val);
  }
  flat.nodes.forEach((node, i) => {
    const b = node.borrowingLimit;
    if (b === undefined || !tp.hasDemand[i]) return;
    const g = node.guarantee;
    if (typeof b === 'number') {
      const [idx, val] = uExpr(tp, col, i);
      lp.addRow(-Infinity, (g?.kind === 'normalized' ? g.units : 0) + b, idx, val);
      return;
    }
    for (let k = 0; k < K; k++) {
      const t = p.types[k]!;
      if (b[t] === undefined) continue;
      const [idx, val] = gpuExpr(tp, col, tp.subtreeClasses[i]!, k);
      if (idx.length > 0) lp.addRow(-Infinity, (g?.kind === 'gpus' ? (g.gpus[t] ?? 0) : 0) + b[t], idx, val);
    }
  });
  return { lp, col };
}

/** GPUs of type k used by the given classes. */
export function gpuExpr(tp: TenantProblem, col: Int32Array, cls: readonly number[], k: number): [number[], number[]] {
  const K = tp.p.types.length;
  const idx: number[] = [];
  const val: number[] = [];
  for (const c of cls) {
    const v = col[c * K + k]!;
    if (v < 0) continue;
    idx.push(v);
    val.push(classSize(tp.classes, c) * tp.p.jobs[tp.classes.members[c]![0]!]!.scaleFactor);
  }
  return [idx, val];
}

/** Normalised throughput U_i of node i. */
export function uExpr(tp: TenantProblem, col: Int32Array, i: number): [number[], number[]] {
  const K = tp.p.types.length;
  const idx: number[] = [];
  const val: number[] = [];
  for (const c of tp.subtreeClasses[i]!) {
    const j = tp.classes.members[c]![0]!;
    const size = classSize(tp.classes, c);
    for (let k = 0; k < K; k++) {
      const v = col[c * K + k]!;
      if (v < 0) continue;
      idx.push(v);
      val.push(size * tp.value[j]![k]!);
    }
  }
  return [idx, val];
}

/** Leaf weights for one water-filling round: each node's weight is split among its children that can still grow. */
function leafWeights(tp: TenantProblem, open: readonly boolean[]): Float64Array {
  const { flat } = tp;
  const N = flat.nodes.length;
  const openNode = new Array<boolean>(N).fill(false);
  for (let i = 0; i < N; i++) if (open[i]) for (const a of flat.ancestors[i]!) openNode[a] = true;
  const w = new Float64Array(N);
  const share = (siblings: number[], total: number): void => {
    const live = siblings.filter((i) => openNode[i]);
    const sum = live.reduce((s, i) => s + flat.nodes[i]!.weight, 0);
    for (const i of live) {
      const wi = (total * flat.nodes[i]!.weight) / sum;
      const kids = childrenOf(tp, i);
      if (kids.length === 0) w[i] = wi;
      else share(kids, wi);
    }
  };
  share(childrenOf(tp, -1), 1);
  return w;
}

function childrenOf(tp: TenantProblem, i: number): number[] {
  const out: number[] = [];
  tp.flat.parent.forEach((p, c) => {
    if (p === i) out.push(c);
  });
  return out;
}

export interface Stage1Result {
  /** Per leaf: GPUs per type and normalised throughput it is given. */
  readonly gpus: Float64Array[];
  readonly u: Float64Array;
  /** Entitlements after scaling by lambda. */
  readonly entitled: Float64Array;
  readonly lambda: number;
  readonly rounds: number;
  /** Shares per class from the last LP (a fallback for the inner step). */
  readonly classShares: Float64Array[];
}

/**
 * Solves a tenant-level LP by column generation (src/solver/sifting.ts) over the class columns in `hot` (the
 * columns that ever carried a share in this allocation, and a first guess, `initialHot`): an optimum of the whole
 * LP, at a fraction of its size. Columns that carry a share join `hot` for the next LP.
 */
function solvePolytope(s: Polytope, hot: Uint8Array | undefined): LpResult {
  if (!hot) return s.lp.solve({ method: 'simplex' });
  const keep = new Uint8Array(s.lp.numCols).fill(1);
  for (let q = 0; q < s.col.length; q++) {
    const v = s.col[q]!;
    if (v >= 0 && !hot[q]) keep[v] = 0;
  }
  const r = solveSifting(s.lp, keep, { method: 'simplex' });
  if (r.status === 'optimal') {
    for (let q = 0; q < s.col.length; q++) {
      const v = s.col[q]!;
      if (v >= 0 && r.x[v]! > 0) hot[q] = 1;
    }
  }
  return r;
}

function solveOrThrow(s: Polytope, hot: Uint8Array | undefined, policy: string): Float64Array {
  const r = solvePolytope(s, hot);
  if (r.status !== 'optimal') throw solverFailure(policy, r.status, r.message);
  return r.x;
}

/**
 * First guess at the class columns a tenant-level optimum uses: per leaf and type, the leaf's classes in order of
 * normalised throughput per GPU of that type, until they would fill twice the leaf's guarantee plus an even split
 * of the type among the leaves with demand. Only a guess: pricing adds whatever else an optimum needs.
 */
function initialHot(tp: TenantProblem): Uint8Array {
  const { p, flat, classes } = tp;
  const K = p.types.length;
  const hot = new Uint8Array(classes.members.length * K);
  const leaves = flat.nodes.map((_, i) => i).filter((i) => flat.nodes[i]!.children.length === 0 && tp.hasDemand[i]);
  for (const i of leaves) {
    const g = flat.nodes[i]!.guarantee;
    const budget = p.types.map((t, k) => 2 * ((g?.kind === 'gpus' ? (g.gpus[t] ?? 0) : 0) + p.caps[k]! / leaves.length));
    richestColumns(tp, tp.subtreeClasses[i]!, budget, (q) => (hot[q] = 1));
  }
  return hot;
}

export interface LevelOptions {
  /** Default true: solve the tenant-level LPs by column generation; false solves each whole (the reference). */
  readonly columnGeneration?: boolean;
}

export function tenantLevels(tp: TenantProblem, policy: string, opts: LevelOptions = {}): Stage1Result {
  const { flat, classes } = tp;
  const N = flat.nodes.length;
  const K = tp.p.types.length;
  const E = entitlements(tp, policy, opts.columnGeneration !== false);
  const guarded = flat.nodes.map((_, i) => i).filter((i) => E[i]! > 0);
  const hot = opts.columnGeneration === false ? undefined : initialHot(tp);
  let lambda = 1;
  // GPU guarantees of a flat tree always fit together (each leaf alone on its own GPUs); others may not.
  const mayConflict = flat.nodes.some(
    (n, i) => n.guarantee?.kind === 'normalized' || (n.guarantee !== undefined && flat.ancestors[i]!.some((a) => a !== i && flat.nodes[a]!.guarantee !== undefined)),
  );
  if (guarded.length > 0 && mayConflict) {
    const s = tenantPolytope(tp, 'max');
    const l = s.lp.addVar({ lb: 0, ub: 1, cost: 1 });
    for (const i of guarded) {
      const [idx, val] = uExpr(tp, s.col, i);
      s.lp.addRow(0, Infinity, [...idx, l], [...val, -E[i]!]);
    }
    lambda = Math.min(1, Math.max(0, solveOrThrow(s, hot, policy)[l]! * (1 - 1e-9)));
  }
  const entitled = E.map((e) => e * lambda);
  const leaves = flat.nodes.map((n, i) => n.children.length === 0 && tp.hasDemand[i]!);
  const frozen = leaves.map((x) => !x);
  const base = new Float64Array(N);
  let x: Float64Array | undefined;
  let col: Int32Array = new Int32Array(0);
  let rounds = 0;
  const floorRows = (s: Polytope, skip: (i: number) => boolean): void => {
    for (const i of guarded) {
      if (skip(i)) continue;
      const [idx, val] = uExpr(tp, s.col, i);
      s.lp.addRow(relaxed(entitled[i]! + (leaves[i] ? base[i]! : 0)), Infinity, idx, val);
    }
    for (let i = 0; i < N; i++) {
      if (!leaves[i] || E[i]! > 0 || skip(i) || base[i]! <= 0) continue;
      const [idx, val] = uExpr(tp, s.col, i);
      s.lp.addRow(relaxed(base[i]!), Infinity, idx, val);
    }
  };
  while (frozen.some((f) => !f) && rounds <= N) {
    rounds++;
    const w = leafWeights(tp, frozen.map((f) => !f));
    const s = tenantPolytope(tp, 'max');
    const theta = s.lp.addVar({ lb: -Infinity, ub: Infinity, cost: 1 });
    floorRows(s, (i) => leaves[i]! && !frozen[i]);
    const levelRow = new Map<number, number>();
    for (let i = 0; i < N; i++) {
      if (frozen[i]) continue;
      const [idx, val] = uExpr(tp, s.col, i);
      levelRow.set(i, s.lp.addRow(entitled[i]! + base[i]!, Infinity, [...idx, theta], [...val, -w[i]!]));
    }
    const r = solvePolytope(s, hot);
    if (r.status !== 'optimal') throw solverFailure(policy, r.status, r.message);
    x = r.x;
    col = s.col;
    const th = Math.max(0, x[theta]!);
    // Round 1 stopped at a tenant's own demand: freeze every such tenant at once, then go on with the rest.
    if (rounds === 1 && preFreeze(tp, policy, { leaves, frozen, base, entitled, floorRows, hot }, th)) continue;
    for (let i = 0; i < N; i++) if (!frozen[i]) base[i] = base[i]! + w[i]! * th;
    // A tenant whose level row has a nonzero dual is tight in every optimal solution (complementary slackness holds
    // between any optimal primal and any optimal dual), so it cannot grow: frozen without the bottleneck LP, which
    // then only looks at the tenants whose dual is zero.
    const pending = frozen.slice();
    for (const [i, row] of levelRow) if (Math.abs(r.rowDual?.[row] ?? 0) > 1e-9) pending[i] = true;
    const grow = pending.every((f) => f) ? pending.map(() => false) : improvable(tp, policy, pending, (s2) => floorRows(s2, () => false), entitled, base, hot);
    let newly = 0;
    for (let i = 0; i < N; i++) {
      if (!frozen[i] && !grow[i]) {
        frozen[i] = true;
        newly++;
      }
    }
    if (newly === 0) break;
  }
  if (!x && leaves.some((l) => l)) {
    // Every leaf was frozen before the first round (all saturated by their own demand): any point at the floors.
    const s = tenantPolytope(tp, 'max');
    floorRows(s, () => false);
    x = solveOrThrow(s, hot, policy);
    col = s.col;
  }
  const gpus = flat.nodes.map(() => new Float64Array(K));
  const u = new Float64Array(N);
  const classShares = classes.members.map(() => new Float64Array(K));
  if (x) {
    classes.members.forEach((members, c) => {
      const j = members[0]!;
      if (!tp.inLp[j]) return;
      const leaf = tp.leafOf[j]!;
      const size = members.length;
      for (let k = 0; k < K; k++) {
        const v = col[c * K + k]!;
        if (v < 0) continue;
        const y = Math.min(1, Math.max(0, x![v]!));
        classShares[c]![k] = y;
        gpus[leaf]![k] = gpus[leaf]![k]! + size * tp.p.jobs[j]!.scaleFactor * y;
        u[leaf] = u[leaf]! + size * tp.value[j]![k]! * y;
      }
    });
  }
  return { gpus, u, entitled, lambda, rounds, classShares };
}

/**
 * Leaves whose own jobs cannot absorb the common water level freeze at their demand in one go, instead of one
 * water-filling round each (200 small tenants would take 200 rounds). With the leaf weights w_t of the first
 * round, leaf t is saturated at level `tmax_t = (D_t - E_t) / w_t` (D_t its jobs' best use of the whole cluster);
 * a bisection over the sorted `tmax` finds the largest one at which every leaf can be at `E_t + w_t min(level,
 * tmax_t)` together. Leaves at or below it are frozen at D_t; the others start from that level. For a flat tree this
 * is exactly where sequential water-filling ends (levels stay proportional to the weights); in a nested tree the
 * reweighting among siblings starts from the next round.
 */
function preFreeze(
  tp: TenantProblem,
  policy: string,
  st: {
    leaves: readonly boolean[];
    frozen: boolean[];
    base: Float64Array;
    entitled: Float64Array;
    floorRows: (s: Polytope, skip: (i: number) => boolean) => void;
    hot: Uint8Array | undefined;
  },
  reached: number,
): boolean {
  const N = tp.flat.nodes.length;
  const open = st.leaves.map((l, i) => l && !st.frozen[i]);
  const ids = [...Array(N).keys()].filter((i) => open[i]);
  if (ids.length < 2) return false;
  const w = leafWeights(tp, open);
  const D = demandCaps(tp, policy, ids, st.hot !== undefined);
  const tmax = new Map(ids.map((i) => [i, Math.max(0, (D[i]! - st.entitled[i]!) / w[i]!)]));
  const levels = [...new Set(tmax.values())].sort((a, b) => a - b);
  // Below the lowest saturation level the first round's LP already decided (capacity binds first).
  if (reached < levels[0]! * (1 - 1e-6) - 1e-9) return false;
  // Feasible when the largest fraction lambda of the way from the entitlements to the targets reaches 1: an LP
  // that is always feasible, which simplex solves far faster than it proves an infeasible one infeasible.
  const feasible = (level: number): boolean => {
    const s = tenantPolytope(tp, 'max');
    st.floorRows(s, (i) => open[i]!);
    const lambda = s.lp.addVar({ lb: 0, ub: 1, cost: 1 });
    for (const i of ids) {
      const [idx, val] = uExpr(tp, s.col, i);
      const from = relaxed(st.entitled[i]!);
      const to = relaxed(st.entitled[i]! + w[i]! * Math.min(level, tmax.get(i)!));
      s.lp.addRow(from, Infinity, [...idx, lambda], [...val, -(to - from)]);
    }
    const r = solvePolytope(s, st.hot);
    return r.status === 'optimal' && r.x[lambda]! >= 1 - 1e-9;
  };
  // The first round reached `reached`, so every level up to it is feasible.
  let lo = 0;
  while (lo + 1 < levels.length && levels[lo + 1]! <= reached) lo++;
  if (lo < levels.length - 1 && feasible(levels[levels.length - 1]!)) lo = levels.length - 1;
  else {
    let hi = levels.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (feasible(levels[mid]!)) lo = mid;
      else hi = mid;
    }
  }
  const level = levels[lo]!;
  for (const i of ids) {
    const t = tmax.get(i)!;
    st.base[i] = w[i]! * Math.min(level, t);
    if (t <= level) st.frozen[i] = true;
  }
  return true;
}

/** Which unfrozen leaves can still raise U above their level while every other keeps its floor. */
function improvable(
  tp: TenantProblem,
  policy: string,
  frozen: readonly boolean[],
  floors: (s: Polytope) => void,
  entitled: Float64Array,
  base: Float64Array,
  hot: Uint8Array | undefined,
): boolean[] {
  const N = tp.flat.nodes.length;
  const found = new Array<boolean>(N).fill(false);
  const cand = new Set<number>();
  for (let i = 0; i < N; i++) if (!frozen[i]) cand.add(i);
  while (cand.size > 0) {
    const s = tenantPolytope(tp, 'max');
    floors(s);
    const sCol = new Map<number, number>();
    for (const i of cand) {
      const level = entitled[i]! + base[i]!;
      const step = level * 1e-4 + 1e-3;
      const v = s.lp.addVar({ lb: 0, ub: 1, cost: 1 });
      sCol.set(i, v);
      const [idx, val] = uExpr(tp, s.col, i);
      s.lp.addRow(relaxed(level), Infinity, [...idx, v], [...val, -step]);
    }
    const x = solveOrThrow(s, hot, policy);
    let progress = false;
    for (const [i, v] of sCol) {
      if (x[v]! > 0.5) {
        found[i] = true;
        cand.delete(i);
        progress = true;
      }
    }
    if (!progress) break;
  }
  return found;
}

export function createTenantQuotaPolicy(name: string, aliases: readonly string[], tree: TenantTree | undefined): Policy {
  return {
    meta: {
      name,
      aliases,
      description: 'Tenant quotas per GPU type with borrowing and lending, fair in normalised throughput (--tenants FILE)',
      heterogeneityAware: true,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
      // Idle GPUs must stay idle where the quotas say so (lending and borrowing limits): only allocated rows run.
      onlyAllocatedRowsRun: true,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const tp = tenantProblem(snapshot, tree);
      if (tp.p.jobs.length === 0) return { allocation: finishAllocation(tp.p, zeroShares(tp.p)) };
      const levels = tenantLevels(tp, name);
      return { allocation: finishAllocation(tp.p, innerShares(tp, levels)) };
    },
  };
}
