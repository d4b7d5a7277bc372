import type { Allocation, ClusterSpec } from '../model/index.js';
import { getPolicy, initSolver } from '../policies/index.js';
import type { Policy, PolicySnapshot } from '../policies/types.js';

/**
 * A policy from the shared registry (src/policies, `getPolicy(name)`, with the LP solver loaded by `initSolver()`),
 * so the runtime never carries a policy of its own; `equal-share` is a solver-free extra for smoke tests.
 */
export interface LoadedPolicy {
  readonly name: string;
  readonly allocate: (snapshot: PolicySnapshot) => { allocation: Allocation; state?: unknown };
  /** True for FIFO-style policies: the mechanism never starts a row with priority 0. */
  readonly fifo: boolean;
}

/**
 * Equal share of every GPU type, capped so the cluster is never oversubscribed: X[j][k] = c * gpus_k / total with
 * c = min(1, total / sum of scale factors). Satisfies Gavel's constraints; used only when asked for by name.
 */
export function equalShareAllocation(snapshot: PolicySnapshot): Allocation {
  const c: ClusterSpec = snapshot.cluster;
  const total = c.totalGpus;
  const demand = snapshot.jobs.reduce((s, j) => s + j.scaleFactor, 0);
  const scale = total === 0 || demand === 0 ? 0 : Math.min(1, total / demand);
  const shares = new Map<string, number[]>();
  for (const j of snapshot.jobs) {
    const usable = c.gpuTypes.map((t, k) => (j.throughput[k]! > 0 ? (c.gpus[t] ?? 0) : 0));
    const sum = usable.reduce((a, b) => a + b, 0);
    shares.set(j.id, usable.map((g) => (sum === 0 ? 0 : (scale * g) / sum)));
  }
  return { gpuTypes: c.gpuTypes, shares };
}

export async function loadPolicy(name: string): Promise<LoadedPolicy> {
  if (name === 'equal-share') {
    return { name, allocate: (s) => ({ allocation: equalShareAllocation(s) }), fifo: false };
  }
  const policy: Policy = getPolicy(name); // RondoError naming the known policies when unknown
  await initSolver();
  return {
    name: policy.meta.name,
    allocate: (s) => policy.allocate(s),
    fifo: /^fifo/i.test(policy.meta.name),
  };
}
