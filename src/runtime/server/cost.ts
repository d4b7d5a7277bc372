/**
 * Cost so far (docs/spot.md): every attempt that ran is billed per GPU-second at the price in force for the GPU type
 * it held (`v100` on-demand, `v100-spot`: the tier is part of the type), from its start to its end (or now). An
 * attempt on a spot type that ended `lost` (its worker or node went away) is a revocation: the job is re-queued and
 * resumes from its last checkpoint; the run time of the revoked attempt is counted as work lost, an upper bound,
 * since the server does not know when the job last wrote its checkpoint.
 */
import { isSpotType } from '../../model/index.js';
import type { CostLine, CostView, JobCost } from '../dashboard-api.js';
import type { LivePrices } from './prices.js';
import type { Store } from './store/index.js';

const zero = (): { usd: number; gpuSeconds: number; spotGpuSeconds: number; revocations: number; lostGpuSeconds: number } => ({ usd: 0, gpuSeconds: 0, spotGpuSeconds: 0, revocations: 0, lostGpuSeconds: 0 });

function add(to: ReturnType<typeof zero>, from: CostLine): void {
  to.usd += from.usd;
  to.gpuSeconds += from.gpuSeconds;
  to.spotGpuSeconds += from.spotGpuSeconds;
  to.revocations += from.revocations;
  to.lostGpuSeconds += from.lostGpuSeconds;
}

/** Cost per job and per tenant, optionally of one tenant or one job. */
export function costView(store: Store, prices: LivePrices | undefined, nowMs: number, opts: { tenant?: string; jobId?: string; limit?: number } = {}): CostView {
  const byJob = new Map<string, JobCost & ReturnType<typeof zero>>();
  for (const a of store.billedAttempts(opts.jobId)) {
    if (opts.tenant !== undefined && a.tenant !== opts.tenant) continue;
    const end = Math.max(a.startedAt, a.endedAt ?? nowMs);
    const seconds = ((end - a.startedAt) / 1000) * a.devices;
    const spot = isSpotType(a.gpuType);
    const revoked = spot && a.endReason === 'lost';
    const line = byJob.get(a.jobId) ?? { jobId: a.jobId, tenant: a.tenant, ...zero() };
    line.usd += prices ? prices.cost(a.gpuType, a.devices, a.startedAt, end) : 0;
    line.gpuSeconds += seconds;
    if (spot) line.spotGpuSeconds += seconds;
    if (revoked) {
      line.revocations++;
      line.lostGpuSeconds += seconds;
    }
    byJob.set(a.jobId, line);
  }
  const total = zero();
  const tenants = new Map<string, { tenant: string; jobs: number } & ReturnType<typeof zero>>();
  for (const j of byJob.values()) {
    add(total, j);
    const t = tenants.get(j.tenant) ?? { tenant: j.tenant, jobs: 0, ...zero() };
    add(t, j);
    t.jobs++;
    tenants.set(j.tenant, t);
  }
  const jobs = [...byJob.values()].sort((a, b) => b.usd - a.usd || b.gpuSeconds - a.gpuSeconds || (a.jobId < b.jobId ? -1 : 1));
  return {
    at: new Date(nowMs).toISOString(),
    prices: prices ? prices.status() : null,
    total,
    tenants: [...tenants.values()].sort((a, b) => b.usd - a.usd || b.gpuSeconds - a.gpuSeconds || (a.tenant < b.tenant ? -1 : 1)),
    jobs: jobs.slice(0, opts.limit ?? jobs.length),
    jobCount: jobs.length,
  };
}
