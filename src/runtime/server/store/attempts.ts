import { RondoError } from '../../../model/errors.js';
import { createToken } from './identity.js';
import { getJob } from './jobs.js';
import { MEASURED_THROUGHPUT, TERMINAL_STATES, attemptFromRow, type AttemptRow, type EndReason, type JobRow, type JobState, type Row } from './rows.js';
import type { Sql } from './sql.js';

/**
 * Attempts and leases: an attempt is one lease of a job on a worker's GPUs, from the round that planned it to the
 * end of its process. Ending an attempt moves its job on (completed, failed, cancelled, or back to queued).
 */

export function getAttempt(c: Sql, id: number): AttemptRow | undefined {
  const r = c.q('SELECT * FROM attempts WHERE id = ?').get(id) as Row | undefined;
  return r ? attemptFromRow(r) : undefined;
}

export function openAttempts(c: Sql): AttemptRow[] {
  // Read by every plan, reap, and poll of /metrics and /api/v1/cluster (hundreds of rows with JSON columns): kept
  // until the attempts table is next written.
  // SQLite would rather scan the table in id order than sort the few open attempts; the table holds every
  // attempt ever made, so the partial index is named.
  return c.cachedRows('open attempts', 'attempts', () => (c.q("SELECT * FROM attempts INDEXED BY attempts_open WHERE state != 'ended' ORDER BY id").all() as Row[]).map(attemptFromRow));
}

export function openAttemptsOfJob(c: Sql, jobId: string): AttemptRow[] {
  return (c.q("SELECT * FROM attempts WHERE job_id = ? AND state != 'ended' ORDER BY id").all(jobId) as Row[]).map(attemptFromRow);
}

export function openAttemptsOfWorker(c: Sql, workerId: string): AttemptRow[] {
  return (c.q("SELECT * FROM attempts INDEXED BY attempts_open_worker WHERE worker_id = ? AND state != 'ended' ORDER BY id").all(workerId) as Row[]).map(
    attemptFromRow,
  );
}

export function attemptsOfJob(c: Sql, jobId: string): AttemptRow[] {
  return (c.q('SELECT * FROM attempts WHERE job_id = ? ORDER BY id').all(jobId) as Row[]).map(attemptFromRow);
}

/**
 * Seconds each job has held each GPU type over its ended and running attempts (the mechanism's history), for the
 * queued and running jobs or for the jobs named.
 */
export function timeReceived(c: Sql, now: number, jobs: 'active' | readonly string[]): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  // Only the attempts of the jobs asked for (through `attempts_job`): a query over every attempt ever made would
  // grow with the server's history, and the scheduler asks once per round.
  const rows = (
    jobs === 'active'
      ? c.q(
          `SELECT a.job_id, a.gpu_type, SUM(COALESCE(a.ended_at, ?) - a.started_at) AS ms
           FROM jobs j INDEXED BY jobs_state JOIN attempts a INDEXED BY attempts_job ON a.job_id = j.id
           WHERE j.state IN ('queued','running') AND j.attempts > 0 AND a.started_at IS NOT NULL
           GROUP BY a.job_id, a.gpu_type`,
        ).all(now)
      : c.q(
          `SELECT job_id, gpu_type, SUM(COALESCE(ended_at, ?) - started_at) AS ms FROM attempts INDEXED BY attempts_job
           WHERE job_id IN (SELECT value FROM json_each(?)) AND started_at IS NOT NULL GROUP BY job_id, gpu_type`,
        ).all(now, JSON.stringify(jobs))
  ) as Row[];
  for (const r of rows) {
    const m = out.get(String(r.job_id)) ?? {};
    m[String(r.gpu_type)] = Math.max(0, Number(r.ms)) / 1000;
    out.set(String(r.job_id), m);
  }
  return out;
}

/** Creates a lease (attempt); the caller commits it inside the round's transaction. */
export function createAttempt(c: Sql, a: { jobId: string; workerId: string; round: number; gpuType: string; gpus: readonly number[]; notBefore: number; leaseEnd: number }): AttemptRow {
  const info = c.q(
    `INSERT INTO attempts(job_id, worker_id, round, gpu_type, gpus, created_at, not_before, lease_end, state, steps_at_start)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'leased', (SELECT steps_done FROM jobs WHERE id = ?))`,
  )
  .run(a.jobId, a.workerId, a.round, a.gpuType, JSON.stringify(a.gpus), c.now(), a.notBefore, a.leaseEnd, a.jobId);
  const id = Number(info.lastInsertRowid);
  c.q('UPDATE jobs SET attempts = attempts + 1 WHERE id = ?').run(a.jobId);
  c.event('attempt.leased', { jobId: a.jobId, workerId: a.workerId, detail: { attempt: id, round: a.round, gpuType: a.gpuType, gpus: a.gpus } });
  return getAttempt(c, id)!;
}

