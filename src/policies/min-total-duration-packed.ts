import type { LpMethod } from '../solver/index.js';
import { bisectMakespan } from './min-total-duration.js';
import type { PackedModelOptions, PackedSolution } from './packing.js';
import { buildPackedLp, disaggregate, packedModel, readPackedSolution } from './packing.js';
import type { Allocation } from '../model/index.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Makespan with space sharing (Gavel `min_total_duration_packed`): the smallest T such that every active job,
 * counting its pair time at co-located throughputs, can finish within T (`u_c >= remaining_c / T` over the
 * class-pair LP of `packing.ts`), found by `min_total_duration_perf`'s bisection; central shares at the T found.
 * Classes also agree in remaining steps.
 */

export interface PackedMtdOptions extends Pick<PackedModelOptions, 'perJob' | 'prune'> {
  readonly bracket?: number;
  readonly method?: LpMethod;
}

export function solvePackedMinTotalDuration(snapshot: PolicySnapshot, opts: PackedMtdOptions = {}): { allocation: Allocation; makespan: number } {
  const model = packedModel(snapshot, {
    perJob: opts.perJob ?? false,
    prune: opts.prune ?? true,
    include: (j) => snapshot.jobs[j]!.remainingSteps > 0,
    extraKey: (j) => String(snapshot.jobs[j]!.remainingSteps),
  });
  const { problem: p, classes } = model;
  const reps = classes.members.map((m) => m[0]!);
  const zero: PackedSolution = { y: reps.map(() => p.types.map(() => 0)), z: model.pairs.map(() => p.types.map(() => 0)) };
  if (!reps.some((j) => model.include[j])) return { allocation: disaggregate(model, zero), makespan: 0 };
  const method = opts.method ?? 'ipm';
  const idx: number[] = [];
  const val: number[] = [];
  const feasible = (T: number, central: boolean): PackedSolution | undefined => {
    const b = buildPackedLp(model, 'max', false);
    reps.forEach((j, c) => {
      if (!model.include[j]) return;
      b.utility(c, 1, idx, val);
      b.lp.addRow(p.jobs[j]!.remainingSteps / T, Infinity, idx, val);
    });
    const res = b.lp.solve(central ? { method, crossover: false } : { method: 'simplex' });
    return res.status === 'optimal' ? readPackedSolution(model, b, res.x) : undefined;
  };
  const best = bisectMakespan((T) => feasible(T, false) !== undefined, opts.bracket ?? 1.05);
  if (best === undefined) return { allocation: disaggregate(model, zero), makespan: Infinity };
  const sol = feasible(best, true) ?? feasible(best, false)!;
  return { allocation: disaggregate(model, sol), makespan: best };
}

export function createPackedMinTotalDurationPolicy(name: string, aliases: readonly string[], opts: PackedMtdOptions = {}): Policy {
  return {
    meta: {
      name,
      aliases,
      description: 'Makespan (heterogeneity-aware) with space sharing: pairs of equal-scale jobs may share GPUs',
      heterogeneityAware: true,
      spaceSharing: true,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      return { allocation: solvePackedMinTotalDuration(snapshot, opts).allocation };
    },
  };
}
