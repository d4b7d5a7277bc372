import { BasisStatus, LpBuilder } from '../solver/index.js';
import { groupBy, rowKey, zeroShares } from './common.js';
import type { TenantProblem } from './tenant-model.js';
import type { Stage1Result } from './tenant-quota.js';

/**
 * The inner step of `tenant_quota`: each leaf divides the GPUs per type it was given among its own jobs.
 *
 * - `fair`: max-min over the jobs' normalised throughput per unit of priority weight (`u_j / w_j`, reference-GPU
 *   equivalents, so equal jobs get equal GPU-time), keeping the leaf's normalised throughput at what the tenant
 *   level gave it: one small LP per leaf (simplex, eight leaves per HiGHS call; classes of identical jobs get
 *   identical shares).
 * - `fifo` / `sjf`: jobs in arrival order / by remaining time alone on their fastest type (ties by arrival) take
 *   time on their most valuable types until the leaf's GPUs run out. The leaf's order comes first here, so its
 *   normalised throughput may fall below what the tenant level found (the tenant's own choice).
 */
export function innerShares(tp: TenantProblem, s1: Stage1Result): number[][] {
  const { p, flat } = tp;
  const n = p.jobs.length;
  const K = p.types.length;
  const shares = zeroShares(p);
  const jobsOf = new Map<number, number[]>();
  for (let j = 0; j < n; j++) {
    if (!tp.inLp[j]) continue;
    const leaf = tp.leafOf[j]!;
    let list = jobsOf.get(leaf);
    if (!list) jobsOf.set(leaf, (list = []));
    list.push(j);
  }
  const fairLeaves: number[] = [];
  for (const [leaf, jobs] of jobsOf) {
    const kind = flat.nodes[leaf]!.policy ?? 'fair';
    if (kind === 'fair') {
      fairLeaves.push(leaf);
      continue;
    }
    const order = [...jobs];
    if (kind === 'sjf') {
      const time = (j: number): number => {
        const best = Math.max(...p.jobs[j]!.throughput.map((v, k) => (p.usable[j]![k] ? v : 0)));
        return best > 0 ? p.jobs[j]!.remainingSteps / best : Infinity;
      };
      order.sort((a, b) => time(a) - time(b) || a - b);
    }
    const left = Float64Array.from(s1.gpus[leaf]!);
    for (const j of order) {
      const s = p.jobs[j]!.scaleFactor;
      const types = [...Array(K).keys()].filter((k) => tp.value[j]![k]! > 0).sort((a, b) => tp.value[j]![b]! - tp.value[j]![a]! || a - b);
      let rest = 1;
      for (const k of types) {
        const x = Math.min(rest, left[k]! / s);
        if (x <= 1e-9) continue;
        shares[j]![k] = x;
        left[k] = left[k]! - x * s;
        rest -= x;
        if (rest <= 1e-12) break;
      }
    }
  }
  if (fairLeaves.length > 0) fairInner(tp, s1, fairLeaves, jobsOf, shares);
  return shares;
}

/**
 * Leaves per inner LP. The LP of a block is block-diagonal with the sum of the leaves' max-min levels as its
 * objective, so each leaf is at its own optimum; a few leaves per HiGHS call save its per-call cost, while one LP of
 * every leaf would cost more than the separate ones (simplex work grows faster than the size).
 */
const BLOCK = 8;

function fairInner(tp: TenantProblem, s1: Stage1Result, leaves: readonly number[], jobsOf: ReadonlyMap<number, number[]>, shares: number[][]): void {
  for (let b = 0; b < leaves.length; b += BLOCK) {
    const block = leaves.slice(b, b + BLOCK);
    // A block that fails is solved leaf by leaf, so that only the leaf whose LP fails falls back.
    if (!fairBlock(tp, s1, block, jobsOf, shares, block.length === 1)) for (const leaf of block) fairBlock(tp, s1, [leaf], jobsOf, shares, true);
  }
}

/**
 * The leaf's jobs grouped by scale, priority weight and value row, in key order. With one priority weight in the
 * leaf these are the leaf's tenant-level classes, in the same order (the keys differ only by a common part), so
 * those are reused rather than keyed again.
 */
function innerClasses(tp: TenantProblem, leaf: number, jobs: readonly number[]): number[][] {
  const { p } = tp;
  const w = p.jobs[jobs[0]!]!.priorityWeight;
  if (jobs.every((j) => p.jobs[j]!.priorityWeight === w)) return tp.subtreeClasses[leaf]!.map((c) => tp.classes.members[c]!);
  const cls = groupBy(jobs.length, (i) => {
    const j = jobs[i]!;
    return `${p.jobs[j]!.scaleFactor}|${p.jobs[j]!.priorityWeight}|${rowKey(Array.from(tp.value[j]!))}`;
  });
  return cls.members.map((m) => m.map((i) => jobs[i]!));
}

const { atLower: AT_LOWER, basic: BASIC, atUpper: AT_UPPER, freeAtZero: FREE_AT_ZERO } = BasisStatus;

