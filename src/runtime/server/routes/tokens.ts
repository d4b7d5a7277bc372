import type { FastifyInstance } from 'fastify';
import { ApiError } from '../api-error.js';
import { ADMIN, type RouteDeps } from '../http.js';
import * as S from '../schemas.js';

/** API tokens (admin only): create a tenant or worker token, list, revoke. */
export async function tokenRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { store } = deps;

  app.post('/api/v1/tokens', { schema: { body: S.createTokenBody }, config: { auth: ADMIN, summary: 'Create a tenant or worker token (shown once)' } }, async (req, reply) => {
    const b = req.body as { kind: 'tenant' | 'worker'; tenant?: string; label?: string };
    if (b.kind === 'tenant' && !b.tenant) throw new ApiError(400, 'E_SCHEMA', 'a tenant token needs "tenant"');
    if (b.kind === 'worker' && b.tenant) throw new ApiError(400, 'E_SCHEMA', 'a worker token has no tenant');
    const t = store.createToken(b.kind, { ...(b.tenant ? { tenant: b.tenant } : {}), ...(b.label ? { label: b.label } : {}) });
    store.event('token.created', { detail: { id: t.id, kind: b.kind, tenant: b.tenant ?? null } });
    reply.code(201);
    return { id: t.id, kind: b.kind, tenant: b.tenant ?? null, token: t.token };
  });

  app.get('/api/v1/tokens', { schema: { querystring: S.emptyQuery }, config: { auth: ADMIN, summary: 'List tokens (never their values)' } }, async () => ({
    tokens: store.listTokens(),
  }));

  app.delete('/api/v1/tokens/:id', { schema: { params: S.tokenIdParams }, config: { auth: ADMIN, summary: 'Revoke a token' } }, async (req) => {
    const id = Number((req.params as { id: string }).id);
    if (!store.revokeToken(id)) throw new ApiError(404, 'E_NOT_FOUND', `no active token ${id}`);
    store.event('token.revoked', { detail: { id } });
    return { id, revoked: true };
  });
}
