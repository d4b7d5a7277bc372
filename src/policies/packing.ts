import { colocatedThroughput, jobKey, pairKey, type Allocation, type RowKey } from '../model/index.js';
import { LpBuilder } from '../solver/index.js';
import type { Classes, Problem } from './common.js';
import { classJob, classTerms, groupBy, makeProblem } from './common.js';
import type { PolicySnapshot } from './types.js';

/**
 * Space sharing over classes of interchangeable jobs: the LP shared by the packed policies.
 *
 * A class is a set of jobs equal in everything the LP sees: job type and scale factor (so equal co-located
 * throughputs, which the table gives per `(job type, scale factor)` key), weight, allowed types, throughput row,
 * plus whatever the policy adds (remaining steps, ...). Variables, per usable GPU type k:
 *
 *   Y[c][k]  time share of each job of class c running alone on k (as in the unpacked class LP);
 *   Z[q][k]  total pair time of class pair q = (c, d) on k, summed over the concrete job pairs of q.
 *
 * A job of c gets, on average, Z[q][k] / n_c of q's pair time (2 Z / n_c when c = d: each pair holds two jobs of c),
 * so per class `sum_k Y[c][k] + sum_q m_cq Z[q][k] / n_c <= 1` (m_cq = 1, or 2 for c = d), and per type
 * `sum_c n_c s_c Y[c][k] + sum_q s_q Z[q][k] <= gpus_k` (a pair occupies `s` GPUs, not 2s). Each policy adds its
 * rows on the class utilities `u_c = sum_k T_c[k] Y[c][k] + sum_q m_cq T_c|q[k] Z[q][k] / n_c` (T_c|q the
 * co-located throughput of c in q).
 *
 * Why this equals the per-job-pair LP: that LP is invariant under permuting the jobs within a class, so averaging
 * an optimal solution over those permutations is again optimal (constraints linear, objectives concave in the
 * utilities) and symmetric, and its class totals are feasible here. Conversely `disaggregate` splits every class
 * total into concrete job-pair rows that give each job exactly its class average, so each job's row sum and
 * utility are those of the class LP.
 *
 * Pruning: a pair on type k whose co-located throughputs, each divided by the job's isolated throughput on k, sum
 * to at most 1 is dominated: replacing pair time Z by time Z r_c alone for c and Z r_d alone for d on the same type
 * gives every job the same progress with no more time (r <= 1) and no more GPUs (s Z (r_c + r_d) <= s Z). So such
 * pairs are dropped without changing the optimum of any policy whose objective depends only on job progress.
 */

export interface PackedClass {
  /** Job indices of the class. */
  readonly members: readonly number[];
  /** The representative job (first member). */
  readonly rep: number;
}

/** A candidate pair of classes (c <= d) with equal scale factor, and its co-located throughputs per type. */
export interface PairCandidate {
  readonly c: number;
  readonly d: number;
  /** Per type: co-located steps/s of c's jobs and of d's jobs; [0, 0] where the pair is not a candidate on k. */
  readonly tput: ReadonlyArray<readonly [number, number]>;
}

export interface PackedModel {
  readonly problem: Problem;
  readonly classes: Classes;
  readonly pairs: readonly PairCandidate[];
  /** Jobs the policy wants in the LP (the others get no time). */
  readonly include: readonly boolean[];
  /** Candidate (pair, type) cells before and after pruning, for reports. */
  readonly pairCellsBeforePruning: number;
  readonly pairCellsAfterPruning: number;
}

export interface PackedModelOptions {
  /** One class per job (the per-job-pair LP; the reference). Default false. */
  readonly perJob?: boolean;
  /** Drop dominated pairs (see above). Default true. */
  readonly prune?: boolean;
  /** Jobs in the LP; default every job that can run somewhere. */
  readonly include?: (j: number) => boolean;
  /** Extra class key of a job (e.g. remaining steps), so that only jobs equal in it share a class. */
  readonly extraKey?: (j: number) => string;
}

