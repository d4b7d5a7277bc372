import { LpBuilder } from '../solver/index.js';
import { solveSifting } from '../solver/sifting.js';
import { flatTreeOf, flattenTenants, referenceTypeIndex, type FlatTenants, type TenantNode, type TenantTree } from '../model/tenants.js';
import type { Classes, Problem } from './common.js';
import { classSize, groupBy, makeProblem, rowKey, solverFailure } from './common.js';
import type { PolicySnapshot } from './types.js';

/**
 * What the tenant policies (tenant-quota.ts, kueue-quota.ts) and the per-tenant accounting share: the snapshot's
 * jobs mapped onto the tenant tree, each job's normalised value per GPU of each type, and each node's entitlement.
 *
 * Normalised throughput (docs/tenants.md): a job j of scale s_j that runs a fraction X[j][k] of the time on type k
 * receives `u_j = s_j * sum_k X[j][k] * T[j][k] / R_j` reference-GPU equivalents, where R_j is its throughput on
 * the reference type (v100 unless the tree says otherwise; a job that cannot run there is normalised by its best
 * type). A job on s V100s receives s; on s K80s it receives s times its own K80/V100 speed ratio. A node's
 * normalised throughput U_i is the sum over the jobs of its subtree.
 */

/** Jobs without a tenant belong to this leaf. */
export const DEFAULT_TENANT = 'default';

export interface TenantProblem {
  readonly p: Problem;
  readonly flat: FlatTenants;
  /** Leaf node index per job. */
  readonly leafOf: Int32Array;
  /** Per job: `s_j * T[j][k] / R_j` on usable types, else 0 (the coefficient of X[j][k] in u_j). */
  readonly value: readonly Float64Array[];
  /** Jobs that can run somewhere. */
  readonly inLp: readonly boolean[];
  /** Classes of interchangeable jobs (same leaf, scale, value row, usable types), for the tenant-level LPs. */
  readonly classes: Classes;
  /** Per node: the classes of its subtree. */
  readonly subtreeClasses: readonly (readonly number[])[];
  /** Per node: it or a descendant holds a job that can run. */
  readonly hasDemand: readonly boolean[];
}

/**
 * Maps a snapshot onto a tree. Tenants of jobs that the tree lacks become extra top-level leaves (weight from
 * `snapshot.tenantWeights`, else 1; no guarantee), so a live server never fails on a new tenant; the CLI checks
 * traces against the tree up front (`checkJobTenants`).
 */
export function tenantProblem(snapshot: PolicySnapshot, tree: TenantTree | undefined): TenantProblem {
  const p = makeProblem(snapshot);
  const names = snapshot.jobs.map((j) => j.tenant ?? DEFAULT_TENANT);
  let full = tree ?? flatTreeOf(names, snapshot.tenantWeights);
  const known = flattenTenants(full);
  const extra = [...new Set(names.filter((t) => !known.leafIndex.has(t)))].sort();
  if (tree && extra.length > 0) {
    const add: TenantNode[] = extra.map((name) => ({ name, path: `(job tenant ${name})`, weight: snapshot.tenantWeights?.[name] ?? 1, policy: 'fair', children: [] }));
    full = { ...tree, roots: [...tree.roots, ...add] };
  }
  const flat = tree && extra.length === 0 ? known : flattenTenants(full);
  const ref = referenceTypeIndex(full, p.types);
  const n = p.jobs.length;
  const K = p.types.length;
  const leafOf = new Int32Array(n);
  const value: Float64Array[] = [];
  const inLp: boolean[] = [];
  for (let j = 0; j < n; j++) {
    leafOf[j] = flat.leafIndex.get(names[j]!)!;
    const job = p.jobs[j]!;
    const t = job.throughput;
    const r = t[ref]! > 0 ? t[ref]! : Math.max(...t);
    const row = new Float64Array(K);
    let any = false;
    for (let k = 0; k < K; k++) {
      if (p.usable[j]![k] && r > 0) {
        row[k] = (job.scaleFactor * t[k]!) / r;
        any = true;
      }
    }
    value.push(row);
    inLp.push(any);
  }
  const classes = groupBy(n, (j) => (inLp[j] ? `${leafOf[j]}|${p.jobs[j]!.scaleFactor}|${rowKey(Array.from(value[j]!))}` : '-'));
  const N = flat.nodes.length;
  const subtreeClasses: number[][] = Array.from({ length: N }, () => []);
  const hasDemand = new Array<boolean>(N).fill(false);
  classes.members.forEach((members, c) => {
    const j = members[0]!;
    if (!inLp[j]) return;
    for (const i of flat.ancestors[leafOf[j]!]!) {
      subtreeClasses[i]!.push(c);
      hasDemand[i] = true;
    }
  });
  return { p, flat, leafOf, value, inLp, classes, subtreeClasses, hasDemand };
}

