/** The dashboard's only way to the server: the REST API under /api/v1 with the pasted token. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

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
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
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

// ---- response shapes (see src/runtime/server/routes/) ----

export type JobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'completed', 'failed', 'cancelled'];

export interface WhoAmI {
  kind: 'admin' | 'tenant';
  tenant: string | null;
  policy: string;
  roundMs: number;
  jobRoots: string[];
}

export interface QueueRow {
  id: string;
  name: string | null;
  tenant: string;
  state: JobState;
  cancelRequested: boolean;
  position: number | null;
  scaleFactor: number;
  gpuTypes: string[] | null;
  stepsDone: number;
  totalSteps: number | null;
  attempts: number;
  preemptions: number;
  submittedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  estimatedStart: string | null;
  estimatedFinish: string | null;
  /** The last estimate included this job (false: it is newer than the estimate). */
  estimated: boolean;
  /** Some live worker has enough GPUs of an allowed type (false: it waits for a bigger worker). */
  fits: boolean;
  targetShare: number[] | null;
  receivedShare: number[];
  runningOn: { workerId: string; gpuType: string; devices: number[] } | null;
  failure: string | null;
  /** Why a queued job is not running (the planner's last round; `never`: no live worker can hold it). */
  why: Why | null;
  preemption: Why | null;
}

export interface Why {
  kind: string;
  text: string;
  round: number | null;
}

export interface JobWhy {
  id: string;
  state: JobState;
  position: number | null;
  queued: number;
  estimatedStart: string | null;
  estimatedFinish: string | null;
  estimated: boolean;
  why: Why | null;
  preemption: Why | null;
  preemptions: number;
}

export interface QueuePage {
  gpuTypes: string[];
  total: number;
  offset: number;
  limit: number;
  counts: Record<JobState, number>;
  tenants: string[];
  /** `skipped`: why there are no estimates (a very long queue), else null. */
  estimates: { at: string | null; truncated: boolean; horizon: string | null; policy: string; skipped: string | null };
  jobs: QueueRow[];
}

export interface ClusterView {
  policy: string;
  roundMs: number;
  workers: Array<{
    id: string;
    name: string;
    state: 'alive' | 'gone';
    /** The registration that retired this one (the same worker registered again). */
    replacedBy: string | null;
    gpus: Array<{ type: string; count: number }>;
    running: Array<{ attempt: number; jobId: string | null; gpuType: string; devices: number[] }>;
  }>;
  gpus: Record<string, { total: number; busy: number }>;
  jobs: Record<JobState, number>;
}

export interface ClusterHistory {
  from: string;
  to: string;
  bucketMs: number;
  types: Array<{ type: string; capacity: number; busy: number[] }>;
}

/** GET /api/v1/heterogeneity: one value per sample (plan) in every series. */
export interface Heterogeneity {
  from: string;
  to: string;
  samples: Array<{ round: number; at: string; end: string }>;
  byType: Array<{ type: string; capacity: number[]; raw: number[]; effective: number[]; queued: number[] }>;
  byTenant: Array<{ tenant: string; raw: number[]; effective: number[]; queued: number[] }>;
  total: { capacity: number[]; raw: number[]; effective: number[]; queued: number[] };
  jobs: Array<{
    id: string;
    name: string | null;
    tenant: string;
    gpuType: string;
    gpus: number;
    throughput: number | null;
    source: string | null;
    bestType: string | null;
    bestThroughput: number | null;
    bestSource: string | null;
    ratio: number | null;
  }>;
}

export interface FairnessView {
  policy: string;
  at: string;
  estimatesTruncated: boolean;
  estimatesSkipped: string | null;
  jobs: Array<{ id: string; name: string | null; tenant: string; state: JobState; estimatedFinish: string | null; fairSeconds: number | null; rho: number | null; rhoAtLeast: number | null; lengthUnknown: boolean }>;
  tenants: Array<{ tenant: string; activeJobs: number; gpusHeld: number; gpuShare: number; fairShare: number; meanRho: number | null; maxRho: number | null }>;
  /** `allowed`: the job's GPU types, null for any (older servers leave it out). */
  allocation: { gpuTypes: string[]; rows: Array<{ jobId: string; tenant: string; shares: number[]; allowed?: string[] | null }> };
}

export interface JobDetail {
  id: string;
  name: string | null;
  tenant: string;
  state: JobState;
  command: string[];
  cwd: string;
  env: Record<string, string>;
  scaleFactor: number;
  jobType: string | null;
  priorityWeight: number;
  gpuTypes: string[] | null;
  totalSteps: number | null;
  stepsDone: number;
  attempts: number;
  submittedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  failure: string | null;
  cancelRequested: boolean;
  /** Per GPU type of the live cluster: steps/s the scheduler uses, where it comes from, and its confidence. */
  throughputs?: Array<{ gpuType: string; value: number; source: 'table' | 'measured' | 'estimated' | 'default'; confidence: number; uncertainty: number }>;
}

export interface Timeline {
  jobId: string;
  state: JobState;
  submittedAt: string;
  finishedAt: string | null;
  throughputs: Record<string, number>;
  attempts: Array<{
    id: number;
    workerId: string;
    workerName: string;
    gpuType: string;
    devices: number[];
    round: number;
    state: 'leased' | 'running' | 'ended';
    endReason: string | null;
    startedAt: string | null;
    endedAt: string | null;
    leaseEnd: string | null;
    stepsAtStart: number;
  }>;
  rounds: Array<{ round: number; start: string; end: string; gpuType: string; workerId: string; leaseExtended: boolean }>;
}

export interface LogLine {
  id: number;
  at: number;
  attemptId: number | null;
  stream: 'stdout' | 'stderr' | 'system';
  text: string;
}

/** `GET /api/v1/cost` (src/runtime/server/cost.ts). */
export interface CostLine {
  readonly usd: number;
  readonly gpuSeconds: number;
  readonly spotGpuSeconds: number;
  readonly revocations: number;
  readonly lostGpuSeconds: number;
}

export interface CostData {
  readonly at: string;
  readonly prices: { readonly source: string; readonly prices: Record<string, number>; readonly readAt: number | null; readonly error: string | null } | null;
  readonly total: CostLine;
  readonly tenants: ReadonlyArray<CostLine & { readonly tenant: string; readonly jobs: number }>;
  readonly jobs: ReadonlyArray<CostLine & { readonly jobId: string; readonly tenant: string }>;
  readonly jobCount: number;
}
