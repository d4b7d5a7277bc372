/**
 * For training scripts written in TypeScript/JavaScript and run by a rondo worker: report progress, learn about the
 * lease, and turn SIGTERM into a flag. Mirrors examples/rondo_client.py. Outside rondo every call is a no-op.
 *
 *   import { report, onPreempt, checkpointDir } from 'rondo/dist/runtime/client/job-client.js';
 *   const stop = onPreempt();
 *   for (let step = start; step < total && !stop.requested; step++) { ...; await report({ steps: step + 1, total }); }
 */
import { PROGRESS_PREFIX } from '../protocol.js';

export interface ProgressReport {
  readonly steps?: number;
  readonly total?: number;
  readonly throughput?: number;
  readonly checkpoint?: string;
}

export function jobId(): string | undefined {
  return process.env.RONDO_JOB_ID;
}

export function checkpointDir(): string {
  return process.env.RONDO_CHECKPOINT_DIR ?? `${process.cwd()}/rondo-checkpoint`;
}

/** Unix ms when the worker stops the process unless the lease is extended; undefined outside rondo. */
export function leaseEnd(): number | undefined {
  const v = process.env.RONDO_LEASE_END;
  return v ? Number(v) * 1000 : undefined;
}

/** The documented stdout line for a report (what `report` prints when the server cannot be reached). */
export function progressLine(p: ProgressReport): string {
  const parts = Object.entries(p)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`);
  return `${PROGRESS_PREFIX} ${parts.join(' ')}`;
}

/**
 * Sends a progress report with the job's lease token. Falls back to printing the stdout line (which the worker
 * forwards). Resolves to `{ stop: true }` when the job was cancelled.
 */
export async function report(p: ProgressReport): Promise<{ stop: boolean } | undefined> {
  const server = process.env.RONDO_SERVER;
  const token = process.env.RONDO_LEASE_TOKEN;
  if (server && token) {
    try {
      const res = await fetch(`${server.replace(/\/+$/, '')}/api/v1/progress`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(p),
        signal: AbortSignal.timeout(5000),
      });
      if (res.ok) return (await res.json()) as { stop: boolean };
    } catch {
      // fall through to stdout
    }
  }
  if (Object.values(p).some((v) => v !== undefined)) process.stdout.write(progressLine(p) + '\n');
  return undefined;
}

/** Installs a SIGTERM handler; check `requested` between steps, then checkpoint and exit. */
export function onPreempt(): { readonly requested: boolean } {
  const flag = { requested: false };
  process.on('SIGTERM', () => {
    flag.requested = true;
  });
  return flag;
}
