import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RondoError } from '../../../model/errors.js';
import type { TenantNode } from '../../../model/tenants.js';
import { flattenTenants } from '../../../model/tenants.js';
import type { TenantHistory, TenantsView } from '../../dashboard-api.js';
import { ApiError } from '../api-error.js';
import { ADMIN, USER, type RouteDeps } from '../http.js';
import * as S from '../schemas.js';
import type { LiveTenants } from '../tenants.js';
import { TENANT_ROUNDS_KEPT } from '../store/tenant-rounds.js';

/**
 * `rondo serve --tenants FILE` over HTTP (docs/tenants.md, "rondo serve"): the tree and each tenant's latest
 * figures, the per-round history the dashboard draws, and the admin's reload. `tenantGuards` keeps tokens and jobs
 * to the tree's tenants.
 */

const historyQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    // Query values are strings (no type coercion): digits, bounded in the handler.
    rounds: { type: 'string', pattern: '^[0-9]{1,5}$', description: `the last N rounds, 1 to ${TENANT_ROUNDS_KEPT} (default 240)` },
    tenant: { type: 'string', pattern: S.TENANT_PATTERN, description: 'admin only: one tenant' },
  },
};

function live(deps: RouteDeps): LiveTenants | undefined {
  return deps.scheduler.loadedPolicy.tenants;
}

/**
 * With a tree, a tenant must be one of its leaves: creating a tenant token or submitting a job (as the admin, or
 * the Kubernetes driver for a `rondo.dev/queue` label) for another name is a 400 naming the file and the fix, and
 * a token whose tenant a reload removed is refused (403) until the tenant is back. Registered on the root instance
 * so it sees every route; runs after authentication and validation.
 */
export function tenantGuards(app: FastifyInstance, deps: RouteDeps): void {
  app.addHook('preHandler', async (req: FastifyRequest) => {
    const t = live(deps);
    if (!t) return;
    const p = req.principal;
    if (p?.kind === 'tenant' && !t.has(p.tenant)) {
      throw new ApiError(403, 'E_FORBIDDEN', `this token's tenant ${p.tenant} is not in the tenant tree ${t.file} (removed or renamed there); add it back and reload, or use a token of one of its tenants`);
    }
    if (req.method !== 'POST' || p?.kind !== 'admin') return;
    const body = req.body as { kind?: string; tenant?: string } | undefined;
    const url = req.routeOptions.url;
    if (url === '/api/v1/tokens' && body?.kind === 'tenant' && body.tenant !== undefined && !t.has(body.tenant)) throw t.unknown(body.tenant);
    if (url === '/api/v1/jobs' && body?.tenant !== undefined && !t.has(body.tenant)) throw t.unknown(body.tenant);
  });
}

function guaranteeView(n: TenantNode): Record<string, number> | null {
  if (!n.guarantee) return null;
  return n.guarantee.kind === 'gpus' ? { ...n.guarantee.gpus } : { normalized: n.guarantee.units };
}

export async function tenantRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { store } = deps;

  /** A tenant token sees its own tenant only. */
  function scope(req: FastifyRequest, asked: string | undefined): string | undefined {
    const p = req.principal!;
    if (p.kind === 'tenant') {
      if (asked !== undefined && asked !== p.tenant) throw new ApiError(403, 'E_FORBIDDEN', `a token of tenant ${p.tenant} cannot see tenant ${asked}`);
      return p.tenant;
    }
    return asked;
  }

  app.get('/api/v1/tenants', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'The tenant tree (--tenants): each tenant\'s guarantee, limits and latest figures (a tenant sees its own)' } }, async (req): Promise<TenantsView> => {
    const t = live(deps);
    if (!t) return { file: null, policy: deps.scheduler.policyName, tenants: [] };
    const only = scope(req, undefined);
    const flat = flattenTenants(t.tree);
    const now = t.figuresNow(deps.scheduler.liveWorkers().length > 0 && store.hasActiveJobs());
    const figures = new Map((now?.tenants ?? []).map((f) => [f.tenant, f]));
    const tenants = [...flat.leafIndex.entries()]
      .filter(([name]) => only === undefined || name === only)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([name, i]) => {
        const n = flat.nodes[i]!;
        const f = figures.get(name);
        const c = t.counters.get(name);
        return {
          tenant: name,
          cohorts: flat.ancestors[i]!.slice(0, -1).map((a) => flat.nodes[a]!.name),
          weight: n.weight,
          policy: n.policy ?? 'fair',
          guarantee: guaranteeView(n),
          borrowingLimit: n.borrowingLimit ?? null,
          lendingLimit: n.lendingLimit ?? null,
          entitlement: f?.entitlement ?? 0,
          received: f?.received ?? 0,
          gpus: f ? Object.fromEntries((now?.gpuTypes ?? []).map((g, k) => [g, f.gpus[k] ?? 0])) : {},
          borrowedGpus: f?.borrowedGpus ?? null,
          lentGpus: f?.lentGpus ?? null,
          activeJobs: f?.activeJobs ?? 0,
          queuedJobs: f?.queuedJobs ?? 0,
          roundsWithDemand: c?.roundsWithDemand ?? 0,
          roundsBelowGuarantee: c?.roundsBelowGuarantee ?? 0,
        };
      });
    return { file: t.file, policy: deps.scheduler.policyName, loadedAt: t.loadedAt, reloads: t.reloads, failedReloads: t.failedReloads, lastError: t.lastError ?? null, tenants };
  });

  app.get('/api/v1/tenants/history', { schema: { querystring: historyQuery }, config: { auth: USER, summary: 'Per round, each tenant\'s entitlement, received normalised throughput, GPUs, borrowed and lent (a tenant sees its own)' } }, async (req): Promise<TenantHistory> => {
    const q = req.query as { rounds?: string; tenant?: string };
    const rounds = Math.min(TENANT_ROUNDS_KEPT, Math.max(1, Number(q.rounds ?? 240)));
    const t = live(deps);
    const tenant = scope(req, q.tenant);
    const rows = t ? store.tenantRounds({ limit: rounds, ...(tenant !== undefined ? { tenant } : {}) }) : [];
    return { file: t?.file ?? null, rows };
  });

  app.post('/api/v1/admin/tenants/reload', { schema: { querystring: S.emptyQuery }, config: { auth: ADMIN, summary: 'Read the --tenants file again; a bad file keeps the tree in force and answers 400 naming the line and the fix' } }, async () => {
    const t = live(deps);
    if (!t) throw new ApiError(409, 'E_USAGE', 'this server was started without --tenants: there is no tenant tree to reload (restart it with --tenants FILE)');
    try {
      t.reload();
    } catch (e) {
      if (e instanceof RondoError) throw new ApiError(400, e.code, `${e.message} (the tenant tree in force stays)`);
      throw e;
    }
    store.event('tenants.reloaded', { detail: { file: t.file, tenants: t.tenants().length } });
    return { file: t.file, tenants: t.tenants(), loadedAt: t.loadedAt, reloads: t.reloads };
  });
}
