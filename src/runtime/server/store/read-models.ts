import { json, type EventRow, type JobState, type Row } from './rows.js';
import type { Sql } from './sql.js';

/** Read models: the event journal, the dashboard's joined views, and the consistency checks of `/healthz`. */

export function events(c: Sql, opts: { jobId?: string; afterId?: number; limit?: number } = {}): EventRow[] {
  const limit = Math.min(opts.limit ?? 200, 1000);
  const rows = (opts.jobId
    ? c.q('SELECT * FROM events WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?').all(opts.jobId, opts.afterId ?? 0, limit)
    : c.q('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?').all(opts.afterId ?? 0, limit)) as Row[];
  return rows.map((r) => ({
    id: Number(r.id),
    at: Number(r.at),
    kind: String(r.kind),
    jobId: (r.job_id as string | null) ?? null,
    workerId: (r.worker_id as string | null) ?? null,
    detail: r.detail === null ? null : json(r.detail),
  }));
}

/** Consistency checks used by tests and `/healthz`: every invariant the runtime relies on. */
export function checkInvariants(c: Sql): string[] {
  const problems: string[] = [];
  const q = (sql: string): Row[] => c.q(sql).all() as Row[];
  for (const r of q("SELECT job_id, COUNT(*) AS n FROM attempts WHERE state = 'running' GROUP BY job_id HAVING n > 1")) {
    problems.push(`job ${String(r.job_id)} has ${Number(r.n)} running attempts`);
  }
  for (const r of q("SELECT j.id FROM jobs j JOIN attempts a ON a.job_id = j.id WHERE a.state != 'ended' AND j.state IN ('completed','failed','cancelled')")) {
    problems.push(`terminal job ${String(r.id)} has an open attempt`);
  }
  for (const r of q("SELECT id FROM jobs WHERE state IN ('completed','failed','cancelled') AND finished_at IS NULL")) {
    problems.push(`terminal job ${String(r.id)} has no finish time`);
  }
  const fk = q('PRAGMA foreign_key_check');
  if (fk.length > 0) problems.push(`${fk.length} foreign-key violations`);
  const ic = q('PRAGMA quick_check');
  if (ic.length !== 1 || ic[0]!.quick_check !== 'ok') problems.push('sqlite quick_check failed');
  return problems;
}


/** What the dashboard's change stream compares: it moves when any event is written or a running job progresses. */
export function changeMarks(c: Sql): { lastEventId: number; running: number; runningSteps: number } {
  const ev = c.q('SELECT MAX(id) AS id FROM events').get() as Row;
  const prog = c.q("SELECT COUNT(*) AS n, TOTAL(steps_done) AS s FROM jobs WHERE state = 'running'").get() as Row;
  return { lastEventId: Number(ev.id ?? 0), running: Number(prog.n), runningSteps: Number(prog.s) };
}

/** Ids of the jobs that wait or run (including those being cancelled). */
export function activeJobIds(c: Sql): string[] {
  return c.q("SELECT id FROM jobs WHERE state IN ('queued','running')").pluck().all() as string[];
}

/** Preemptions of the jobs named (through their attempts, not a pass over every attempt ever made). */
export function preemptionCounts(c: Sql, ids: readonly string[]): Map<string, number> {
  const rows = c
    .q(
      `SELECT job_id, COUNT(*) AS n FROM attempts INDEXED BY attempts_job WHERE job_id IN (SELECT value FROM json_each(?))
       AND end_reason IN ('preempted','lost') AND started_at IS NOT NULL GROUP BY job_id`,
    )
    .all(JSON.stringify(ids)) as Row[];
  return new Map(rows.map((r) => [String(r.job_id), Number(r.n)]));
}

/** A job as the queue view lists it: no command or environment (their JSON is most of a row's cost). */
export interface QueueJob {
  readonly seq: number;
  readonly id: string;
  readonly name: string | null;
  readonly tenant: string;
  readonly state: JobState;
  readonly scale_factor: number;
  readonly gpu_types: string | null;
  readonly steps_done: number;
  readonly total_steps: number | null;
  readonly reported_total: number | null;
  readonly attempts: number;
  readonly submitted_at: number;
  readonly started_at: number | null;
  readonly finished_at: number | null;
  readonly failure: string | null;
  readonly cancel_requested: number;
}