/** Builds classes and candidate pairs of a snapshot (`snapshot.throughputs` gives the co-located throughputs). */
export function packedModel(snapshot: PolicySnapshot, opts: PackedModelOptions = {}): PackedModel {
  const p = makeProblem(snapshot);
  const n = p.jobs.length;
  const K = p.types.length;
  const include = p.jobs.map((_, j) => p.usable[j]!.some((u) => u) && (opts.include ? opts.include(j) : true));
  const classes = groupBy(n, (j) => {
    if (!include[j]) return `\u0001${j}`;
    if (opts.perJob) return `\u0000${p.jobs[j]!.id}`;
    const job = p.jobs[j]!;
    const allowed = job.allowedGpuTypes ? p.types.map((t) => (job.allowedGpuTypes!.includes(t) ? 1 : 0)).join('') : '*';
    return `\u0000${job.jobType}\u0000${job.scaleFactor}\u0000${job.priorityWeight}\u0000${allowed}\u0000${p.usable[j]!.map((u, k) => (u ? job.throughput[k] : 0)).join(',')}\u0000${opts.extraKey ? opts.extraKey(j) : ''}`;
  });
  const C = classes.members.length;
  const pairs: PairCandidate[] = [];
  let before = 0;
  let after = 0;
  const table = snapshot.throughputs;
  if (table) {
    const keys = classes.members.map((m) => jobKey(p.jobs[m[0]!]!.jobType, p.jobs[m[0]!]!.scaleFactor));
    // Classes by scale factor: only equal scale factors pair.
    const bySf = new Map<number, number[]>();
    for (let c = 0; c < C; c++) {
      const j = classes.members[c]![0]!;
      if (!include[j]) continue;
      const sf = p.jobs[j]!.scaleFactor;
      let list = bySf.get(sf);
      if (!list) bySf.set(sf, (list = []));
      list.push(c);
    }
    const prune = opts.prune ?? true;
    for (const list of bySf.values()) {
      for (let x = 0; x < list.length; x++) {
        const c = list[x]!;
        const jc = classes.members[c]![0]!;
        for (let y = x; y < list.length; y++) {
          const d = list[y]!;
          if (c === d && classes.members[c]!.length < 2) continue;
          const jd = classes.members[d]![0]!;
          const tput: Array<readonly [number, number]> = [];
          let any = false;
          for (let k = 0; k < K; k++) {
            tput.push([0, 0]);
            if (!p.usable[jc]![k] || !p.usable[jd]![k]) continue;
            const pair = colocatedThroughput(table, p.types[k]!, keys[c]!, keys[d]!);
            if (!pair || !(pair[0] > 0 || pair[1] > 0)) continue;
            before++;
            const rc = pair[0] / p.jobs[jc]!.throughput[k]!;
            const rd = pair[1] / p.jobs[jd]!.throughput[k]!;
            if (prune && rc + rd <= 1) continue;
            after++;
            // Within one class either job may come first in a row's key; the table's same-key entries are
            // symmetric, and the smaller one is a safe bound where they are not.
            tput[k] = c === d ? [Math.min(pair[0], pair[1]), Math.min(pair[0], pair[1])] : [pair[0], pair[1]];
            any = true;
          }
          if (any) pairs.push({ c, d, tput });
        }
      }
    }
  }
  return { problem: p, classes, pairs, include, pairCellsBeforePruning: before, pairCellsAfterPruning: after };
}

export interface PackedLp {
  readonly lp: LpBuilder;
  /** Column of (class, type) running alone, or -1. */
  readonly yCol: Int32Array;
  /** Column of (pair, type), or -1. */
  readonly zCol: Int32Array;
  /** The t column (free, cost 1) when asked for, else -1. */
  readonly tCol: number;
  /**
   * Coefficients of class c's utility `u_c` (steps/s of one average job of c), each throughput multiplied by
   * `scale` (a policy's normaliser). `idx`/`val` are overwritten on each call.
   */
  utility(c: number, scale: number, idx: number[], val: number[]): void;
}

