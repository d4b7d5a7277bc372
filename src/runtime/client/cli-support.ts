import { existsSync, readFileSync } from 'node:fs';
import { RondoError } from '../../model/errors.js';
import { ApiClient, HttpError } from './http-client.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:8470';

/**
 * Server and token for the client commands: flags first, then RONDO_SERVER / RONDO_TOKEN, then the admin token file
 * that `rondo serve` writes beside the default store (`./rondo.db.admin-token`), so the local mode needs no setup.
 */
export function clientFrom(flags: { server?: string; token?: string }): ApiClient {
  const server = flags.server ?? process.env.RONDO_SERVER ?? DEFAULT_SERVER;
  let token = flags.token ?? process.env.RONDO_TOKEN;
  if (!token && existsSync('rondo.db.admin-token')) token = readFileSync('rondo.db.admin-token', 'utf8').trim();
  if (!token) {
    throw new RondoError({ code: 'E_USAGE', problem: 'no API token', hint: 'pass --token, set RONDO_TOKEN, or run from the directory of rondo.db.admin-token' });
  }
  if (!/^https?:\/\/[^\s/]+/.test(server)) throw new RondoError({ code: 'E_USAGE', problem: 'bad server URL', expected: 'http://HOST:PORT', found: server });
  return new ApiClient({ server, token });
}

/** Turns an HTTP failure into the CLI's one-line error. */
export async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof HttpError) {
      throw new RondoError({ code: 'E_USAGE', problem: e.status === 0 ? e.message : `server answered ${e.status}: ${e.message}` });
    }
    throw e;
  }
}

export function seconds(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new RondoError({ code: 'E_USAGE', problem: `bad ${flag}`, expected: 'seconds above 0', found: v });
  return n;
}

export function positiveInt(flag: string, v: string, max = 1_000_000): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new RondoError({ code: 'E_USAGE', problem: `bad ${flag}`, expected: `an integer from 0 to ${max}`, found: v });
  return n;
}

/** Fixed-width table for terminals. */
export function table(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ')).join('\n') + '\n';
}
