import { RondoError, checkJobTenants, checkTenantsOnCluster, type ClusterSpec, type Job } from '../model/index.js';
import type { TenantTree } from '../model/tenants.js';
import { readTenants } from '../io/tenants.js';
import type { Policy } from '../policies/types.js';
import type { EngineObserver } from '../engine/types.js';
import { assignTenants } from './tenant-assign.js';
import { TenantAccounting, combineObservers } from './tenant-accounting.js';

/** `--tenants` and `--assign-tenants` of simulate, compare and sweep (docs/tenants.md). */
export interface TenantFlags {
  tenants?: string;
  assignTenants?: string;
}

/** Reads the tree, checks it on the cluster, assigns tenants and checks every job's tenant is a leaf. */
export function applyTenantFlags(flags: TenantFlags, cluster: ClusterSpec, jobs: readonly Job[] | undefined, seed: number): { tenants?: TenantTree; jobs?: readonly Job[] } {
  let out = jobs;
  if (flags.assignTenants !== undefined) {
    if (!out) throw new RondoError({ code: 'E_USAGE', problem: '--assign-tenants needs --trace', hint: 'generated jobs have no tenants; convert a trace with tenants instead' });
    out = assignTenants(out, flags.assignTenants, seed);
  }
  if (flags.tenants === undefined) return out ? { jobs: out } : {};
  const tree = readTenants(flags.tenants);
  checkTenantsOnCluster(tree, cluster);
  if (out) checkJobTenants(tree, out);
  return { tenants: tree, ...(out ? { jobs: out } : {}) };
}

/** Wraps a run's policy and observer with per-tenant accounting (a run with --tenants or with tenants in its jobs). */
export function withTenantAccounting(
  policy: Policy,
  observer: EngineObserver,
  tree: TenantTree | undefined,
  cluster: ClusterSpec,
  jobs: readonly Job[] | undefined,
): { policy: Policy; observer: EngineObserver; accounting: TenantAccounting } {
  const tenantOf = new Map((jobs ?? []).map((j) => [j.id, j.tenant]));
  const accounting = new TenantAccounting(tree, cluster, (id) => tenantOf.get(id));
  return { policy: accounting.wrap(policy), observer: combineObservers(observer, accounting.observer), accounting };
}
