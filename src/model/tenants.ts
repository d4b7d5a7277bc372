import { RondoError } from './errors.js';
import type { ClusterSpec, GpuType } from './cluster.js';

/**
 * A tenant tree (docs/tenants.md): cohorts (nodes with children) and tenants (leaves) with Kueue-like quotas.
 * Jobs name their tenant (`Job.tenant`); a leaf's name is what they name. Reading and the file format are in
 * src/io/tenants.ts; this file holds the types and the checks that need the cluster.
 */

/** How a tenant orders its own jobs inside what the tree gives it. */
export type InnerPolicy = 'fair' | 'fifo' | 'sjf';
export const INNER_POLICIES: readonly InnerPolicy[] = ['fair', 'fifo', 'sjf'];

/**
 * A guarantee: GPUs per type, or `normalized` units: reference-GPU equivalents of the node's own job mix (one unit
 * = the throughput its jobs would get from one GPU of the reference type, v100 by default).
 */
export type Guarantee = { readonly kind: 'gpus'; readonly gpus: Readonly<Record<GpuType, number>> } | { readonly kind: 'normalized'; readonly units: number };

export interface TenantNode {
  readonly name: string;
  /** Where it was defined, for errors: `tenants[0].children[2]`. */
  readonly path: string;
  readonly weight: number;
  readonly guarantee?: Guarantee;
  /**
   * How far above its guarantee the node may go, in the guarantee's unit: GPUs per type (a type not listed is
   * unlimited) or normalised units. Absent: unlimited.
   */
  readonly borrowingLimit?: Readonly<Record<GpuType, number>> | number;
  /** GPUs per type of its guarantee that others may use while it does not (GPU guarantees only). Absent: all. */
  readonly lendingLimit?: Readonly<Record<GpuType, number>>;
  /** Leaves only (cohorts: undefined). */
  readonly policy?: InnerPolicy;
  readonly children: readonly TenantNode[];
}

export interface TenantTree {
  /** GPU type whose one GPU is one normalised unit. Absent: v100, or the cluster's first type without one. */
  readonly referenceGpuType?: GpuType;
  readonly roots: readonly TenantNode[];
  /** File it came from, for errors. */
  readonly source?: string;
}

/** The tree as arrays, for the policies: node 0.. in depth-first order, parents before children. */
export interface FlatTenants {
  readonly nodes: readonly TenantNode[];
  /** Parent index, -1 for a root. */
  readonly parent: Int32Array;
  /** Index path from the root down to each node (inclusive). */
  readonly ancestors: readonly (readonly number[])[];
  readonly leafIndex: ReadonlyMap<string, number>;
}

export function flattenTenants(tree: TenantTree): FlatTenants {
  const nodes: TenantNode[] = [];
  const parent: number[] = [];
  const ancestors: number[][] = [];
  const walk = (n: TenantNode, p: number, up: number[]): void => {
    const i = nodes.length;
    nodes.push(n);
    parent.push(p);
    const path = [...up, i];
    ancestors.push(path);
    for (const c of n.children) walk(c, i, path);
  };
  for (const r of tree.roots) walk(r, -1, []);
  const leafIndex = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (n.children.length === 0) leafIndex.set(n.name, i);
  });
  return { nodes, parent: Int32Array.from(parent), ancestors, leafIndex };
}

/** A tree with one leaf per name, weight 1 and no guarantee: what a tenant policy uses without a tree. */
export function flatTreeOf(names: readonly string[], weights?: Readonly<Record<string, number>>): TenantTree {
  return {
    roots: [...new Set(names)].sort().map((name) => ({ name, path: name, weight: weights?.[name] ?? 1, policy: 'fair' as const, children: [] })),
  };
}

/** The reference type of a tree on a cluster (see `TenantTree.referenceGpuType`). */
export function referenceTypeIndex(tree: TenantTree, types: readonly GpuType[]): number {
  const want = tree.referenceGpuType ?? 'v100';
  const k = types.indexOf(want);
  if (k >= 0) return k;
  if (tree.referenceGpuType !== undefined) {
    throw new RondoError({
      code: 'E_UNKNOWN_GPU',
      ...(tree.source ? { file: tree.source } : {}),
      problem: `referenceGpuType ${want} is not a GPU type of the cluster`,
      expected: `one of ${types.join(', ')}`,
    });
  }
  return 0;
}

