import type { LpMethod } from '../solver/index.js';
import { finishAllocation, isolatedShares } from './common.js';
import { bisectRho, ftfTerms, type FtfState } from './finish-time-fairness.js';
import type { PackedModelOptions, PackedSolution } from './packing.js';
import { buildPackedLp, disaggregate, packedModel, readPackedSolution } from './packing.js';
import type { Allocation } from '../model/index.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Finish-time fairness with space sharing (Gavel `finish_time_fairness_packed`): `finish_time_fairness_perf`'s
 * rho (same isolated reference, same bookkeeping in `state`) with each job's throughput counting its pair time at
 * co-located throughputs, over the class-pair LP of `packing.ts`. Bisection on rho with a simplex feasibility LP
 * (`u_c >= remaining_c / (rho * E_c - elapsed_c)`), central shares at the optimum. Classes here also agree in
 * remaining steps, elapsed time and isolated reference, so in a simulation most classes hold one job.
 */

export interface PackedFtfOptions extends Pick<PackedModelOptions, 'perJob' | 'prune'> {
  readonly method?: LpMethod;
  readonly tolerance?: number;
}

export function solvePackedFtf(snapshot: PolicySnapshot, opts: PackedFtfOptions = {}): { allocation: Allocation; rho: number; state: FtfState } {
  const { p, elapsed, rem, denom, inLp, state } = ftfTerms(snapshot, true);
  const model = packedModel(snapshot, {
    perJob: opts.perJob ?? false,
    prune: opts.prune ?? true,
    include: (j) => inLp[j]!,
    extraKey: (j) => `${rem[j]}|${elapsed[j]}|${denom[j]}`,
  });
  const { classes } = model;
  const method = opts.method ?? 'ipm';
  const reps = classes.members.map((m) => m[0]!);
  const active = reps.map((j) => model.include[j]! && rem[j]! > 0);
  if (!active.some((a) => a)) {
    const zero: PackedSolution = { y: reps.map(() => p.types.map(() => 0)), z: model.pairs.map(() => p.types.map(() => 0)) };
    return { allocation: disaggregate(model, zero), rho: 0, state };
  }
  const idx: number[] = [];
  const val: number[] = [];
  const feasible = (r: number, central: boolean): PackedSolution | undefined => {
    const b = buildPackedLp(model, 'max', false);
    for (let c = 0; c < reps.length; c++) {
      if (!active[c]) continue;
      const j = reps[c]!;
      const slack = r * denom[j]! - elapsed[j]!;
      if (slack <= 0) return undefined;
      b.utility(c, 1, idx, val);
      b.lp.addRow(rem[j]! / slack, Infinity, idx, val);
    }
    const res = b.lp.solve(central ? { method, crossover: false } : { method: 'simplex' });
    return res.status === 'optimal' ? readPackedSolution(model, b, res.x) : undefined;
  };
  let lo = 0;
  reps.forEach((j, c) => {
    if (active[c]) lo = Math.max(lo, elapsed[j]! / denom[j]!);
  });
  const found = bisectRho(lo, feasible, opts.tolerance ?? 1e-6);
  if (!found) {
    // As the unpacked policy (and Gavel): the isolated allocation when nothing is feasible.
    const m = p.jobs.length;
    return { allocation: finishAllocation(p, p.jobs.map((job) => isolatedShares(p.caps, m, job.scaleFactor))), rho: Infinity, state };
  }
  return { allocation: disaggregate(model, found.shares), rho: found.rho, state };
}

export function createPackedFtfPolicy(name: string, aliases: readonly string[], opts: PackedFtfOptions = {}): Policy {
  return {
    meta: {
      name,
      aliases,
      description: 'Finish-time fairness (Themis, heterogeneity-aware) with space sharing: pairs of equal-scale jobs may share GPUs',
      heterogeneityAware: true,
      spaceSharing: true,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const r = solvePackedFtf(snapshot, opts);
      return { allocation: r.allocation, state: r.state };
    },
  };
}