/**
 * Each node's entitlement: the normalised throughput its guarantee is worth to its own active jobs. A guarantee of
 * GPUs per type is worth the most its jobs can get from exactly those GPUs (an LP: the best use of the guaranteed
 * GPUs, never more than the jobs can absorb); `normalized` units are worth min(units, the most its jobs can get
 * from the whole cluster). Nodes without a guarantee or without jobs are entitled to 0. One block-diagonal LP
 * (its objective is a sum over independent blocks, so each block is at its own optimum).
 */
export function entitlements(tp: TenantProblem, policy: string, columnGeneration = true): Float64Array {
  const { p, flat } = tp;
  const todo = flat.nodes.map((n, i) => i).filter((i) => flat.nodes[i]!.guarantee !== undefined && tp.hasDemand[i]);
  const best = bestUse(
    tp,
    policy,
    todo,
    (i) => {
      const g = flat.nodes[i]!.guarantee!;
      return p.types.map((t, k) => (g.kind === 'gpus' ? Math.min(g.gpus[t] ?? 0, p.caps[k]!) : p.caps[k]!));
    },
    columnGeneration,
  );
  for (const i of todo) {
    const g = flat.nodes[i]!.guarantee!;
    if (g.kind === 'normalized') best[i] = Math.min(g.units, best[i]!);
  }
  return best;
}

/** Per node: the most normalised throughput its own jobs can get from the whole cluster (0 for nodes not listed). */
export function demandCaps(tp: TenantProblem, policy: string, nodes: readonly number[], columnGeneration = true): Float64Array {
  return bestUse(tp, policy, nodes, () => tp.p.caps, columnGeneration);
}

/**
 * Per listed node, max U over its subtree's classes with `capsOf(node)` GPUs per type, each alone. Solved by column
 * generation (src/solver/sifting.ts) from, per node and type, the classes of most normalised throughput per GPU
 * that fill 1.5 times the type's GPUs: the optimum of the whole LP.
 */
function bestUse(tp: TenantProblem, policy: string, todo: readonly number[], capsOf: (i: number) => readonly number[], columnGeneration: boolean): Float64Array {
  const { p, flat, classes } = tp;
  const K = p.types.length;
  const out = new Float64Array(flat.nodes.length);
  if (todo.length === 0) return out;
  const lp = new LpBuilder('max');
  const blocks: Array<{ node: number; cols: Array<[number, number]> }> = [];
  const keep: number[] = [];
  for (const i of todo) {
    const caps = capsOf(i);
    // Every class on its most valuable type is an upper bound; when those GPUs fit the caps it is the optimum, with
    // no LP (a tenant's demand against the whole cluster, or a guarantee larger than its jobs' demand).
    const alone = bestTypesFit(tp, i, caps);
    if (alone !== undefined) {
      out[i] = alone;
      continue;
    }
    const cols: Array<[number, number]> = [];
    const capIdx: number[][] = caps.map(() => []);
    const capVal: number[][] = caps.map(() => []);
    const first = new Set<number>();
    richestColumns(
      tp,
      tp.subtreeClasses[i]!,
      caps.map((c) => 1.5 * c),
      (q) => first.add(q),
    );
    for (const c of tp.subtreeClasses[i]!) {
      const j = classes.members[c]![0]!;
      const size = classSize(classes, c);
      const idx: number[] = [];
      for (let k = 0; k < K; k++) {
        const v = tp.value[j]![k]!;
        if (v <= 0 || caps[k]! < p.jobs[j]!.scaleFactor) continue;
        const col = lp.addVar({ lb: 0, ub: 1, cost: size * v });
        keep.push(first.has(c * K + k) ? 1 : 0);
        cols.push([col, size * v]);
        idx.push(col);
        capIdx[k]!.push(col);
        capVal[k]!.push(size * p.jobs[j]!.scaleFactor);
      }
      if (idx.length > 1) lp.addRow(-Infinity, 1, idx, idx.map(() => 1));
    }
    for (let k = 0; k < K; k++) if (capIdx[k]!.length > 0) lp.addRow(-Infinity, caps[k]!, capIdx[k]!, capVal[k]!);
    blocks.push({ node: i, cols });
  }
  if (lp.numCols === 0 || blocks.length === 0) return out;
  const r = columnGeneration ? solveSifting(lp, Uint8Array.from(keep), { method: 'simplex' }) : lp.solve({ method: 'simplex' });
  if (r.status !== 'optimal') throw solverFailure(policy, r.status, r.message);
  for (const b of blocks) {
    let u = 0;
    for (const [col, coef] of b.cols) u += coef * r.x[col]!;
    out[b.node] = u;
  }
  return out;
}