/** Columns, per-class time rows and per-type capacity rows of the class-pair LP. */
export function buildPackedLp(model: PackedModel, sense: 'min' | 'max', withT: boolean): PackedLp {
  const { problem: p, classes, pairs, include } = model;
  const K = p.types.length;
  const C = classes.members.length;
  const Q = pairs.length;
  const lp = new LpBuilder(sense, { cols: (C + Q) * K + 1, rows: C + K + 1, nonzeros: 3 * (C + Q) * K + C });
  const yCol = new Int32Array(C * K).fill(-1);
  const zCol = new Int32Array(Q * K).fill(-1);
  const size = classes.members.map((m) => m.length);
  for (let c = 0; c < C; c++) {
    const j = classes.members[c]![0]!;
    if (!include[j]) continue;
    for (let k = 0; k < K; k++) if (p.usable[j]![k]) yCol[c * K + k] = lp.addVar({ lb: 0, ub: 1 });
  }
  // Pair columns: at most the pair time the smaller class can take part in.
  const byClass: number[][] = classes.members.map(() => []);
  for (let q = 0; q < Q; q++) {
    const { c, d, tput } = pairs[q]!;
    const ub = c === d ? size[c]! / 2 : Math.min(size[c]!, size[d]!);
    for (let k = 0; k < K; k++) if (tput[k]![0] > 0 || tput[k]![1] > 0) zCol[q * K + k] = lp.addVar({ lb: 0, ub });
    byClass[c]!.push(q);
    if (d !== c) byClass[d]!.push(q);
  }
  const tCol = withT ? lp.addVar({ lb: -Infinity, ub: Infinity, cost: 1, name: 't' }) : -1;
  const idx: number[] = [];
  const val: number[] = [];
  for (let c = 0; c < C; c++) {
    idx.length = 0;
    val.length = 0;
    for (let k = 0; k < K; k++) {
      const v = yCol[c * K + k]!;
      if (v >= 0) {
        idx.push(v);
        val.push(1);
      }
    }
    for (const q of byClass[c]!) {
      const mult = pairs[q]!.c === pairs[q]!.d ? 2 : 1;
      for (let k = 0; k < K; k++) {
        const v = zCol[q * K + k]!;
        if (v >= 0) {
          idx.push(v);
          val.push(mult / size[c]!);
        }
      }
    }
    if (idx.length > 1) lp.addRow(-Infinity, 1, idx, val);
  }
  for (let k = 0; k < K; k++) {
    idx.length = 0;
    val.length = 0;
    for (let c = 0; c < C; c++) {
      const v = yCol[c * K + k]!;
      if (v < 0) continue;
      idx.push(v);
      val.push(size[c]! * p.jobs[classes.members[c]![0]!]!.scaleFactor);
    }
    for (let q = 0; q < Q; q++) {
      const v = zCol[q * K + k]!;
      if (v < 0) continue;
      idx.push(v);
      val.push(p.jobs[classes.members[pairs[q]!.c]![0]!]!.scaleFactor);
    }
    if (idx.length > 0) lp.addRow(-Infinity, p.caps[k]!, idx, val);
  }
  return {
    lp,
    yCol,
    zCol,
    tCol,
    utility(c: number, scale: number, ix: number[], vx: number[]): void {
      const thr = p.jobs[classJob(classes, c)]!.throughput;
      classTerms(yCol, K, c, (k) => scale * thr[k]!, ix, vx);
      for (const q of byClass[c]!) {
        const pr = pairs[q]!;
        const mult = pr.c === pr.d ? 2 : 1;
        for (let k = 0; k < K; k++) {
          const v = zCol[q * K + k]!;
          if (v < 0) continue;
          // Same class: both jobs get the first entry; otherwise the entry of c's side.
          const t = pr.c === c ? pr.tput[k]![0] : pr.tput[k]![1];
          ix.push(v);
          vx.push((scale * mult * t) / size[c]!);
        }
      }
    },
  };
}

/** Class-level solution: per-job single shares of each class and total pair time of each candidate pair. */
export interface PackedSolution {
  readonly y: number[][];
  readonly z: number[][];
}

/** Reads a solution, clips round-off, and scales it into the constraints (interior points hold them to ~1e-8). */
export function readPackedSolution(model: PackedModel, b: PackedLp, x: Float64Array, drop = 1e-9): PackedSolution {
  const { problem: p, classes, pairs } = model;
  const K = p.types.length;
  const size = classes.members.map((m) => m.length);
  const val = (col: number): number => (col >= 0 ? Math.max(0, x[col]!) : 0);
  const y = classes.members.map((_, c) => p.types.map((_t, k) => val(b.yCol[c * K + k]!)));
  const z = pairs.map((_, q) => p.types.map((_t, k) => val(b.zCol[q * K + k]!)));
  for (const row of y) for (let k = 0; k < K; k++) if (row[k]! < drop) row[k] = 0;
  pairs.forEach((pr, q) => {
    // Pair time below `drop` per job of the smaller class is solver noise, not a decision.
    const per = Math.min(size[pr.c]!, size[pr.d]!);
    for (let k = 0; k < K; k++) if (z[q]![k]! < drop * per) z[q]![k] = 0;
  });
  // Row sums per class, then capacity per type; both only scale down, so the result stays feasible.
  const time = y.map((row) => row.reduce((a, v) => a + v, 0));
  pairs.forEach((pr, q) => {
    const tot = z[q]!.reduce((a, v) => a + v, 0);
    if (pr.c === pr.d) time[pr.c] = time[pr.c]! + (2 * tot) / size[pr.c]!;
    else {
      time[pr.c] = time[pr.c]! + tot / size[pr.c]!;
      time[pr.d] = time[pr.d]! + tot / size[pr.d]!;
    }
  });
  const f = time.map((t) => (t > 1 ? 1 / t : 1));
  y.forEach((row, c) => {
    if (f[c]! < 1) for (let k = 0; k < K; k++) row[k] = row[k]! * f[c]!;
  });
  pairs.forEach((pr, q) => {
    const g = Math.min(f[pr.c]!, f[pr.d]!);
    if (g < 1) for (let k = 0; k < K; k++) z[q]![k] = z[q]![k]! * g;
  });
  for (let k = 0; k < K; k++) {
    let used = 0;
    y.forEach((row, c) => (used += row[k]! * size[c]! * p.jobs[classes.members[c]![0]!]!.scaleFactor));
    pairs.forEach((pr, q) => (used += z[q]![k]! * p.jobs[classes.members[pr.c]![0]!]!.scaleFactor));
    if (used > p.caps[k]!) {
      const g = p.caps[k]! / used;
      for (const row of y) row[k] = row[k]! * g;
      for (const row of z) row[k] = row[k]! * g;
    }
  }
  return { y, z };
}