/**
 * Mints a token for the process of an attempt, handed to the worker with the lease. Only its hash is kept; a
 * lease delivered twice (a lost response) gets a second token, and all of an attempt's tokens stop working when
 * it ends.
 */
export function mintLeaseToken(c: Sql, attemptId: number): string {
  return c.tx(() => {
    // Only the first delivery is recorded (a row left as it was keeps the cached open attempts valid: `Sql.version`).
    c.q('UPDATE attempts SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL').run(c.now(), attemptId);
    return createToken(c, 'lease', { attemptId }).token;
  });
}

export function extendLease(c: Sql, attemptId: number, leaseEnd: number, round: number): void {
  c.q("UPDATE attempts SET lease_end = ?, round = ? WHERE id = ? AND state != 'ended'").run(leaseEnd, round, attemptId);
}

/** The worker started the process. */
export function markAttemptRunning(c: Sql, attemptId: number, at: number): AttemptRow | undefined {
  return c.tx(() => {
    const a = getAttempt(c, attemptId);
    if (!a || a.state !== 'leased') return a;
    c.q("UPDATE attempts SET state = 'running', started_at = ? WHERE id = ?").run(at, attemptId);
    c.q("UPDATE jobs SET state = 'running', started_at = COALESCE(started_at, ?) WHERE id = ? AND state = 'queued'").run(at, a.jobId);
    c.event('attempt.started', { jobId: a.jobId, workerId: a.workerId, detail: { attempt: attemptId } });
    return getAttempt(c, attemptId);
  });
}

/**
 * Closes an attempt and moves its job on: completed, failed, cancelled, or back to queued (preempted, lost).
 * Idempotent: a second report of the same end changes nothing, so a worker may resend until acknowledged.
 */
export function endAttempt(c: Sql, attemptId: number, reason: EndReason, fields: { exitCode?: number | null; at?: number; message?: string } = {}): JobRow | undefined {
  return c.tx(() => {
    const a = getAttempt(c, attemptId);
    if (!a) return undefined;
    if (a.state === 'ended') return getJob(c, a.jobId);
    const at = fields.at ?? c.now();
    c.q("UPDATE attempts SET state = 'ended', ended_at = ?, end_reason = ?, exit_code = ?, started_at = COALESCE(started_at, CASE WHEN ? THEN ? END) WHERE id = ?")
      .run(at, reason, fields.exitCode ?? null, a.state === 'running' ? 1 : 0, at, attemptId);
    const job = getJob(c, a.jobId)!;
    const others = openAttemptsOfJob(c, a.jobId);
    const waiting: JobState = others.some((o) => o.state === 'running') ? 'running' : 'queued';
    let next: JobState;
    if (reason === 'completed') next = 'completed';
    else if (reason === 'failed' || reason === 'spawn_failed') next = 'failed';
    // A cancelled job ends when its last attempt does.
    // A quarantined job (cancel requested with a failure recorded) fails when its last attempt ends.
    else if (job.cancelRequested || reason === 'cancelled') next = others.length > 0 ? waiting : job.cancelRequested && job.failure !== null ? 'failed' : 'cancelled';
    else next = waiting;
    if (TERMINAL_STATES.includes(job.state)) next = job.state;
    const terminal = TERMINAL_STATES.includes(next);
    c.q('UPDATE jobs SET state = ?, exit_code = COALESCE(?, exit_code), failure = COALESCE(?, failure), finished_at = CASE WHEN ? THEN ? ELSE finished_at END WHERE id = ?')
      .run(next, fields.exitCode ?? null, reason === 'failed' || reason === 'spawn_failed' ? (fields.message ?? `exit code ${fields.exitCode}`) : null, terminal ? 1 : 0, at, a.jobId);
    c.event(`attempt.${reason}`, { jobId: a.jobId, workerId: a.workerId, detail: { attempt: attemptId, exitCode: fields.exitCode ?? null, message: fields.message } });
    if (terminal && job.state !== next) c.event(`job.${next}`, { jobId: a.jobId });
    if (terminal) {
      // Leases of a finished job that were never delivered go with it (a delivered one ends through its worker).
      for (const o of others) if (o.state === 'leased' && o.deliveredAt === null) endAttempt(c, o.id, 'preempted', { at, message: 'job ended' });
    }
    return getJob(c, a.jobId);
  });
}

