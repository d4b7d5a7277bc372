import * as S from './schemas.js';

/** A route as the server registered it, collected by an `onRoute` hook. */
export interface RouteInfo {
  readonly method: string;
  readonly url: string;
  readonly schema: Record<string, unknown>;
  readonly config: Record<string, unknown>;
}

/** The OpenAPI 3.1 document, built from the routes' own JSON schemas so it cannot drift from what is validated. */
export function openApi(routes: readonly RouteInfo[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (r.schema.hide) continue; // the dashboard's static files
    const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const params: unknown[] = [];
    for (const [where, schemaKey] of [['path', 'params'], ['query', 'querystring']] as const) {
      const s = r.schema[schemaKey] as { properties?: Record<string, unknown>; required?: string[] } | undefined;
      for (const [name, schema] of Object.entries(s?.properties ?? {})) {
        params.push({ name, in: where, required: where === 'path' || (s?.required ?? []).includes(name), schema });
      }
    }
    const auth = r.config.auth as string[] | undefined;
    const responses: Record<string, unknown> = {};
    for (const [code, schema] of Object.entries((r.config.responses as Record<string, unknown> | undefined) ?? {})) {
      responses[code] = { description: 'success', content: { 'application/json': { schema } } };
    }
    if (Object.keys(responses).length === 0) responses['200'] = { description: 'success' };
    if (auth) {
      responses['429'] = {
        description: 'too many requests: the per-token rate limit (tenant and lease tokens), or the what-if cap; retry after Retry-After seconds',
        headers: { 'Retry-After': { schema: { type: 'integer' } } },
        content: { 'application/json': { schema: S.errorSchema } },
      };
    }
    responses['4XX'] = { description: 'client error', content: { 'application/json': { schema: S.errorSchema } } };
    paths[path] ??= {};
    paths[path]![r.method.toLowerCase()] = {
      summary: r.config.summary ?? '',
      ...(auth ? { security: [{ bearer: [] }], 'x-token-kinds': auth } : { security: [] }),
      parameters: params,
      ...(r.schema.body ? { requestBody: { required: true, content: { 'application/json': { schema: r.schema.body } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Rondo runtime API', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
