import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Who is calling the API. Resolved from the bearer token on every request. */
export type Principal =
  | { readonly kind: 'admin'; readonly tokenId: number }
  | { readonly kind: 'tenant'; readonly tokenId: number; readonly tenant: string }
  | { readonly kind: 'worker'; readonly tokenId: number; readonly workerId: string | null }
  | { readonly kind: 'lease'; readonly tokenId: number; readonly attemptId: number; readonly jobId: string };

export type TokenKind = Principal['kind'];

/**
 * Tokens are 32 random bytes, base64url, with a short prefix naming their kind so a leaked token in a log says
 * what it unlocks. Only the sha256 of a token is stored: a stolen database does not hand out working tokens.
 */
export function newToken(kind: TokenKind): string {
  const prefix = { admin: 'rdo_adm_', tenant: 'rdo_ten_', worker: 'rdo_wrk_', lease: 'rdo_lse_' }[kind];
  return prefix + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Constant-time comparison of a presented token with a stored hash. The lookup itself goes through the hash (an
 * index on a sha256 leaks nothing useful about the token), and this re-check compares fixed-length digests so the
 * time taken does not depend on where they differ.
 */
export function tokenMatches(token: string, storedHash: string): boolean {
  const a = Buffer.from(hashToken(token), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Extracts the token from an `Authorization: Bearer <token>` header; undefined when absent or malformed. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer ([A-Za-z0-9_\-.~+/=]{8,200})$/.exec(header.trim());
  return m ? m[1] : undefined;
}
