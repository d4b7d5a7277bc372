import { flattenTenants } from '../../model/tenants.js';
import type { LiveTenants } from './tenants.js';

type Metric = (name: string, type: 'gauge' | 'counter', help: string, samples: Array<[Record<string, string>, number]>) => void;

/**
 * Per-tenant series of /metrics under `rondo serve --tenants` (names in docs/tenants.md, "rondo serve"). Gauges are
 * the latest allocation's figures; counters run since this server process started.
 */
export function renderTenantMetrics(t: LiveTenants | undefined, metric: Metric, divisible: boolean): void {
  if (!t) return;
  const f = t.figuresNow(divisible);
  const figures = f?.tenants ?? [];
  const one = (get: (x: (typeof figures)[number]) => number | null): Array<[Record<string, string>, number]> =>
    figures.flatMap((x) => {
      const v = get(x);
      return v === null ? [] : [[{ tenant: x.tenant }, v] as [Record<string, string>, number]];
    });
  const flat = flattenTenants(t.tree);
  const guaranteed: Array<[Record<string, string>, number]> = [];
  for (const [name, i] of flat.leafIndex) {
    const g = flat.nodes[i]!.guarantee;
    if (g?.kind === 'gpus') for (const [type, n] of Object.entries(g.gpus)) guaranteed.push([{ tenant: name, type }, n]);
  }
  metric('rondo_tenant_guarantee_gpus', 'gauge', 'GPUs per type the tenant tree guarantees the tenant.', guaranteed);
  metric('rondo_tenant_guarantee_normalized', 'gauge', "What the tenant's guarantee is worth to its active jobs now, in reference-GPU equivalents (its entitlement).", one((x) => x.entitlement));
  metric('rondo_tenant_received_normalized', 'gauge', "Normalised throughput the current allocation gives the tenant's jobs (reference-GPU equivalents).", one((x) => x.received));
  metric(
    'rondo_tenant_gpus',
    'gauge',
    'GPUs the current allocation gives the tenant, by type (time-averaged over the round).',
    figures.flatMap((x) => (f?.gpuTypes ?? []).map((type, k) => [{ tenant: x.tenant, type }, x.gpus[k] ?? 0] as [Record<string, string>, number])),
  );
  metric('rondo_tenant_borrowed_gpus', 'gauge', 'GPUs the tenant holds above its GPU guarantee (tenants with a GPU guarantee).', one((x) => x.borrowedGpus));
  metric('rondo_tenant_lent_gpus', 'gauge', "GPUs of the tenant's unused guarantee that other tenants use.", one((x) => x.lentGpus));
  metric('rondo_tenant_active_jobs', 'gauge', 'Jobs of the tenant that wait or run.', one((x) => x.activeJobs));
  metric('rondo_tenant_queued_jobs', 'gauge', 'Jobs of the tenant the current allocation gives no time (queued demand).', one((x) => x.queuedJobs));
  metric('rondo_tenant_queued_gpus', 'gauge', 'GPUs those queued jobs ask for.', one((x) => x.queuedGpus));
  const c = [...t.counters.entries()];
  const counter = (get: (v: (typeof c)[number][1]) => number): Array<[Record<string, string>, number]> => c.map(([tenant, v]) => [{ tenant }, get(v)]);
  metric('rondo_tenant_rounds_with_demand_total', 'counter', 'Rounds in which the tenant had a job waiting or running.', counter((v) => v.roundsWithDemand));
  metric('rondo_tenant_rounds_below_guarantee_total', 'counter', 'Rounds with demand in which the tenant received less than 95% of its entitlement.', counter((v) => v.roundsBelowGuarantee));
  metric('rondo_tenant_received_normalized_seconds_total', 'counter', 'Normalised throughput received, integrated over time (reference-GPU-seconds).', counter((v) => v.receivedSeconds));
  metric('rondo_tenant_borrowed_gpu_seconds_total', 'counter', 'GPU-seconds the tenant held above its GPU guarantee.', counter((v) => v.borrowedGpuSeconds));
  metric('rondo_tenant_lent_gpu_seconds_total', 'counter', "GPU-seconds of the tenant's unused guarantee used by others.", counter((v) => v.lentGpuSeconds));
  metric('rondo_tenants_reloads_total', 'counter', 'Reloads of the tenant tree file, by result (a failed one keeps the tree in force).', [
    [{ result: 'ok' }, t.reloads],
    [{ result: 'failed' }, t.failedReloads],
  ]);
}
