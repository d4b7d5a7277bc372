/** A small JSON client for the REST API, shared by the CLI commands, the worker agent and the tests. */

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  readonly server: string;
  readonly token?: string;
  readonly timeoutMs?: number;
}

export class ApiClient {
  readonly base: string;
  constructor(private readonly opts: ClientOptions) {
    this.base = opts.server.replace(/\/+$/, '');
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 15_000),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      throw new HttpError(0, 'E_CONNECT', `cannot reach ${this.base}: ${cause ?? (e as Error).message}`);
    }
    const text = await res.text();
    let data: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json')) {
      try {
        data = JSON.parse(text);
      } catch {
        // keep the text
      }
    }
    if (!res.ok) {
      const err = (data as { error?: { code?: string; message?: string } }).error;
      throw new HttpError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? (typeof data === 'string' ? data.slice(0, 200) : `HTTP ${res.status}`));
    }
    return data as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }
}