function err(tree: TenantTree, node: TenantNode | undefined, problem: string, hint: string): RondoError {
  return new RondoError({ code: 'E_INFEASIBLE', ...(tree.source ? { file: tree.source } : {}), problem: node ? `${node.path} (${node.name}): ${problem}` : problem, hint });
}

function sumGpus(nodes: readonly TenantNode[], t: GpuType): number {
  let s = 0;
  for (const n of nodes) if (n.guarantee?.kind === 'gpus') s += n.guarantee.gpus[t] ?? 0;
  return s;
}

/**
 * Checks a tree against a cluster: GPU types exist; GPU guarantees of siblings fit in their parent's (the
 * cluster's, at the top); normalised guarantees of siblings, counting each unit as one GPU, fit in the GPUs
 * there are (a necessary condition: what a unit costs depends on the jobs, so the rest is checked each round, where
 * guarantees that cannot all be met are scaled down together).
 */
export function checkTenantsOnCluster(tree: TenantTree, cluster: ClusterSpec): void {
  const types = new Set(cluster.gpuTypes);
  const total = cluster.gpuTypes.reduce((s, t) => s + (cluster.gpus[t] ?? 0), 0);
  referenceTypeIndex(tree, cluster.gpuTypes);
  const checkTypes = (n: TenantNode, what: string, rec: Readonly<Record<GpuType, number>> | number | undefined): void => {
    if (rec === undefined || typeof rec === 'number') return;
    for (const t of Object.keys(rec)) {
      if (!types.has(t)) {
        throw new RondoError({
          code: 'E_UNKNOWN_GPU',
          ...(tree.source ? { file: tree.source } : {}),
          problem: `${n.path} (${n.name}): ${what} names GPU type ${t}, which the cluster does not have`,
          expected: `one of ${cluster.gpuTypes.join(', ')}`,
        });
      }
    }
  };
  const level = (siblings: readonly TenantNode[], parent: TenantNode | undefined): void => {
    for (const n of siblings) {
      if (n.guarantee?.kind === 'gpus') checkTypes(n, 'guarantee', n.guarantee.gpus);
      checkTypes(n, 'borrowingLimit', n.borrowingLimit);
      checkTypes(n, 'lendingLimit', n.lendingLimit);
    }
    const pg = parent?.guarantee;
    for (const t of cluster.gpuTypes) {
      const s = sumGpus(siblings, t);
      const cap = pg === undefined ? (cluster.gpus[t] ?? 0) : pg.kind === 'gpus' ? (pg.gpus[t] ?? 0) : Infinity;
      if (s > cap) {
        throw err(
          tree,
          parent,
          `guarantees of ${parent ? 'its children' : 'the top-level tenants'} add up to ${s} ${t} GPUs, more than the ${cap} ${parent ? 'it is guaranteed' : 'the cluster has'}`,
          'lower the guarantees or give more GPUs',
        );
      }
    }
    let units = 0;
    for (const n of siblings) if (n.guarantee?.kind === 'normalized') units += n.guarantee.units;
    const cap = pg?.kind === 'normalized' ? pg.units : total;
    if (units > cap) {
      throw err(
        tree,
        parent,
        `normalised guarantees of ${parent ? 'its children' : 'the top-level tenants'} add up to ${units} units, more than ${pg?.kind === 'normalized' ? `its own ${cap}` : `the cluster's ${cap} GPUs`}`,
        'lower the guarantees',
      );
    }
    for (const n of siblings) level(n.children, n);
  };
  level(tree.roots, undefined);
}

/** Throws when some job names a tenant the tree lacks (only leaves hold jobs). */
export function checkJobTenants(tree: TenantTree, jobs: readonly { readonly id: string; readonly tenant?: string }[], defaultTenant = 'default'): void {
  const flat = flattenTenants(tree);
  const missing = new Map<string, string>();
  for (const j of jobs) {
    const t = j.tenant ?? defaultTenant;
    if (!flat.leafIndex.has(t) && !missing.has(t)) missing.set(t, j.id);
  }
  if (missing.size > 0) {
    const list = [...missing].slice(0, 5).map(([t, id]) => `${t} (job ${id})`).join(', ');
    throw new RondoError({
      code: 'E_INVALID',
      ...(tree.source ? { file: tree.source } : {}),
      problem: `${missing.size} tenant(s) of the jobs are not leaves of the tenant tree: ${list}`,
      hint: `add them to the tree (a job without a tenant belongs to "${defaultTenant}"), or assign tenants with --assign-tenants`,
    });
  }
}
