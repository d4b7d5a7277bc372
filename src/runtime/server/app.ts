import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import { isRondoError } from '../../model/errors.js';
import { ApiError } from './api-error.js';
import { bearerToken } from './auth.js';
import { DEFAULT_LIMITS, SECURITY_HEADERS, sendError, validationMessage, type ApiLimits, type RouteDeps } from './http.js';
import type { RouteInfo } from './openapi.js';
import { clusterRoutes } from './routes/cluster.js';
import { costRoutes } from './routes/cost.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { heterogeneityRoutes } from './routes/heterogeneity.js';
import { jobRoutes } from './routes/jobs.js';
import { metricsRoutes } from './routes/metrics.js';
import { tokenRoutes } from './routes/tokens.js';
import { whatIfRoutes } from './routes/whatif.js';
import { workerRoutes } from './routes/workers.js';
import { loopSections } from './loop-sections.js';
import { tenantGuards, tenantRoutes } from './routes/tenants.js';

/**
 * The HTTP server: strict validation, bearer-token authentication before any body is read, one error shape, and
 * one fastify plugin per resource (routes/). The OpenAPI document is built from the registered routes' schemas.
 */

export interface ServerOptions extends Omit<RouteDeps, 'limits'> {
  readonly logger?: boolean;
  readonly limits?: Partial<ApiLimits>;
}

export { ApiError };
export { checkWorkingDir } from './routes/jobs.js';
export { jobView } from './http.js';

const MAX_BODY = 1024 * 1024;

export function buildServer(opts: ServerOptions): FastifyInstance {
  const { store } = opts;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: MAX_BODY,
    // Strict validation: no type coercion, no silent removal of undeclared properties.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false, verbose: true } },
    return503OnClosing: true,
  });
  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods) {
      if (m === 'HEAD') continue;
      routes.push({ method: m, url: r.url, schema: (r.schema ?? {}) as Record<string, unknown>, config: (r.config ?? {}) as Record<string, unknown> });
    }
    // Each handler's synchronous part (up to its first await) as a section of the event loop (loop-sections.ts).
    const handler = r.handler;
    const name = `http ${methods.join(',')} ${r.url}`;
    r.handler = function timed(this: FastifyInstance, req, reply) {
      const t = performance.now();
      try {
        return handler.call(this, req, reply);
      } finally {
        loopSections.add(name, performance.now() - t);
      }
    };
  });
  // Serializing a reply (between these two hooks) holds the loop too.
  app.addHook('preSerialization', (req, _reply, payload, done) => {
    req.serializeAt = performance.now();
    done(null, payload);
  });
  app.addHook('onSend', (req, _reply, payload, done) => {
    if (req.serializeAt !== undefined) loopSections.add('http serialize', performance.now() - req.serializeAt);
    done(null, payload);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown; validationContext?: string }, req, reply) => {
    if (err instanceof ApiError) return sendError(reply, err.status, err.code, err.message);
    if (err.validation) return sendError(reply, 400, 'E_SCHEMA', validationMessage(err.validationContext ?? 'request', err.validation));
    if (isRondoError(err)) return sendError(reply, 400, err.code, err.message);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, err.code ?? 'E_REQUEST', err.message);
    }
    req.log.error(err);
    process.stderr.write(`rondo serve: internal error on ${req.method} ${req.url}: ${err.stack ?? err.message}\n`);
    return sendError(reply, 500, 'E_INTERNAL', 'internal error (see the server log)');
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'E_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));

  app.addHook('onRequest', async (_req, reply) => {
    reply.headers(SECURITY_HEADERS);
  });

  // Authentication before the body is read: an unauthenticated client cannot make the server parse anything.
  app.addHook('onRequest', async (req) => {
    const allowed = req.routeOptions.config.auth;
    if (!allowed) return;
    const token = bearerToken(req.headers.authorization);
    if (!token) throw new ApiError(401, 'E_AUTH', 'missing or malformed token (send "Authorization: Bearer <token>")');
    const p = loopSections.time('http authenticate', () => store.authenticate(token));
    if (!p) throw new ApiError(401, 'E_AUTH', 'unknown or revoked token');
    if (!allowed.includes(p.kind)) throw new ApiError(403, 'E_FORBIDDEN', `a ${p.kind} token cannot use this endpoint`);
    req.principal = p;
  });

  const limits: ApiLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  if (limits.ratePerMinute > 0) {
    // Per token, after authentication (preHandler): tenants and job (lease) tokens are limited; the admin and
    // workers (trusted, and a worker syncs every heartbeat) are not. The public routes (/healthz, the dashboard's
    // files) are limited per address. A request with a bad token is refused before this hook, reading nothing.
    void app.register(rateLimit, {
      global: true,
      hook: 'preHandler',
      max: limits.ratePerMinute,
      timeWindow: 60_000,
      keyGenerator: (req) => (req.principal ? `token:${req.principal.tokenId}` : `ip:${req.ip}`),
      allowList: (req) => req.principal?.kind === 'admin' || req.principal?.kind === 'worker',
      errorResponseBuilder: (_req, ctx) => new ApiError(429, 'E_RATE_LIMIT', `too many requests: at most ${ctx.max} a minute per token; retry in ${ctx.after}`),
    });
  }

  const deps: RouteDeps = {
    limits,
    store,
    scheduler: opts.scheduler,
    checkpointRoot: opts.checkpointRoot,
    publicUrl: opts.publicUrl,
    ...(opts.jobRoots ? { jobRoots: opts.jobRoots } : {}),
    ...(opts.webDir ? { webDir: opts.webDir } : {}),
  };
  void app.register(metricsRoutes, { ...deps, routes });
  void app.register(jobRoutes, deps);
  void app.register(clusterRoutes, deps);
  void app.register(whatIfRoutes, deps);
  void app.register(tokenRoutes, deps);
  void app.register(workerRoutes, deps);
  void app.register(costRoutes, deps);
  void app.register(dashboardRoutes, deps);
  void app.register(heterogeneityRoutes, deps);
  tenantGuards(app, deps);
  void app.register(tenantRoutes, deps);
  return app;
}