/**
 * Turns class totals into concrete rows. Jobs of class c each get `y[c]` alone. The pair time of classes c != d
 * is split by laying c's jobs as equal intervals on [0, 1) and d's jobs likewise and pairing the overlapping pieces
 * (at most n_c + n_d - 1 rows): every job of c gets exactly 1/n_c of the total and every job of d 1/n_d. Pairs
 * within one class follow a ring (job i with job i+1), each of the n_c rows holding 1/n_c of the total, so every job
 * is in two rows and gets 2/n_c. No class pair gives more than n_c + n_d rows, never n_c * n_d.
 */
export function disaggregate(model: PackedModel, sol: PackedSolution): Allocation {
  const { problem: p, classes, pairs } = model;
  const K = p.types.length;
  const shares = new Map<RowKey, number[]>();
  const add = (key: RowKey, v: readonly number[], f: number): void => {
    let row = shares.get(key);
    if (!row) shares.set(key, (row = p.types.map(() => 0)));
    for (let k = 0; k < K; k++) row[k] = row[k]! + v[k]! * f;
  };
  for (let j = 0; j < p.jobs.length; j++) shares.set(p.jobs[j]!.id, [...sol.y[classes.classOf[j]!]!]);
  pairs.forEach((pr, q) => {
    const v = sol.z[q]!;
    if (!v.some((x) => x > 0)) return;
    const a = classes.members[pr.c]!;
    if (pr.c === pr.d) {
      const n = a.length;
      for (let i = 0; i < n; i++) add(pairKey(p.jobs[a[i]!]!.id, p.jobs[a[(i + 1) % n]!]!.id), v, 1 / n);
      return;
    }
    const b = classes.members[pr.d]!;
    const na = a.length;
    const nb = b.length;
    // Breakpoints i/na and j/nb, walked in integer units of 1/(na*nb) so that pieces are exact.
    let i = 0;
    let jb = 0;
    let pos = 0;
    while (i < na && jb < nb) {
      const endA = (i + 1) * nb;
      const endB = (jb + 1) * na;
      const end = Math.min(endA, endB);
      add(pairKey(p.jobs[a[i]!]!.id, p.jobs[b[jb]!]!.id), v, (end - pos) / (na * nb));
      pos = end;
      if (endA === end) i++;
      if (endB === end) jb++;
    }
  });
  return { gpuTypes: p.types, shares };
}

/** Steps/s of every job under an allocation with pair rows (co-located throughputs from the snapshot's table). */
export function packedThroughputs(snapshot: PolicySnapshot, alloc: Allocation): Map<string, number> {
  const byId = new Map(snapshot.jobs.map((j) => [j.id, j]));
  const types = alloc.gpuTypes;
  const kIdx = types.map((t) => snapshot.cluster.gpuTypes.indexOf(t));
  const out = new Map<string, number>(snapshot.jobs.map((j) => [j.id, 0]));
  for (const [key, row] of alloc.shares) {
    const sep = key.indexOf('+');
    if (sep < 0) {
      const job = byId.get(key);
      if (!job) continue;
      let s = 0;
      row.forEach((v, k) => (s += v * (kIdx[k]! >= 0 ? job.throughput[kIdx[k]!]! : 0)));
      out.set(key, out.get(key)! + s);
      continue;
    }
    const a = byId.get(key.slice(0, sep));
    const b = byId.get(key.slice(sep + 1));
    if (!a || !b || !snapshot.throughputs) continue;
    const ka = jobKey(a.jobType, a.scaleFactor);
    const kb = jobKey(b.jobType, b.scaleFactor);
    let sa = 0;
    let sb = 0;
    row.forEach((v, k) => {
      if (!(v > 0)) return;
      const pair = colocatedThroughput(snapshot.throughputs!, types[k]!, ka, kb);
      if (!pair) return;
      sa += v * pair[0];
      sb += v * pair[1];
    });
    out.set(a.id, out.get(a.id)! + sa);
    out.set(b.id, out.get(b.id)! + sb);
  }
  return out;
}
