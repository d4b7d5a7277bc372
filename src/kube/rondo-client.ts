/**
 * The Kubernetes driver talks to Rondo's own server through its public REST API, as a worker agent and an admin
 * client do: submit and cancel jobs, create worker tokens, register a worker per node and sync it. So the driver
 * needs nothing inside the server but its URL and an admin token, and every store rule (durability, one process
 * per job, lease hold-back) applies to Kubernetes Jobs exactly as to processes.
 */
import type { BatchSyncRequest, BatchSyncResponse, SyncRequest, SyncResponse } from '../runtime/protocol.js';

export class RondoApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RondoJobView {
  readonly id: string;
  readonly name: string | null;
  readonly tenant: string;
  readonly state: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  readonly totalSteps: number | null;
  readonly stepsDone: number;
}

export interface SubmitBody {
  name: string;
  command: string[];
  cwd: string;
  tenant: string;
  scaleFactor: number;
  jobType?: string;
  totalSteps?: number;
  gpuTypes?: string[];
  priorityWeight?: number;
}

export class RondoClient {
  constructor(
    readonly base: string,
    private readonly adminToken: string,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, token = this.adminToken): Promise<T> {
    const res = await fetch(this.base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) {
      let msg = text;
      try {
        msg = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
      } catch {
        // not JSON: keep the text
      }
      throw new RondoApiError(res.status, `${method} ${path}: ${res.status} ${msg}`);
    }
    return JSON.parse(text) as T;
  }

  submit(b: SubmitBody): Promise<RondoJobView> {
    return this.call('POST', '/api/v1/jobs', b);
  }

  cancel(id: string): Promise<RondoJobView> {
    return this.call('POST', `/api/v1/jobs/${id}/cancel`);
  }

  job(id: string): Promise<RondoJobView & { attemptsDetail: Array<{ id: number; round: number; gpuType: string }> }> {
    return this.call('GET', `/api/v1/jobs/${id}`);
  }

  /** Every job, paged by submission order. */
  async allJobs(): Promise<RondoJobView[]> {
    const out: RondoJobView[] = [];
    let after = 0;
    for (;;) {
      const page = (await this.call<{ jobs: RondoJobView[] }>('GET', `/api/v1/jobs?limit=1000&after=${after}`)).jobs;
      out.push(...page);
      if (page.length < 1000) return out;
      after = Number(page[page.length - 1]!.id.slice(4));
    }
  }

  /** One page of the queue view: jobs in `state` with the server's estimates (null where it has none). */
  queue(state: string, offset: number, limit: number): Promise<{ jobs: Array<{ id: string; state: string; estimatedFinish: string | null }> }> {
    return this.call('GET', `/api/v1/queue?state=${state}&offset=${offset}&limit=${limit}`);
  }

  createWorkerToken(label: string): Promise<{ id: number; token: string }> {
    return this.call('POST', '/api/v1/tokens', { kind: 'worker', label });
  }

  register(workerToken: string, name: string, gpus: Array<{ type: string; count: number }>): Promise<{ id: string }> {
    return this.call('POST', '/api/v1/workers', { name, gpus }, workerToken);
  }

  sync(workerToken: string, workerId: string, body: SyncRequest): Promise<SyncResponse> {
    return this.call('POST', `/api/v1/workers/${workerId}/sync`, body, workerToken);
  }

  /** Many workers registered at once (admin token): a new one (no id) comes back with its own worker token. */
  registerBatch(workers: Array<{ id?: string; name: string; gpus: Array<{ type: string; count: number }> }>): Promise<{ workers: Array<{ name: string; id: string; token?: string }> }> {
    return this.call('POST', '/api/v1/workers/register', { workers });
  }

  /** Every node-worker's heartbeat in one request (admin token): one store transaction per pass, not one per node. */
  syncBatch(body: BatchSyncRequest): Promise<BatchSyncResponse> {
    return this.call('POST', '/api/v1/workers/sync', body);
  }
}
