import { RondoError, type Allocation } from '../../model/index.js';
import { getPolicy, initSolver } from '../../policies/index.js';
import type { Policy, PolicyMeta, PolicySnapshot } from '../../policies/types.js';
import { checkTreeForPolicy, TREE_POLICIES, TreePolicy, type LiveTenants } from './tenants.js';

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
  /**
   * The live rounds' allocation (the scheduler's, not what-if's simulations): with a tenant tree it also records
   * each tenant's figures. Absent: `allocate`.
   */
  readonly allocateLive?: (snapshot: PolicySnapshot) => { allocation: Allocation; state?: unknown };
  /** `rondo serve --tenants FILE`: the tree the policy divides by (tenants.ts). */
  readonly tenants?: LiveTenants;
}

export async function loadPolicy(name: string, tenants?: LiveTenants): Promise<LoadedPolicy> {
  const policy: Policy = getPolicy(name); // RondoError naming the known policies when unknown
  if (tenants && !TREE_POLICIES.has(policy.meta.name)) {
    throw new RondoError({
      code: 'E_USAGE',
      problem: `policy ${policy.meta.name} does not divide the cluster by a tenant tree, so --tenants ${tenants.file} would be ignored`,
      hint: `serve with --policy ${[...TREE_POLICIES].join(' or --policy ')} (the default with --tenants), or without --tenants`,
    });
  }
  if (policy.meta.spaceSharing) {
    // The live server starts one job per lease; two jobs sharing GPUs are not run yet, so refuse rather than mis-run.
    throw new RondoError({
      code: 'E_USAGE',
      problem: `policy ${policy.meta.name} shares GPUs between pairs of jobs (space sharing), which rondo serve cannot run yet`,
      hint: 'serve with a policy without space sharing (e.g. max_min_fairness_perf); simulate, compare and sweep run space-sharing policies',
    });
  }
  await initSolver();
  if (tenants) {
    tenants.useCheck((tree) => checkTreeForPolicy(policy.meta.name, tree));
    const host = new TreePolicy(policy.meta.name, tenants.tree);
    tenants.onChange((tree) => host.setTree(tree));
    return {
      name: policy.meta.name,
      meta: host.meta,
      tenants,
      allocate: (s) => {
        const { figures: _, ...r } = host.allocate(s);
        return r;
      },
      allocateLive: (s) => {
        const { figures, ...r } = host.allocate(s);
        tenants.record(figures);
        return r;
      },
    };
  }
  return {
    name: policy.meta.name,
    meta: policy.meta,
    allocate: (s) => policy.allocate(s),
  };
}
