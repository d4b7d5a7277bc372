import type { Allocation } from '../../model/index.js';
import type { TenantTree } from '../../model/tenants.js';
import { entitlements, tenantProblem } from '../../policies/tenant-model.js';
import type { PolicySnapshot } from '../../policies/types.js';

/**
 * What one allocation gives each leaf tenant of a live server's tree (docs/tenants.md, "rondo serve"): computed
 * next to the policy (on its thread), so /metrics, the per-round history and the dashboard read numbers, not LPs.
 * The unit is the tenant policies' own: reference-GPU equivalents of each tenant's own jobs (tenant-model.ts).
 */
export interface TenantFigure {
  readonly tenant: string;
  /** What its guarantee is worth to its active jobs (normalised units; 0 without a guarantee or jobs). */
  readonly entitlement: number;
  /** What the allocation gives its jobs: sum of time fraction x normalised speed (normalised units). */
  readonly received: number;
  /** GPUs it holds on average over the round, per type of `TenantFigures.gpuTypes`. */
  readonly gpus: readonly number[];
  /** GPUs above its GPU guarantee (summed over types); null for a normalised guarantee or none. */
  readonly borrowedGpus: number | null;
  /** GPUs of its unused GPU guarantee that others use (see `lentShares`); null without a GPU guarantee. */
  readonly lentGpus: number | null;
  readonly activeJobs: number;
  /** Active jobs the allocation gives no time, and the GPUs they ask for. */
  readonly queuedJobs: number;
  readonly queuedGpus: number;
}

export interface TenantFigures {
  readonly gpuTypes: readonly string[];
  readonly tenants: readonly TenantFigure[];
}

/** Per-tenant figures of `allocation` for `snapshot` on `tree` (every leaf of the tree, with jobs or not). */
export function tenantFigures(snapshot: PolicySnapshot, allocation: Allocation, tree: TenantTree): TenantFigures {
  const tp = tenantProblem(snapshot, tree);
  const { p, flat } = tp;
  const K = p.types.length;
  const e = tp.p.jobs.length > 0 ? entitlements(tp, 'tenant figures') : new Float64Array(flat.nodes.length);
  const col = p.types.map((t) => allocation.gpuTypes.indexOf(t));
  const N = flat.nodes.length;
  const received = new Float64Array(N);
  const gpus = Array.from({ length: N }, () => new Float64Array(K));
  const active = new Int32Array(N);
  const queued = new Int32Array(N);
  const queuedGpus = new Float64Array(N);
  for (let j = 0; j < p.jobs.length; j++) {
    const job = p.jobs[j]!;
    const leaf = tp.leafOf[j]!;
    const row = allocation.shares.get(job.id);
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const x = row && col[k]! >= 0 ? (row[col[k]!] ?? 0) : 0;
      sum += x;
      received[leaf]! += x * tp.value[j]![k]!;
      gpus[leaf]![k]! += x * job.scaleFactor;
    }
    active[leaf]!++;
    if (sum < 1e-9) {
      queued[leaf]!++;
      queuedGpus[leaf]! += job.scaleFactor;
    }
  }
  const leaves = flat.nodes.map((n, i) => i).filter((i) => flat.nodes[i]!.children.length === 0);
  const guaranteed = (i: number): Float64Array | null => {
    const g = flat.nodes[i]!.guarantee;
    return g?.kind === 'gpus' ? Float64Array.from(p.types, (t) => g.gpus[t] ?? 0) : null;
  };
  const lent = lentShares(leaves.map(guaranteed), leaves.map((i) => gpus[i]!), p.caps);
  return {
    gpuTypes: p.types,
    tenants: leaves.map((i, li) => {
      const g = guaranteed(i);
      let borrowed = 0;
      if (g) for (let k = 0; k < K; k++) borrowed += Math.max(0, gpus[i]![k]! - g[k]!);
      return {
        tenant: flat.nodes[i]!.name,
        entitlement: e[i]!,
        received: received[i]!,
        gpus: Array.from(gpus[i]!),
        borrowedGpus: g ? borrowed : null,
        lentGpus: lent[li]!,
        activeJobs: active[i]!,
        queuedJobs: queued[i]!,
        queuedGpus: queuedGpus[i]!,
      };
    }),
  };
}

/**
 * GPUs each tenant lends, as the simulator's accounting counts them (src/sim/tenant-accounting.ts): borrowing
 * beyond the GPUs nobody is guaranteed is attributed to the tenants with unused guarantees, in proportion to what
 * each left unused. Null for a tenant without a GPU guarantee.
 */
export function lentShares(guarantees: readonly (Float64Array | null)[], used: readonly Float64Array[], caps: readonly number[]): (number | null)[] {
  const K = caps.length;
  const borrowedOn = new Float64Array(K);
  const unusedOn = new Float64Array(K);
  const guaranteedOn = new Float64Array(K);
  guarantees.forEach((g, t) => {
    if (!g) return;
    for (let k = 0; k < K; k++) {
      guaranteedOn[k]! += g[k]!;
      borrowedOn[k]! += Math.max(0, used[t]![k]! - g[k]!);
      unusedOn[k]! += Math.max(0, g[k]! - used[t]![k]!);
    }
  });
  return guarantees.map((g, t) => {
    if (!g) return null;
    let lent = 0;
    for (let k = 0; k < K; k++) {
      const fromLenders = Math.max(0, borrowedOn[k]! - Math.max(0, caps[k]! - guaranteedOn[k]!));
      const unused = Math.max(0, g[k]! - used[t]![k]!);
      if (unusedOn[k]! > 0) lent += unused * Math.min(1, fromLenders / unusedOn[k]!);
    }
    return lent;
  });
}
