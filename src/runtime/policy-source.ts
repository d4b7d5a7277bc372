import { RondoError, type Allocation, type ClusterSpec } from '../model/index.js';
import { getPolicy, initSolver } from '../policies/index.js';
import type { Policy, PolicyMeta, PolicySnapshot } from '../policies/types.js';

/**
 * A policy from the shared registry (src/policies, `getPolicy(name)`, with the LP solver loaded by `initSolver()`),
 * so the runtime never carries a policy of its own; `equal-share` is a solver-free extra for smoke tests.
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

/**
 * Equal share of every GPU type a job can use, capped so no type is oversubscribed: each job spreads
 * c = min(1, total GPUs / sum of scale factors) of its time over its usable types in proportion to their GPU
 * counts, then each type's column is scaled down to its capacity where jobs restricted to it crowd it. Satisfies
 * Gavel's constraints; used only when asked for by name (`--policy equal-share`).
 */
export function equalShareAllocation(snapshot: PolicySnapshot): Allocation {
  const c: ClusterSpec = snapshot.cluster;
  const total = c.totalGpus;
  const demand = snapshot.jobs.reduce((s, j) => s + j.scaleFactor, 0);
  const scale = total === 0 || demand === 0 ? 0 : Math.min(1, total / demand);
  const rows = snapshot.jobs.map((j) => {
    const usable = c.gpuTypes.map((t, k) => (j.throughput[k]! > 0 ? (c.gpus[t] ?? 0) : 0));
    const sum = usable.reduce((a, b) => a + b, 0);
    return usable.map((g) => (sum === 0 ? 0 : (scale * g) / sum));
  });
  c.gpuTypes.forEach((t, k) => {
    const used = snapshot.jobs.reduce((s, j, i) => s + j.scaleFactor * rows[i]![k]!, 0);
    const cap = c.gpus[t] ?? 0;
    if (used > cap) for (const r of rows) r[k] = (r[k]! * cap) / used;
  });
  return { gpuTypes: c.gpuTypes, shares: new Map(snapshot.jobs.map((j, i) => [j.id, rows[i]!])) };
}

export async function loadPolicy(name: string): Promise<LoadedPolicy> {
  if (name === 'equal-share') {
    const meta: PolicyMeta = {
      name,
      aliases: [],
      description: 'equal share of every usable GPU type (smoke tests)',
      heterogeneityAware: true,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
    };
    return { name, meta, allocate: (s) => ({ allocation: equalShareAllocation(s) }) };
  }
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
