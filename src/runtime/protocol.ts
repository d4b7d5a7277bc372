/**
 * Wire types of the worker protocol (`POST /api/v1/workers/{id}/sync`) and the job-facing endpoints. The worker
 * sends what it runs and what ended since the last acknowledged sync; the server answers with every lease the
 * worker should hold now. Everything is idempotent, so a lost request or response is repaired by the next sync.
 */

export interface SyncRunning {
  readonly attempt: number;
  readonly pid: number;
  /** Unix ms when the process started. */
  readonly startedAt: number;
}

export interface SyncEnded {
  readonly attempt: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The worker stopped the process itself (lease end or cancel), rather than the process exiting on its own. */
  readonly stoppedByWorker: boolean;
  /** The process could not be started (bad command, missing working directory). */
  readonly spawnError: string | null;
  readonly at: number;
  /**
   * Unix ms when the process started. Optional: a process that started and ended between two syncs was never
   * reported running; without this the server takes the lease's start (not before delivery) as its start.
   */
  readonly startedAt?: number;
}

export interface SyncProgress {
  readonly attempt: number;
  readonly steps?: number;
  readonly total?: number;
  readonly throughput?: number;
  readonly checkpoint?: string;
}

export interface SyncLogs {
  readonly attempt: number;
  readonly lines: ReadonlyArray<{ readonly stream: 'stdout' | 'stderr' | 'system'; readonly text: string; readonly at: number }>;
}

export interface SyncRequest {
  readonly running: readonly SyncRunning[];
  readonly ended: readonly SyncEnded[];
  readonly progress: readonly SyncProgress[];
  readonly logs: readonly SyncLogs[];
}

export interface LeaseMessage {
  readonly attempt: number;
  readonly jobId: string;
  readonly command: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly gpuType: string;
  /** The round that placed or last extended it (for the Kubernetes driver's Events and annotations). */
  readonly round?: number;
  /** Device indices on the worker (CUDA_VISIBLE_DEVICES). */
  readonly devices: readonly number[];
  /** Milliseconds from the server's reply until the process may start (0: now). Relative, so clock skew is harmless. */
  readonly startInMs: number;
  /** Milliseconds from the reply until the lease ends; the worker stops the process then unless extended. */
  readonly leaseEndInMs: number;
  /** Absolute lease end (Unix ms), for RONDO_LEASE_END. */
  readonly leaseEnd: number;
  readonly checkpointDir: string;
  /** The job's tenant: the worker runs the job as the Unix user `--run-as` maps it to (absent: `default`). */
  readonly tenant?: string;
  /** Present only while the worker has not reported the attempt as running: a token for the job's own reports. */
  readonly token?: string;
  /** The job was cancelled: stop the process now. */
  readonly stop: boolean;
}

export interface SyncResponse {
  readonly leases: readonly LeaseMessage[];
  /** Attempts whose end the server has recorded: the worker may forget them. */
  readonly acked: readonly number[];
  readonly heartbeatMs: number;
  readonly graceMs: number;
}

/**
 * A batched heartbeat (`POST /api/v1/workers/sync`, admin token): a driver that plays many workers (the Kubernetes
 * driver: one per node) syncs them all in one request and one store transaction. A worker with nothing to report is
 * listed by id alone (it stays alive); the answer lists only workers that hold leases or have acked ends, and sends
 * a lease in full only when it is new or changed.
 */
export interface BatchSyncEntry extends Partial<SyncRequest> {
  readonly id: string;
  /** Its machine left (a NotReady or deleted node): after these reports it is gone, its open attempts lost. */
  readonly leaving?: boolean;
  /** Leases the driver holds, as [attempt, leaseEnd]: the server sends them again only when they changed. */
  readonly known?: ReadonlyArray<readonly [number, number]>;
  /** Held leases it needs a (new) lease token for; otherwise a token comes only with a lease's first delivery. */
  readonly needTokens?: readonly number[];
}

export interface BatchSyncRequest {
  readonly workers: readonly BatchSyncEntry[];
}

export interface BatchSyncResponse {
  /** Per worker: new or changed leases in full, and every lease it should hold (`held`, ids): the rest are withdrawn. */
  readonly workers: ReadonlyArray<{ readonly id: string; readonly leases: readonly LeaseMessage[]; readonly acked: readonly number[]; readonly held: readonly number[] }>;
  /** Ids the server does not know (removed, or a store that was reset): register them again. */
  readonly unknown: readonly string[];
  readonly heartbeatMs: number;
  readonly graceMs: number;
}

/** Documented stdout line a job may print instead of using a client: `RONDO_PROGRESS steps=12 total=100 ...`. */
export const PROGRESS_PREFIX = 'RONDO_PROGRESS';

/**
 * Parses a `RONDO_PROGRESS key=value ...` line (keys: steps, total, throughput, checkpoint). Returns undefined for
 * any other line, or when no known key has a valid value.
 */
export function parseProgressLine(line: string): Omit<SyncProgress, 'attempt'> | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith(PROGRESS_PREFIX + ' ')) return undefined;
  const out: { steps?: number; total?: number; throughput?: number; checkpoint?: string } = {};
  for (const part of trimmed.slice(PROGRESS_PREFIX.length + 1).split(/\s+/)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    if (k === 'checkpoint') {
      if (v.length > 0 && v.length <= 4096) out.checkpoint = v;
      continue;
    }
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > 1e15) continue;
    if (k === 'steps') out.steps = n;
    else if (k === 'total' && n > 0) out.total = n;
    else if (k === 'throughput') out.throughput = n;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** GPUs a worker offers: `count` devices of one type (what `--gpus v100:4` says). */
export interface WorkerGpus {
  readonly type: string;
  readonly count: number;
}
