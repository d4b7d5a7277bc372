import type { FastifyInstance } from 'fastify';
import { ApiError } from '../api-error.js';
import { ADMIN, type RouteDeps } from '../http.js';
import * as R from '../response-schemas.js';
import * as S from '../schemas.js';

/** API tokens (admin only): create a tenant or worker token, list, revoke. */
export async function tokenRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { store } = deps;

  app.post('/api/v1/tokens', { schema: { body: S.createTokenBody }, config: { auth: ADMIN, summary: 'Create a tenant or worker token (shown once)', responses: { 201: R.tokenCreatedSchema } } }, async (req, reply) => {
    const b = req.body as { kind: 'tenant' | 'worker'; tenant?: string; label?: string };
    const t = store.createToken(b.kind, { ...(b.tenant ? { tenant: b.tenant } : {}), ...(b.label ? { label: b.label } : {}) });
    store.event('token.created', { detail: { id: t.id, kind: b.kind, tenant: b.tenant ?? null } });
    reply.code(201);
    return { id: t.id, kind: b.kind, tenant: b.tenant ?? null, token: t.token };
  });

  app.get('/api/v1/tokens', { schema: { querystring: S.emptyQuery }, config: { auth: ADMIN, summary: 'List tokens (never their values)', responses: { 200: R.tokenListSchema } } }, async () => ({
    tokens: store.listTokens(),
  }));

  app.delete('/api/v1/tokens/:id', { schema: { params: S.tokenIdParams }, config: { auth: ADMIN, summary: 'Revoke a token (not the one making the request)', responses: { 200: R.tokenRevokedSchema } } }, async (req) => {
    const id = Number((req.params as { id: string }).id);
    // Admin tokens are made only at a store's first start: revoking the one in hand would lock the admin out until a restart.
    if (id === req.principal!.tokenId) throw new ApiError(409, 'E_CONFLICT', `token ${id} is the one making this request; revoke it with another admin token`);
    if (!store.revokeToken(id)) throw new ApiError(404, 'E_NOT_FOUND', `no active token ${id}`);
    store.event('token.revoked', { detail: { id } });
    return { id, revoked: true };
  });
}
