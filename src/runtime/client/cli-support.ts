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

/** Fixed-width table for terminals; cells are made `plain` (they hold tenants' strings). */
export function table(input: readonly (readonly string[])[]): string {
  if (input.length === 0) return '';
  const rows = input.map((r) => r.map(plain));
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ')).join('\n') + '\n';
}

/**
 * Terminal escape sequences and control characters removed, so a tenant's strings (job names, commands, log lines)
 * cannot retitle, rewrite or hide what the admin's terminal shows, or write its clipboard (OSC 52). Removed: ESC
 * sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-byte escapes), C1 controls (U+0080-U+009F, which some terminals
 * obey as 8-bit escapes) and the C0 controls but tab and newline (a carriage return can overwrite a line).
 */
export function plain(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b[\]PX^_][\s\S]*?(?:\u0007|\u001b\\|\u009c|$)|\u001b[ -/]*[0-~]?|[\u0090\u0098\u009d-\u009f][\s\S]*?(?:\u0007|\u009c|$)|\u009b[0-?]*[ -/]*[@-~]?/g, '')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '')
  );
}

/** JSON for a terminal: JSON.stringify escapes C0 controls but prints DEL and C1 controls raw. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
