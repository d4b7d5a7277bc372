import type { FastifyInstance } from 'fastify';
import { costView } from '../cost.js';
import { ownJob, USER, type RouteDeps } from '../http.js';
import * as S from '../schemas.js';

const costQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'string', pattern: '^[0-9]{1,5}$' } },
};

/**
 * Prices in force and cost so far (docs/spot.md): an admin sees every tenant, a tenant its own jobs only.
 */
export async function costRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { store, scheduler } = deps;

  app.get('/api/v1/prices', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'GPU prices in force (serve --prices / --prices-url)' } }, async () => {
    return scheduler.livePrices ? scheduler.livePrices.status() : { source: null, prices: {}, readAt: null, error: null, errorAt: null, threshold: null };
  });

  app.get<{ Querystring: { limit?: string } }>(
    '/api/v1/cost',
    { schema: { querystring: costQuery }, config: { auth: USER, summary: 'Cost so far per tenant and per job (most expensive jobs first; limit, default 100)' } },
    async (req) => {
      const p = req.principal!;
      const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
      return costView(store, scheduler.livePrices, Date.now(), { limit, ...(p.kind === 'tenant' ? { tenant: p.tenant! } : {}) });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/jobs/:id/cost',
    { schema: { params: S.jobIdParams, querystring: S.emptyQuery }, config: { auth: USER, summary: "A job's cost so far, revocations and work lost" } },
    async (req) => {
      const job = ownJob(store, req, req.params.id);
      const v = costView(store, scheduler.livePrices, Date.now(), { jobId: job.id });
      return v.jobs[0] ?? { jobId: job.id, tenant: job.tenant, usd: 0, gpuSeconds: 0, spotGpuSeconds: 0, revocations: 0, lostGpuSeconds: 0 };
    },
  );
}