/**
 * Marks a job cancelled. A queued job ends at once; a running one is flagged, its worker stops the process and the
 * job becomes `cancelled` when the attempt ends. Returns the job after the change.
 */
export function cancelJob(c: Sql, id: string, by: string): JobRow {
  return c.tx(() => {
    const job = getJob(c, id);
    if (!job) throw new RondoError({ code: 'E_INVALID', problem: `no job ${id}` });
    if (TERMINAL_STATES.includes(job.state)) return job;
    // Leases never handed to a worker cannot be running: withdraw them now. Delivered ones are stopped by the worker.
    for (const a of openAttemptsOfJob(c, id)) {
      if (a.state === 'leased' && a.deliveredAt === null) endAttempt(c, a.id, 'cancelled', { message: 'cancelled before it started' });
    }
    const open = openAttemptsOfJob(c, id);
    if (open.length === 0) {
      c.q("UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished_at = ? WHERE id = ?").run(c.now(), id);
    } else {
      c.q('UPDATE jobs SET cancel_requested = 1 WHERE id = ?').run(id);
    }
    c.event('job.cancel', { jobId: id, detail: { by } });
    return getJob(c, id)!;
  });
}

/** Records a progress report of the attempt that holds the job now. */
export function recordProgress(c: Sql, 
  attemptId: number,
  p: { steps?: number; total?: number; throughput?: number; checkpoint?: string },
): JobRow | undefined {
  return c.tx(() => {
    const a = getAttempt(c, attemptId);
    if (!a || a.state === 'ended') return undefined;
    const sets: string[] = [];
    const args: unknown[] = [];
    if (p.steps !== undefined) {
      sets.push('steps_done = ?');
      args.push(p.steps);
    }
    if (p.total !== undefined) {
      sets.push('reported_total = ?');
      args.push(p.total);
    }
    if (p.checkpoint !== undefined) {
      sets.push('checkpoint = ?');
      args.push(p.checkpoint);
    }
    if (sets.length > 0) c.q(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...args, a.jobId);
    if (p.throughput !== undefined && p.throughput >= MEASURED_THROUGHPUT.minimum && p.throughput <= MEASURED_THROUGHPUT.maximum) {
      // Exponential average: one noisy report (a step right after a restart) should not swing the policy.
      c.q(
        `INSERT INTO throughputs(job_id, gpu_type, steps_per_s, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(job_id, gpu_type) DO UPDATE SET steps_per_s = 0.7 * steps_per_s + 0.3 * excluded.steps_per_s,
         updated_at = excluded.updated_at`,
      )
      .run(a.jobId, a.gpuType, p.throughput, c.now());
    }
    return getJob(c, a.jobId);
  });
}


/**
 * Takes a job out of scheduling because the policy fails with it: it is failed with `reason` at once when no
 * process of it may run, otherwise stopped like a cancel and failed when its last attempt ends. A pending
 * failure on a job that is not terminal means exactly this (other failures end the job at once).
 */
export function quarantineJob(c: Sql, id: string, reason: string): JobRow | undefined {
  return c.tx(() => {
    const job = getJob(c, id);
    if (!job || TERMINAL_STATES.includes(job.state)) return job;
    c.q('UPDATE jobs SET cancel_requested = 1, failure = ? WHERE id = ?').run(reason, id);
    c.event('job.quarantined', { jobId: id, detail: { reason } });
    for (const a of openAttemptsOfJob(c, id)) {
      if (a.state === 'leased' && a.deliveredAt === null) endAttempt(c, a.id, 'cancelled', { message: 'quarantined before it started' });
    }
    if (openAttemptsOfJob(c, id).length === 0 && getJob(c, id)!.state !== 'failed') {
      c.q("UPDATE jobs SET state = 'failed', finished_at = ? WHERE id = ?").run(c.now(), id);
      c.event('job.failed', { jobId: id });
    }
    return getJob(c, id);
  });
}
