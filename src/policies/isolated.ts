import { finishAllocation, isolatedShares, makeProblem } from './common.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Gavel's `isolated`: the cluster split evenly over the m active jobs, `X[j][k] = gpus_k / (m * scale_j)`, scaled
 * down so that a job's shares sum to at most 1. Cells where the job cannot run get 0 (Gavel keeps them). This is
 * also the reference allocation of finish-time fairness.
 */
export function createIsolatedPolicy(name: string, aliases: readonly string[]): Policy {
  return {
    meta: {
      name,
      aliases,
      description: 'Equal split of every GPU type over the active jobs (the reference of finish-time fairness)',
      heterogeneityAware: false,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const p = makeProblem(snapshot);
      const m = p.jobs.length;
      const shares = p.jobs.map((job) => isolatedShares(p.caps, m, job.scaleFactor));
      return { allocation: finishAllocation(p, shares) };
    },
  };
}