const QUEUE_COLUMNS =
  'seq, id, name, tenant, state, scale_factor, gpu_types, steps_done, total_steps, reported_total, attempts, submitted_at, started_at, finished_at, failure, cancel_requested';

/** Every job of one tenant, or of all tenants, with the queue view's columns. */
export function queueJobs(c: Sql, tenant: string | undefined): QueueJob[] {
  return (tenant !== undefined ? c.q(`SELECT ${QUEUE_COLUMNS} FROM jobs WHERE tenant = ?`).all(tenant) : c.q(`SELECT ${QUEUE_COLUMNS} FROM jobs`).all()) as QueueJob[];
}

/** The GPU types each active job may use, for the jobs that name some (the others may use any). */
export function activeGpuTypes(c: Sql): Map<string, string[]> {
  const rows = c.q("SELECT id, gpu_types FROM jobs WHERE state IN ('queued','running') AND gpu_types IS NOT NULL").all() as Array<{ id: string; gpu_types: string }>;
  return new Map(rows.map((r) => [r.id, JSON.parse(r.gpu_types) as string[]]));
}

/** Every tenant that ever submitted a job, sorted. */
export function tenantNames(c: Sql): string[] {
  return c.q('SELECT DISTINCT tenant FROM jobs ORDER BY tenant').pluck().all() as string[];
}

/**
 * The rounds whose plans are kept (the last --keep-plans, rounds.ts) that placed this job, from `since` on, straight
 * from the plans' JSON; older rounds' plans are pruned (`prunedRoundsSince` says how many).
 */
export function roundsOfJob(
  c: Sql,
  jobId: string,
  since: number,
): Array<{ round: number; start: number; duration: number; gpuType: string; workerId: string; leaseExtended: boolean }> {
  const rows = c
    .q(
      `SELECT r.round, r.start, r.duration, json_extract(a.value, '$.gpuType') AS gpu_type, json_extract(a.value, '$.workerId') AS worker_id,
              json_extract(a.value, '$.leaseExtended') AS extended
       FROM rounds r INDEXED BY rounds_kept, json_each(r.plan, '$.assignments') a
       WHERE r.plan_pruned = 0 AND json_extract(a.value, '$.jobId') = ? AND r.start >= ? ORDER BY r.round`,
    )
    .all(jobId, since) as Row[];
  return rows.map((r) => ({
    round: Number(r.round),
    start: Number(r.start),
    duration: Number(r.duration),
    gpuType: String(r.gpu_type),
    workerId: String(r.worker_id),
    leaseExtended: Number(r.extended) === 1,
  }));
}

/** Attempts that held GPUs at some time in [from, to): the cluster's use over time. */
export function attemptsInWindow(c: Sql, from: number, to: number): Array<{ gpuType: string; devices: number; startedAt: number; endedAt: number | null }> {
  const rows = c
    .q('SELECT gpu_type, gpus, started_at, ended_at FROM attempts WHERE started_at IS NOT NULL AND (ended_at IS NULL OR ended_at > ?) AND started_at < ?')
    .all(from, to) as Row[];
  return rows.map((r) => ({
    gpuType: String(r.gpu_type),
    devices: json<number[]>(r.gpus).length,
    startedAt: Number(r.started_at),
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
  }));
}

/** Every attempt that ran, with its job's tenant: what the cost view (../cost.ts) bills. */
export function billedAttempts(c: Sql, jobId?: string): Array<{ jobId: string; tenant: string; gpuType: string; devices: number; startedAt: number; endedAt: number | null; endReason: string | null }> {
  const rows = c
    .q(`SELECT a.job_id, j.tenant, a.gpu_type, a.gpus, a.started_at, a.ended_at, a.end_reason FROM attempts a JOIN jobs j ON j.id = a.job_id
        WHERE a.started_at IS NOT NULL${jobId !== undefined ? ' AND a.job_id = ?' : ''} ORDER BY a.id`)
    .all(...(jobId !== undefined ? [jobId] : [])) as Row[];
  return rows.map((r) => ({
    jobId: String(r.job_id),
    tenant: String(r.tenant),
    gpuType: String(r.gpu_type),
    devices: json<number[]>(r.gpus).length,
    startedAt: Number(r.started_at),
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
    endReason: r.end_reason === null ? null : String(r.end_reason),
  }));
}
