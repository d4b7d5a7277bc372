import type { LiveCluster } from './live-cluster.js';
import type { JobRow, Store } from './store/index.js';
import type { UseFigures, UseSample } from './store/use-history.js';

/**
 * The heterogeneity view's record of one plan: what the leases of the round hold, raw and weighted by throughput.
 * A job's effective GPUs on a type are its GPUs there times its throughput there over its throughput on its best
 * allowed type of the live cluster (1 on its best type, 0.25 on a type four times slower), so "effective below raw"
 * is what heterogeneity costs the cluster right now. Waiting jobs' demand (GPUs asked for) is counted on their best
 * type and for their tenant; a job no live type can hold is not counted (it is no demand this cluster can meet).
 */

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A job's throughput per GPU type of `live` (the runtime's estimate: measured, table, or default), as the planner sees it. */
export type ThroughputRow = (job: JobRow, cluster: LiveCluster['cluster']) => readonly number[];

/** The ratio of a job's throughput on type index `k` to its best type's (1 when nothing is known). */
export function bestRatio(row: readonly number[], k: number): { ratio: number; best: number } {
  let best = -1;
  row.forEach((x, i) => {
    if (x > (best < 0 ? 0 : row[best]!)) best = i;
  });
  if (best < 0 || k < 0) return { ratio: 1, best };
  return { ratio: (row[k] ?? 0) / row[best]!, best };
}

export function useSample(store: Store, live: LiveCluster, r: { round: number; startMs: number; endMs: number }, throughputOf: ThroughputRow): UseSample {
  const { cluster } = live;
  const zero = (): Mutable<UseFigures> => ({ raw: 0, effective: 0, queued: 0 });
  const types: Record<string, Mutable<UseFigures> & { capacity: number }> = Object.fromEntries(
    cluster.gpuTypes.map((t) => [t, { ...zero(), capacity: cluster.gpus[t] ?? 0 }]),
  );
  const tenants: Record<string, Mutable<UseFigures>> = {};
  const active = new Map(store.activeJobs().map((j) => [j.id, j]));
  const rows = new Map<string, readonly number[]>();
  const rowOf = (j: JobRow): readonly number[] => {
    let row = rows.get(j.id);
    if (!row) rows.set(j.id, (row = throughputOf(j, cluster)));
    return row;
  };
  const holding = new Set<string>();
  // The leases that run to this plan's end: this round's (new or extended) and, for a backfill plan, the round's others.
  for (const a of store.openAttempts()) {
    if (a.leaseEnd < r.endMs) continue;
    const job = active.get(a.jobId);
    if (!job) continue;
    holding.add(a.jobId);
    const n = a.gpus.length;
    const { ratio } = bestRatio(rowOf(job), cluster.gpuTypes.indexOf(a.gpuType));
    const ty = (types[a.gpuType] ??= { ...zero(), capacity: 0 });
    const te = (tenants[job.tenant] ??= zero());
    ty.raw += n;
    te.raw += n;
    ty.effective += n * ratio;
    te.effective += n * ratio;
  }
  for (const j of active.values()) {
    if (holding.has(j.id) || j.cancelRequested || j.state !== 'queued') continue;
    const { best } = bestRatio(rowOf(j), -1);
    // A job no live type can hold is no demand on this cluster (its page says why): the sums by type and by tenant agree.
    if (best < 0) continue;
    types[cluster.gpuTypes[best]!]!.queued += j.scaleFactor;
    (tenants[j.tenant] ??= zero()).queued += j.scaleFactor;
  }
  const round3 = (f: Mutable<UseFigures>): void => {
    f.effective = Math.round(f.effective * 1000) / 1000;
  };
  Object.values(types).forEach(round3);
  Object.values(tenants).forEach(round3);
  return { round: r.round, at: r.startMs, end: r.endMs, types, tenants };
}

/** Records the plan's sample after the current turn (the leases are committed already; requests go first). */
export function recordUse(store: Store, live: LiveCluster, r: { round: number; startMs: number; endMs: number }, throughputOf: ThroughputRow, log: (m: string) => void): void {
  setImmediate(() => {
    try {
      store.saveUseSample(useSample(store, live, r, throughputOf));
    } catch (e) {
      // A closing store (server stopping) loses one sample; anything else is worth a line in the log.
      if (!/not open|closed/i.test((e as Error).message)) log(`use history: ${(e as Error).message}`);
    }
  });
}
