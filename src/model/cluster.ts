import { RondoError } from './errors.js';

/** A GPU type name, lower-case as in Gavel's throughput files (`v100`, `p100`, `k80`, `a100`, ...). */
export type GpuType = string;

const GPU_TYPE_RE = /^[a-z0-9][a-z0-9_.-]*$/;

/** Normalises a user-typed GPU type (`V100` -> `v100`) and rejects names that could not be a key. */
export function normaliseGpuType(raw: string): GpuType {
  const t = raw.trim().toLowerCase();
  if (!GPU_TYPE_RE.test(t) || t.endsWith('_unconsolidated')) {
    throw new RondoError({
      code: 'E_CLUSTER',
      problem: 'invalid GPU type name',
      expected: 'letters, digits, "_", "-" or "." (e.g. v100)',
      found: JSON.stringify(raw),
    });
  }
  return t;
}

/** One machine: a number of GPUs, all of one type. */
export interface Server {
  /** Index in `ClusterSpec.servers`. */
  readonly id: number;
  readonly gpuType: GpuType;
  readonly gpus: number;
  /** Global id of this server's first GPU; its GPUs are `firstGpu .. firstGpu + gpus - 1`. */
  readonly firstGpu: number;
}

/**
 * The modelled cluster. `gpus[t]` is the count of type t; servers of type t hold `gpusPerServer[t]` GPUs each
 * (the last server of a type holds the remainder when the count does not divide evenly).
 */
export interface ClusterSpec {
  /** GPU types in a fixed order; every per-type array in Rondo (allocations, throughput rows) uses this order. */
  readonly gpuTypes: readonly GpuType[];
  readonly gpus: Readonly<Record<GpuType, number>>;
  readonly gpusPerServer: Readonly<Record<GpuType, number>>;
  readonly servers: readonly Server[];
  readonly totalGpus: number;
}

export const DEFAULT_GPUS_PER_SERVER = 1;

/**
 * Builds a cluster from GPU counts per type and servers sizes. Types keep the order given; a type with 0 GPUs is
 * kept (policies see it and give it no time), so `v100:0` is a valid way to switch a type off.
 */
export function makeCluster(
  gpus: Record<string, number> | Array<[string, number]>,
  gpusPerServer: number | Record<string, number> = DEFAULT_GPUS_PER_SERVER,
): ClusterSpec {
  const entries = Array.isArray(gpus) ? gpus : Object.entries(gpus);
  if (entries.length === 0) {
    throw new RondoError({ code: 'E_CLUSTER', problem: 'cluster has no GPU types', hint: 'give e.g. v100:36,p100:36,k80:36' });
  }
  const counts: Record<GpuType, number> = {};
  const perServer: Record<GpuType, number> = {};
  const types: GpuType[] = [];
  for (const [rawType, count] of entries) {
    const t = normaliseGpuType(rawType);
    if (t in counts) {
      throw new RondoError({ code: 'E_CLUSTER', problem: `GPU type ${t} is listed twice`, hint: 'list each type once' });
    }
    if (!Number.isInteger(count) || count < 0 || count > 10_000_000) {
      throw new RondoError({
        code: 'E_CLUSTER',
        problem: `bad GPU count for ${t}`,
        expected: 'an integer from 0 to 10000000',
        found: String(count),
      });
    }
    counts[t] = count;
    types.push(t);
  }
  for (const t of types) {
    let n: number | undefined;
    if (typeof gpusPerServer === 'number') n = gpusPerServer;
    else {
      const normalised = Object.fromEntries(Object.entries(gpusPerServer).map(([k, v]) => [normaliseGpuType(k), v]));
      n = normalised[t] ?? DEFAULT_GPUS_PER_SERVER;
    }
    if (!Number.isInteger(n) || n < 1 || n > 1024) {
      throw new RondoError({
        code: 'E_CLUSTER',
        problem: `bad GPUs-per-server for ${t}`,
        expected: 'an integer from 1 to 1024',
        found: String(n),
      });
    }
    perServer[t] = n;
  }
  if (typeof gpusPerServer === 'object') {
    for (const k of Object.keys(gpusPerServer)) {
      if (!(normaliseGpuType(k) in counts)) {
        throw new RondoError({
          code: 'E_UNKNOWN_GPU',
          problem: `GPUs-per-server names GPU type ${JSON.stringify(k)} that the cluster does not have`,
          hint: `cluster types are ${types.join(', ')}`,
        });
      }
    }
  }
  const servers: Server[] = [];
  let gpuId = 0;
  for (const t of types) {
    let left = counts[t]!;
    const per = perServer[t]!;
    while (left > 0) {
      const g = Math.min(per, left);
      servers.push({ id: servers.length, gpuType: t, gpus: g, firstGpu: gpuId });
      gpuId += g;
      left -= g;
    }
  }
  return { gpuTypes: types, gpus: counts, gpusPerServer: perServer, servers, totalGpus: gpuId };
}

/** Largest gang a cluster can hold on one GPU type. */
export function maxGpusOfOneType(cluster: ClusterSpec): number {
  return Math.max(0, ...cluster.gpuTypes.map((t) => cluster.gpus[t] ?? 0));
}

/** GPU type and server of a global GPU id. */
export function gpuOwner(cluster: ClusterSpec, gpu: number): Server {
  // Servers are sorted by firstGpu, so binary search.
  const s = cluster.servers;
  let lo = 0;
  let hi = s.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (s[mid]!.firstGpu <= gpu) lo = mid;
    else hi = mid - 1;
  }
  const srv = s[lo];
  if (!srv || gpu < srv.firstGpu || gpu >= srv.firstGpu + srv.gpus) {
    throw new RondoError({ code: 'E_INVALID', problem: `GPU id ${gpu} is not in the cluster` });
  }
  return srv;
}
