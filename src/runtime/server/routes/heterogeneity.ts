import type { FastifyInstance } from 'fastify';
import type { Heterogeneity, UseSeries } from '../../dashboard-api.js';
import { iso, USER, type RouteDeps } from '../http.js';
import type { UseFigures, UseSample } from '../store/index.js';

/**
 * The heterogeneity view's data: GPU use per plan over a window, raw against effective (throughput-weighted: each
 * job's GPUs times its throughput there over its throughput on its best type), by GPU type and by tenant, with the
 * GPUs waiting jobs ask for; and, per running job, its throughput where it runs against its best type. The series
 * come from the per-plan record (store/use-history.ts), as the cluster was at each plan. A tenant sees the
 * cluster-wide series by type, its own series by tenant and its own jobs only.
 */

const query = {
  type: 'object',
  additionalProperties: false,
  properties: { minutes: { type: 'string', pattern: '^[0-9]{1,4}$', description: 'window length, 1 to 1440 minutes (default 60)' } },
};

const series = { type: 'array', items: { type: 'number' }, description: 'one value per sample' };
const figures = { raw: series, effective: series, queued: series };
const response = {
  type: 'object',
  required: ['from', 'to', 'samples', 'byType', 'byTenant', 'total', 'jobs'],
  properties: {
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    samples: {
      type: 'array',
      description: 'one per plan, oldest first; each holds from `at` until the next (or its `end`)',
      items: { type: 'object', properties: { round: { type: 'integer' }, at: { type: 'string', format: 'date-time' }, end: { type: 'string', format: 'date-time' } } },
    },
    byType: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          type: { type: 'string' },
          capacity: { ...series, description: 'live GPUs of the type at each plan' },
          raw: { ...series, description: 'GPUs held by leases' },
          effective: { ...series, description: 'GPUs held, each weighted by its job\'s throughput here over its best type' },
          queued: { ...series, description: 'GPUs asked for by waiting jobs whose best type this is' },
        },
      },
    },
    byTenant: { type: 'array', items: { type: 'object', properties: { tenant: { type: 'string' }, ...figures } } },
    total: { type: 'object', properties: { capacity: series, ...figures } },
    jobs: {
      type: 'array',
      description: 'running jobs: throughput on the type they hold against their best allowed type',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          name: { type: ['string', 'null'] },
          tenant: { type: 'string' },
          gpuType: { type: 'string' },
          gpus: { type: 'integer' },
          throughput: { type: ['number', 'null'], description: 'steps/s on gpuType' },
          source: { type: ['string', 'null'], description: 'measured, table, estimated or default' },
          bestType: { type: ['string', 'null'] },
          bestThroughput: { type: ['number', 'null'] },
          bestSource: { type: ['string', 'null'] },
          ratio: { type: ['number', 'null'], description: 'throughput / bestThroughput (1: on its best type)' },
        },
      },
    },
  },
};

/** Values of one figure over the samples, 0 where a sample lacks the key. */
function pick<K extends string>(samples: readonly UseSample[], of: (s: UseSample) => Readonly<Record<string, unknown>>, key: string, field: K): number[] {
  return samples.map((s) => ((of(s)[key] as Record<K, number> | undefined)?.[field] ?? 0));
}

export async function heterogeneityRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { store, scheduler } = deps;
  app.get(
    '/api/v1/heterogeneity',
    { schema: { querystring: query }, config: { auth: USER, summary: 'Raw against throughput-weighted GPU use over time, by type and tenant, with queued demand; per running job, its type against its best', responses: { 200: response } } },
    async (req): Promise<Heterogeneity> => {
      const p = req.principal!;
      const own = p.kind === 'tenant' ? p.tenant : undefined;
      const minutes = Math.min(1440, Math.max(1, Number((req.query as { minutes?: string }).minutes ?? 60)));
      const to = Date.now();
      const from = to - minutes * 60_000;
      const samples = store.useSamples(from, to);
      const types = [...new Set(samples.flatMap((s) => Object.keys(s.types)))].sort();
      const tenants = [...new Set(samples.flatMap((s) => Object.keys(s.tenants)))].filter((t) => own === undefined || t === own).sort();
      const series = (of: (s: UseSample) => Readonly<Record<string, unknown>>, key: string): UseSeries => ({
        raw: pick(samples, of, key, 'raw'),
        effective: pick(samples, of, key, 'effective'),
        queued: pick(samples, of, key, 'queued'),
      });
      const byType = types.map((t) => ({ type: t, capacity: pick(samples, (s) => s.types, t, 'capacity'), ...series((s) => s.types, t) }));
      const sum = (f: keyof UseFigures | 'capacity'): number[] =>
        samples.map((s) => Math.round(Object.values(s.types).reduce((a, x) => a + (x[f] ?? 0), 0) * 1000) / 1000);
      // Running jobs: where they run against their best allowed type, from the same throughput view as the job page.
      const jobs = store
        .openAttempts()
        .filter((a) => a.state === 'running')
        .flatMap((a) => {
          const j = store.getJob(a.jobId);
          if (!j || (own !== undefined && j.tenant !== own)) return [];
          const view = scheduler.throughputView(j).filter((v) => (j.gpuTypes === null || j.gpuTypes.includes(v.gpuType)) && v.value > 0);
          const here = view.find((v) => v.gpuType === a.gpuType);
          const best = view.reduce<(typeof view)[number] | undefined>((b, v) => (!b || v.value > b.value ? v : b), undefined);
          return [{
            id: j.id,
            name: j.name,
            tenant: j.tenant,
            gpuType: a.gpuType,
            gpus: a.gpus.length,
            throughput: here?.value ?? null,
            source: here?.source ?? null,
            bestType: best?.gpuType ?? null,
            bestThroughput: best?.value ?? null,
            bestSource: best?.source ?? null,
            ratio: here && best ? here.value / best.value : null,
          }];
        })
        .sort((x, y) => (x.ratio ?? 1) - (y.ratio ?? 1) || x.id.localeCompare(y.id));
      return {
        from: iso(from),
        to: iso(to),
        samples: samples.map((s) => ({ round: s.round, at: iso(Math.max(s.at, from)), end: iso(s.end) })),
        byType,
        byTenant: tenants.map((t) => ({ tenant: t, ...series((s) => s.tenants, t) })),
        total: { capacity: sum('capacity'), raw: sum('raw'), effective: sum('effective'), queued: sum('queued') },
        jobs,
      };
    },
  );
}