/** Per class and type (`class * K + type`): normalised throughput per GPU, `value / scale` (0 where unusable). */
const perGpuCache = new WeakMap<TenantProblem, Float64Array>();

function perGpu(tp: TenantProblem): Float64Array {
  let out = perGpuCache.get(tp);
  if (out) return out;
  const { p, classes } = tp;
  const K = p.types.length;
  out = new Float64Array(classes.members.length * K);
  for (let c = 0; c < classes.members.length; c++) {
    const j = classes.members[c]![0]!;
    if (!tp.inLp[j]) continue;
    for (let k = 0; k < K; k++) out[c * K + k] = tp.value[j]![k]! / p.jobs[j]!.scaleFactor;
  }
  perGpuCache.set(tp, out);
  return out;
}

/**
 * Per type k, marks (`class * K + k`) the classes among `cls` of most normalised throughput per GPU of that type,
 * until their GPUs reach `budget[k]`: a first guess at the columns an LP over these classes uses (column generation).
 */
export function richestColumns(tp: TenantProblem, cls: readonly number[], budget: readonly number[], mark: (q: number) => void): void {
  const { p, classes } = tp;
  const K = p.types.length;
  const per = perGpu(tp);
  const order = new Array<number>(cls.length);
  for (let k = 0; k < K; k++) {
    let n = 0;
    for (const c of cls) if (per[c * K + k]! > 0) order[n++] = c;
    order.length = n;
    order.sort((a, b) => per[b * K + k]! - per[a * K + k]! || a - b);
    let gpus = 0;
    for (const c of order) {
      if (gpus >= budget[k]!) break;
      mark(c * K + k);
      gpus += classSize(classes, c) * p.jobs[classes.members[c]![0]!]!.scaleFactor;
    }
    order.length = cls.length;
  }
}

/** Node i's most normalised throughput with `caps` GPUs per type if every class can run whole on its best type; else undefined. */
function bestTypesFit(tp: TenantProblem, i: number, caps: readonly number[]): number | undefined {
  const { p, classes } = tp;
  const K = p.types.length;
  const need = new Float64Array(K);
  let u = 0;
  for (const c of tp.subtreeClasses[i]!) {
    const j = classes.members[c]![0]!;
    const s = p.jobs[j]!.scaleFactor;
    let best = -1;
    for (let k = 0; k < K; k++) {
      const v = tp.value[j]![k]!;
      if (v > 0 && caps[k]! >= s && (best < 0 || v > tp.value[j]![best]!)) best = k;
    }
    if (best < 0) continue;
    const size = classSize(classes, c);
    need[best]! += size * s;
    if (need[best]! > caps[best]!) return undefined;
    u += size * tp.value[j]![best]!;
  }
  return u;
}
