import type { LpMethod } from '../solver/index.js';
import { proportionalThroughput, solverFailure } from './common.js';
import type { PackedModel, PackedModelOptions } from './packing.js';
import { buildPackedLp, disaggregate, packedModel, packedThroughputs, readPackedSolution } from './packing.js';
import type { Allocation } from '../model/index.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * LAS with space sharing (Gavel `max_min_fairness_packed`): aware LAS over the class-pair LP of `packing.ts`,
 *
 *   maximise t  s.t.  (scale_c / w_c) * u_c / T_eq[c] >= t  for every class c in the LP,
 *
 * with u_c the class's average steps/s counting its pair time at co-located throughputs, and T_eq the equal-share
 * throughput of the unpacked `max_min_fairness_perf` (so the two objectives are comparable and the packed one is
 * never lower: every unpacked allocation is a packed one without pairs). Gavel's packed LP normalises by the sum
 * of a job's throughputs over the types instead; with equal type counts the two differ by a constant factor.
 */

export interface PackedLasOptions extends Pick<PackedModelOptions, 'perJob' | 'prune'> {
  /** Default `ipm` without crossover: a central optimum, as for the unpacked LAS. */
  readonly method?: LpMethod;
}

export interface PackedLasResult {
  readonly allocation: Allocation;
  /** The optimal t (0 without jobs). */
  readonly level: number;
  readonly model: PackedModel;
  readonly columns: number;
  readonly solveSeconds: number;
}

export function solvePackedLas(snapshot: PolicySnapshot, opts: PackedLasOptions = {}, policy = 'max_min_fairness_packed'): PackedLasResult {
  const model = packedModel(snapshot, { perJob: opts.perJob ?? false, prune: opts.prune ?? true });
  const { problem: p, classes, include } = model;
  const b = buildPackedLp(model, 'max', true);
  const idx: number[] = [];
  const val: number[] = [];
  let any = false;
  for (let c = 0; c < classes.members.length; c++) {
    const j = classes.members[c]![0]!;
    if (!include[j]) continue;
    const job = p.jobs[j]!;
    const eq = proportionalThroughput(p.caps, job.throughput);
    if (!(eq > 0)) continue;
    any = true;
    b.utility(c, job.scaleFactor / job.priorityWeight / eq, idx, val);
    idx.push(b.tCol);
    val.push(-1);
    b.lp.addRow(0, Infinity, idx, val);
  }
  if (!any) {
    const zero = { y: classes.members.map(() => p.types.map(() => 0)), z: model.pairs.map(() => p.types.map(() => 0)) };
    return { allocation: disaggregate(model, zero), level: 0, model, columns: b.lp.numCols, solveSeconds: 0 };
  }
  const r = b.lp.solve({ method: opts.method ?? 'ipm', crossover: false });
  if (r.status !== 'optimal') throw solverFailure(policy, r.status, r.message);
  const sol = readPackedSolution(model, b, r.x);
  return { allocation: disaggregate(model, sol), level: Math.max(0, r.x[b.tCol]!), model, columns: b.lp.numCols, solveSeconds: r.solveSeconds };
}

export function createPackedLasPolicy(name: string, aliases: readonly string[], opts: PackedLasOptions = {}): Policy {
  return {
    meta: {
      name,
      aliases,
      description: 'LAS / max-min fairness (heterogeneity-aware) with space sharing: pairs of equal-scale jobs may share GPUs at co-located throughputs',
      heterogeneityAware: true,
      spaceSharing: true,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      return { allocation: solvePackedLas(snapshot, opts, name).allocation };
    },
  };
}

/**
 * The packed LAS objective of any allocation (single and pair rows): the smallest `(scale / w) * steps/s / T_eq`
 * over the jobs that can run somewhere. For tests and benchmarks.
 */
export function packedLasObjective(snapshot: PolicySnapshot, alloc: Allocation): number {
  const p = packedModel(snapshot, { perJob: true, prune: false }).problem;
  const thr = packedThroughputs(snapshot, alloc);
  let best = Infinity;
  p.jobs.forEach((job, j) => {
    if (!p.usable[j]!.some((u) => u)) return;
    const eq = proportionalThroughput(p.caps, job.throughput);
    if (!(eq > 0)) return;
    best = Math.min(best, ((job.scaleFactor / job.priorityWeight) * thr.get(job.id)!) / eq);
  });
  return best === Infinity ? 0 : best;
}
