import { RondoError, type Allocation } from '../../model/index.js';
import { getPolicy, initSolver } from '../../policies/index.js';
import type { Policy, PolicyMeta, PolicySnapshot } from '../../policies/types.js';

/**
 * A policy from the shared registry (src/policies, `getPolicy(name)`, with the LP solver loaded by `initSolver()`),
 * so the runtime never carries a policy of its own (for a solver-free smoke test, serve `isolated`).
 */
export interface LoadedPolicy {
  readonly name: string;
  /**
   * The registry's description: the engine reads the policy's traits here (heterogeneity-aware, space sharing,
   * `onlyAllocatedRowsRun`, ...), never its name.
   */
  readonly meta: PolicyMeta;
  readonly allocate: (snapshot: PolicySnapshot) => { allocation: Allocation; state?: unknown };
}

export async function loadPolicy(name: string): Promise<LoadedPolicy> {
  const policy: Policy = getPolicy(name); // RondoError naming the known policies when unknown
  if (policy.meta.spaceSharing) {
    // The live server starts one job per lease; two jobs sharing GPUs are not run yet, so refuse rather than mis-run.
    throw new RondoError({
      code: 'E_USAGE',
      problem: `policy ${policy.meta.name} shares GPUs between pairs of jobs (space sharing), which rondo serve cannot run yet`,
      hint: 'serve with a policy without space sharing (e.g. max_min_fairness_perf); simulate, compare and sweep run space-sharing policies',
    });
  }
  await initSolver();
  return {
    name: policy.meta.name,
    meta: policy.meta,
    allocate: (s) => policy.allocate(s),
  };
}
