/** The dashboard's only way to the server: the REST API under /api/v1 with the pasted token. */

import { ApiError } from '../../src/runtime/dashboard-api';

// The answers' shapes and the error type are the server's own (one definition, src/runtime/dashboard-api.ts).
export { ApiError, JOB_STATES } from '../../src/runtime/dashboard-api';
export type {
  ClusterHistory,
  ClusterView,
  CostLine,
  CostView,
  FairnessView,
  Heterogeneity,
  JobDetail,
  JobState,
  JobWhy,
  LogLine,
  LogPage,
  QueuePage,
  QueueRow,
  TenantHistory,
  TenantRound,
  TenantsView,
  Timeline,
  UseSeries,
  WhoAmI,
} from '../../src/runtime/dashboard-api';

const TOKEN_KEY = 'rondo.token';

export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** The API lives next to the page: `/` serves the UI, `/api/v1` the API (also behind a path prefix). */
function apiUrl(path: string): string {
  return new URL(`.${path}`, document.baseURI).toString();
}

/** Called on any 401: the token is gone or wrong, so the app goes back to the login screen. */
let onUnauthorized: (message: string) => void = () => {};
export function setUnauthorizedHandler(fn: (message: string) => void): void {
  onUnauthorized = fn;
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = 'E_HTTP';
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.message) message = body.error.message;
    if (body.error?.code) code = body.error.code;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message);
}

export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown, token = savedToken()): Promise<T> {
  // Signed out (every API call needs a token): a view's refresh that was waiting when the user signed out must not
  // go out without one and come back 401.
  if (!token) throw new ApiError(401, 'E_SIGNED_OUT', 'signed out');
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(apiUrl(path), { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch {
    throw new ApiError(0, 'E_NETWORK', 'cannot reach the Rondo server (is `rondo serve` running?)');
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && token === savedToken()) onUnauthorized(err.message);
    throw err;
  }
  return (await res.json()) as T;
}

export type StreamState = 'connecting' | 'live' | 'reconnecting';

/**
 * Follows `/api/v1/stream` (Server-Sent Events) with fetch, because EventSource cannot send an Authorization
 * header. Calls `onChange` for each `change` event; reconnects after a drop; stops when `signal` aborts.
 */
export async function followChanges(onChange: () => void, onState: (s: StreamState) => void, signal: AbortSignal): Promise<void> {
  let retryMs = 2000;
  while (!signal.aborted) {
    const token = savedToken();
    if (!token) return;
    try {
      const res = await fetch(apiUrl('/api/v1/stream'), { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal });
      if (res.status === 401) {
        onUnauthorized((await errorOf(res)).message);
        return;
      }
      if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
      onState('live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        // Events end with a blank line; fields are `name: value` lines.
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let event = 'message';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('retry:')) retryMs = Math.max(500, Number(line.slice(6).trim()) || retryMs);
          }
          if (event === 'change') onChange();
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    onState('reconnecting');
    await new Promise((r) => setTimeout(r, retryMs));
  }
}
