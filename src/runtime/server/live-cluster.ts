import type { ClusterSpec, Server } from '../../model/index.js';
import type { LiveThroughputs } from '../../estimate/index.js';
import type { WorkerRow } from './store/index.js';

/** The live workers as the engine's cluster, and the runtime's view of a job's throughput on it. */

/** A live worker's GPUs as mechanism servers: one server per (worker, GPU type). */
export interface LiveCluster {
  readonly cluster: ClusterSpec;
  /** Server index -> worker and the device index of the server's first GPU on that worker. */
  readonly servers: ReadonlyArray<{ readonly workerId: string; readonly gpuType: string; readonly firstDevice: number; readonly server: Server }>;
}

export function buildCluster(workers: readonly WorkerRow[]): LiveCluster {
  const types = [...new Set(workers.flatMap((w) => w.gpus.map((g) => g.type)))].sort();
  const gpus: Record<string, number> = Object.fromEntries(types.map((t) => [t, 0]));
  const perServer: Record<string, number> = Object.fromEntries(types.map((t) => [t, 1]));
  const out: Array<{ workerId: string; gpuType: string; firstDevice: number; server: Server }> = [];
  let next = 0;
  // Servers grouped by type (the mechanism walks them in order), workers in registration order within a type.
  for (const t of types) {
    for (const w of workers) {
      let device = 0;
      for (const g of w.gpus) {
        if (g.type === t && g.count > 0) {
          const server: Server = { id: out.length, gpuType: t, gpus: g.count, firstGpu: next };
          out.push({ workerId: w.id, gpuType: t, firstDevice: device, server });
          next += g.count;
          gpus[t]! += g.count;
          perServer[t] = Math.max(perServer[t]!, g.count);
        }
        device += g.count;
      }
    }
  }
  return {
    cluster: { gpuTypes: types, gpus, gpusPerServer: perServer, servers: out.map((s) => s.server), totalGpus: next },
    servers: out,
  };
}

/** Global GPU id -> (worker, device index). */
export function locate(live: LiveCluster, gpu: number): { workerId: string; device: number } | undefined {
  for (const s of live.servers) {
    if (gpu >= s.server.firstGpu && gpu < s.server.firstGpu + s.server.gpus) {
      return { workerId: s.workerId, device: s.firstDevice + (gpu - s.server.firstGpu) };
    }
  }
  return undefined;
}

/** (worker, device) -> global GPU id in this round's cluster. */
export function globalGpu(live: LiveCluster, workerId: string, gpuType: string, device: number): number | undefined {
  for (const s of live.servers) {
    if (s.workerId === workerId && s.gpuType === gpuType && device >= s.firstDevice && device < s.firstDevice + s.server.gpus) {
      return s.server.firstGpu + (device - s.firstDevice);
    }
  }
  return undefined;
}

/** Largest gang one worker can hold per type of `cluster`: the runtime does not launch one job across machines. */
const largest = new WeakMap<ClusterSpec, readonly number[]>();
function maxPerWorker(cluster: ClusterSpec): readonly number[] {
  let m = largest.get(cluster);
  if (!m) {
    m = cluster.gpuTypes.map((t) => Math.max(0, ...cluster.servers.filter((s) => s.gpuType === t).map((s) => s.gpus)));
    largest.set(cluster, m);
  }
  return m;
}

/**
 * A job's throughput per type as the runtime knows it. With a throughput table (`rondo serve --throughputs`, the
 * shipped Gavel table by default): measured steps/s where it has run, the table's row for a job type the table
 * knows, the low-rank estimate otherwise (src/estimate). Without one, as before: the mean of its measurements (or 1)
 * on types it has not run on. 0 where the job may not run or no single worker has enough GPUs.
 */
export function liveThroughput(
  cluster: ClusterSpec,
  measured: Readonly<Record<string, number>>,
  job: { readonly scaleFactor: number; readonly gpuTypes?: readonly string[] | null; readonly jobType?: string | null },
  known: LiveThroughputs | undefined,
): number[] {
  if (known) return known.row(cluster.gpuTypes, maxPerWorker(cluster), job, measured);
  const values = Object.values(measured);
  const fallback = values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : 1;
  const most = maxPerWorker(cluster);
  return cluster.gpuTypes.map((t, k) => {
    if (job.gpuTypes && !job.gpuTypes.includes(t)) return 0;
    if (job.scaleFactor > most[k]!) return 0;
    return measured[t] ?? fallback;
  });
}
