import type { LiveThroughputs } from '../../estimate/index.js';
import { liveThroughput, type LiveCluster } from './live-cluster.js';
import type { JobShape, Store } from './store/index.js';
import type { UseFigures, UseSample } from './store/use-history.js';

/**
 * The heterogeneity view's record of one plan: what the leases of the round hold, raw and weighted by throughput.
 * A job's effective GPUs on a type are its GPUs there times its throughput there over its throughput on its best
 * allowed type of the live cluster (1 on its best type, 0.25 on a type four times slower), so "effective below raw"
 * is what heterogeneity costs the cluster right now. Waiting jobs' demand (GPUs asked for) is counted on their best
 * type and for their tenant; a job no live type can hold is not counted (it is no demand this cluster can meet).
 */

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The planner's view of throughputs: each active job's measurements, and the table or estimates for the rest. */
export interface Throughputs {
  readonly measured: ReadonlyMap<string, Readonly<Record<string, number>>>;
  readonly known: LiveThroughputs | undefined;
}

/** The ratio of a job's throughput on type index `k` to its best type's (1 when nothing is known). */
export function bestRatio(row: readonly number[], k: number): { ratio: number; best: number } {
  let best = -1;
  row.forEach((x, i) => {
    if (x > (best < 0 ? 0 : row[best]!)) best = i;
  });
  if (best < 0 || k < 0) return { ratio: 1, best };
  return { ratio: (row[k] ?? 0) / row[best]!, best };
}

export function useSample(store: Store, live: LiveCluster, r: { round: number; startMs: number; endMs: number }, tp: Throughputs): UseSample {
  const { cluster } = live;
  const zero = (): Mutable<UseFigures> => ({ raw: 0, effective: 0, queued: 0 });
  const types: Record<string, Mutable<UseFigures> & { capacity: number }> = Object.fromEntries(
    cluster.gpuTypes.map((t) => [t, { ...zero(), capacity: cluster.gpus[t] ?? 0 }]),
  );
  const tenants: Record<string, Mutable<UseFigures>> = {};
  // Jobs that measured nothing share their row with every job of the same type, size and allowed types.
  const shared = new Map<string, readonly number[]>();
  const rowOf = (j: JobShape): readonly number[] => {
    const measured = tp.measured.get(j.id);
    if (measured && Object.keys(measured).length > 0) return liveThroughput(cluster, measured, j, tp.known);
    const key = `${j.jobType ?? ''}\0${j.scaleFactor}\0${j.gpuTypes?.join(',') ?? '*'}`;
    let row = shared.get(key);
    if (!row) shared.set(key, (row = liveThroughput(cluster, {}, j, tp.known)));
    return row;
  };
  // The leases that run to this plan's end: this round's (new or extended) and, for a backfill plan, the round's others.
  // Only on registrations still alive: a retired one's GPUs are not in this plan's capacity, and its open attempts (lost
  // no later than their lease end) would count the same GPUs twice beside the new registration's.
  const alive = new Set(store.listWorkers().filter((w) => w.state === 'alive').map((w) => w.id));
  const held = store.openAttempts().filter((a) => a.leaseEnd >= r.endMs && alive.has(a.workerId));
  const shapes = new Map(store.jobShapes([...new Set(held.map((a) => a.jobId))]).map((j) => [j.id, j]));
  for (const a of held) {
    const job = shapes.get(a.jobId);
    if (!job) continue;
    const n = a.gpus.length;
    const { ratio } = bestRatio(rowOf(job), cluster.gpuTypes.indexOf(a.gpuType));
    const ty = (types[a.gpuType] ??= { ...zero(), capacity: 0 });
    const te = (tenants[job.tenant] ??= zero());
    ty.raw += n;
    te.raw += n;
    ty.effective += n * ratio;
    te.effective += n * ratio;
  }
  for (const j of store.waitingJobs(r.endMs)) {
    const { best } = bestRatio(rowOf(j), -1);
    // A job no live type can hold is no demand on this cluster (its page says why): the sums by type and by tenant agree.
    if (best < 0) continue;
    types[cluster.gpuTypes[best]!]!.queued += j.scaleFactor * j.count;
    (tenants[j.tenant] ??= zero()).queued += j.scaleFactor * j.count;
  }
  const round3 = (f: Mutable<UseFigures>): void => {
    f.effective = Math.round(f.effective * 1000) / 1000;
  };
  Object.values(types).forEach(round3);
  Object.values(tenants).forEach(round3);
  return { round: r.round, at: r.startMs, end: r.endMs, types, tenants };
}

/** Records the plan's sample after the current turn (the leases are committed already; requests go first). */
export function recordUse(store: Store, live: LiveCluster, r: { round: number; startMs: number; endMs: number }, tp: Throughputs, log: (m: string) => void): void {
  setImmediate(() => {
    try {
      store.saveUseSample(useSample(store, live, r, tp));
    } catch (e) {
      // A closing store (server stopping) loses one sample; anything else is worth a line in the log.
      if (!/not open|closed/i.test((e as Error).message)) log(`use history: ${(e as Error).message}`);
    }
  });
}
