import type { FastifyInstance } from 'fastify';
import { USER, type RouteDeps } from '../http.js';
import { renderMetrics } from '../metrics.js';
import { openApi, type RouteInfo } from '../openapi.js';
import * as S from '../schemas.js';

/** Liveness, Prometheus metrics and the OpenAPI document. */
export async function metricsRoutes(app: FastifyInstance, deps: RouteDeps & { readonly routes: readonly RouteInfo[] }): Promise<void> {
  const { store, scheduler } = deps;

  app.get('/healthz', { schema: { querystring: S.emptyQuery }, config: { summary: 'Liveness: 200 while the server runs (no token needed)' } }, async () => {
    return { ok: true, schemaVersion: store.schemaVersion(), round: scheduler.stats.lastRound };
  });

  app.get('/metrics', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'Prometheus text metrics' } }, async (_req, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return renderMetrics(store, scheduler);
  });

  app.get('/api/v1/openapi.json', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'This OpenAPI 3.1 document' } }, async () => openApi(deps.routes));
}