/** Solves the leaves' inner LPs as one; false (nothing written) if it fails and `fallback` is false. */
function fairBlock(tp: TenantProblem, s1: Stage1Result, leaves: readonly number[], jobsOf: ReadonlyMap<number, number[]>, shares: number[][], fallback: boolean): boolean {
  const { p } = tp;
  const K = p.types.length;
  const lp = new LpBuilder('max');
  const built: Array<{ leaf: number; members: readonly (readonly number[])[]; cols: Int32Array }> = [];
  // A starting basis close to the optimum (a crash), in HiGHS' basis statuses: every class on its type of most
  // normalised throughput per GPU at the common level tau (its tau row tight), tau set by the type whose GPUs run out
  // first (that capacity row tight), every other row slack. One basic per row (tau and one column per class against
  // the tau rows and the tight row) and nonsingular (the tau rows give x_c = tau / a_c, the tight row then tau). It
  // need not be primal or dual feasible; simplex goes on from it, in about 40% of the iterations from the slack
  // basis (`scale` bench). A leaf where some class has no column starts from its slack basis.
  const colSt: number[] = [];
  const rowSt: number[] = [];
  for (const leaf of leaves) {
    const members = innerClasses(tp, leaf, jobsOf.get(leaf)!);
    const cols = new Int32Array(members.length * K).fill(-1);
    const tau = lp.addVar({ lb: -Infinity, ub: Infinity, cost: 1 });
    colSt.push(BASIC);
    const row0 = rowSt.length;
    let crash = true;
    // GPUs of each type per unit of tau with every class on its best type.
    const need = new Float64Array(K);
    const capIdx: number[][] = Array.from({ length: K }, () => []);
    const capVal: number[][] = Array.from({ length: K }, () => []);
    const uIdx: number[] = [];
    const uVal: number[] = [];
    members.forEach((m, c) => {
      const j = m[0]!;
      const idx: number[] = [];
      const val: number[] = [];
      let best = -1;
      for (let k = 0; k < K; k++) {
        const v = tp.value[j]![k]!;
        if (v <= 0 || s1.gpus[leaf]![k]! <= 1e-12) continue;
        if (best < 0 || v / p.jobs[j]!.scaleFactor > tp.value[j]![best]! / p.jobs[j]!.scaleFactor) best = k;
      }
      if (best < 0) crash = false;
      else need[best] = need[best]! + (m.length * p.jobs[j]!.scaleFactor * p.jobs[j]!.priorityWeight) / tp.value[j]![best]!;
      for (let k = 0; k < K; k++) {
        const v = tp.value[j]![k]!;
        if (v <= 0 || s1.gpus[leaf]![k]! <= 1e-12) continue;
        const x = lp.addVar({ lb: 0, ub: 1 });
        colSt.push(k === best ? BASIC : AT_LOWER);
        cols[c * K + k] = x;
        idx.push(x);
        val.push(v / p.jobs[j]!.priorityWeight);
        capIdx[k]!.push(x);
        capVal[k]!.push(m.length * p.jobs[j]!.scaleFactor);
        uIdx.push(x);
        uVal.push(m.length * v);
      }
      if (idx.length > 1) {
        lp.addRow(-Infinity, 1, idx, idx.map(() => 1));
        rowSt.push(BASIC);
      }
      lp.addRow(0, Infinity, [...idx, tau], [...val, -1]);
      rowSt.push(AT_LOWER);
    });
    let tightK = -1;
    let tightRow = -1;
    for (let k = 0; k < K; k++) {
      if (capIdx[k]!.length === 0) continue;
      const capRow = lp.addRow(-Infinity, s1.gpus[leaf]![k]! * (1 + 1e-9) + 1e-9, capIdx[k]!, capVal[k]!);
      rowSt.push(BASIC);
      if (need[k]! > 0 && (tightK < 0 || need[k]! / s1.gpus[leaf]![k]! > need[tightK]! / s1.gpus[leaf]![tightK]!)) {
        tightK = k;
        tightRow = capRow;
      }
    }
    const target = s1.u[leaf]!;
    if (target > 0) {
      lp.addRow(target - 1e-6 * target - 1e-6, Infinity, uIdx, uVal);
      rowSt.push(BASIC);
    }
    if (crash && tightRow >= 0) rowSt[tightRow] = AT_UPPER;
    else {
      // Slack basis: tau nonbasic (free at 0, or fixed at 0 below), every structural column at 0, every row basic.
      colSt.length = tau;
      colSt.push(uIdx.length === 0 ? AT_LOWER : FREE_AT_ZERO);
      for (let q = tau + 1; q < lp.numCols; q++) colSt.push(AT_LOWER);
      for (let q = row0; q < rowSt.length; q++) rowSt[q] = BASIC;
    }
    if (uIdx.length === 0) {
      // Nothing of this leaf can run: tau alone would be unbounded.
      lp.setBounds(tau, 0, 0);
      continue;
    }
    built.push({ leaf, members, cols });
  }
  if (built.length === 0) return true;
  // Small LPs: simplex (an interior-point solve costs several times more per call at this size), without presolve
  // (it costs more than it saves here).
  const r = lp.solve({ method: 'simplex', presolve: false, warmStart: { colStatus: Int32Array.from(colSt), rowStatus: Int32Array.from(rowSt) } });
  if (r.status !== 'optimal' && !fallback) return false;
  for (const { leaf, members, cols } of built) {
    if (r.status !== 'optimal') {
      // The tenant-level solution is a feasible division too: keep it rather than fail the round.
      tp.classes.members.forEach((ms, c) => {
        for (const j of ms) if (tp.leafOf[j] === leaf) shares[j] = Array.from(s1.classShares[c]!);
      });
      continue;
    }
    members.forEach((m, c) => {
      const row = new Array<number>(K).fill(0);
      for (let k = 0; k < K; k++) {
        const v = cols[c * K + k]!;
        if (v >= 0) row[k] = Math.min(1, Math.max(0, r.x[v]!));
      }
      for (const j of m) shares[j] = [...row];
    });
  }
  return true;
}
