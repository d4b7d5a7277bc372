import { jobFromRow, num, type JobRow, type JobSpec, type JobState, type LogLine, type Row } from './rows.js';
import type { Sql } from './sql.js';

/** Jobs: submission, the scheduler's reads of the live set, measured throughputs and captured logs. */

export function submitJob(c: Sql, spec: JobSpec): JobRow {
  return c.tx(() => {
    const seqRow = c.q("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'").get() as Row | undefined;
    const seq = (seqRow ? Number(seqRow.seq) : 0) + 1;
    const id = `job-${seq}`;
    c.q(
      `INSERT INTO jobs(seq, id, name, tenant, command, cwd, env, scale_factor, job_type, priority_weight, slo_factor, deadline_s,
         total_steps, gpu_types, state, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?)`,
    )
    .run(
      seq,
      id,
      spec.name,
      spec.tenant,
      JSON.stringify(spec.command),
      spec.cwd,
      JSON.stringify(spec.env),
      spec.scaleFactor,
      spec.jobType,
      spec.priorityWeight,
      spec.sloFactor,
      spec.deadlineS,
      spec.totalSteps,
      spec.gpuTypes === null ? null : JSON.stringify(spec.gpuTypes),
      c.now(),
    );
    c.event('job.submitted', { jobId: id, detail: { tenant: spec.tenant, scaleFactor: spec.scaleFactor } });
    return getJob(c, id)!;
  });
}

export function getJob(c: Sql, id: string): JobRow | undefined {
  const r = c.q('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
  return r ? jobFromRow(r) : undefined;
}

/** Whether a job's cancel was asked for (one column: a heartbeat asks it of every held lease). */
export function cancelRequested(c: Sql, id: string): boolean {
  return Number(c.q('SELECT cancel_requested FROM jobs WHERE id = ?').pluck().get(id) ?? 0) === 1;
}

export function listJobs(c: Sql, opts: { tenant?: string; states?: readonly JobState[]; limit?: number; afterSeq?: number } = {}): JobRow[] {
  const where: string[] = ['seq > ?'];
  const args: unknown[] = [opts.afterSeq ?? 0];
  if (opts.tenant !== undefined) {
    where.push('tenant = ?');
    args.push(opts.tenant);
  }
  if (opts.states && opts.states.length > 0) {
    where.push(`state IN (${opts.states.map(() => '?').join(',')})`);
    args.push(...opts.states);
  }
  args.push(Math.min(opts.limit ?? 1000, 10_000));
  return (c.q(`SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`).all(...args) as Row[]).map(jobFromRow);
}

/** Jobs the scheduler should consider: not terminal and not being cancelled, in arrival order. */
export function activeJobs(c: Sql): JobRow[] {
  return (c.q("SELECT * FROM jobs WHERE state IN ('queued','running') ORDER BY seq").all() as Row[]).map(jobFromRow);
}

/** Jobs to schedule submitted after `seq` (queued or running, not being cancelled), in arrival order. */
export function schedulableJobsAfter(c: Sql, seq: number): JobRow[] {
  return (c.q("SELECT * FROM jobs WHERE seq > ? AND state IN ('queued','running') AND cancel_requested = 0 ORDER BY seq").all(seq) as Row[]).map(jobFromRow);
}

/** Ids of the jobs to schedule now (queued or running, not being cancelled), up to `maxSeq` in arrival order. */
export function schedulableJobIds(c: Sql, maxSeq = Number.MAX_SAFE_INTEGER): Set<string> {
  const ids = c.q("SELECT id FROM jobs INDEXED BY jobs_schedulable WHERE seq <= ? AND state IN ('queued','running') AND cancel_requested = 0").pluck().all(maxSeq) as string[];
  return new Set(ids);
}

/** How many jobs up to `maxSeq` are schedulable now (queued or running, not being cancelled). */
export function countSchedulable(c: Sql, maxSeq: number): number {
  return c.q("SELECT COUNT(*) FROM jobs INDEXED BY jobs_schedulable WHERE seq <= ? AND state IN ('queued','running') AND cancel_requested = 0").pluck().get(maxSeq) as number;
}

/** What the scheduler's round report needs of a job (no JSON columns parsed: it reads hundreds each round). */
export function jobProgress(c: Sql, id: string): Pick<JobRow, 'state' | 'stepsDone' | 'totalSteps' | 'reportedTotal' | 'finishedAt'> | undefined {
  const r = c.q('SELECT state, steps_done, total_steps, reported_total, finished_at FROM jobs WHERE id = ?').get(id) as Row | undefined;
  if (!r) return undefined;
  return { state: r.state as JobState, stepsDone: Number(r.steps_done), totalSteps: num(r.total_steps), reportedTotal: num(r.reported_total), finishedAt: num(r.finished_at) };
}

/** Is this job waiting or running (and not being cancelled)? */
export function isSchedulable(c: Sql, id: string): boolean {
  return c.q("SELECT 1 FROM jobs WHERE id = ? AND state IN ('queued','running') AND cancel_requested = 0").get(id) !== undefined;
}

/** Cheap check for the scheduler loop: is any job waiting or running (and not being cancelled)? */
export function hasActiveJobs(c: Sql): boolean {
  return c.q("SELECT 1 FROM jobs WHERE state IN ('queued','running') AND cancel_requested = 0 LIMIT 1").get() !== undefined;
}

export function countJobs(c: Sql): Record<JobState, number> {
  const out: Record<JobState, number> = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
  for (const r of c.q('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as Row[]) {
    out[r.state as JobState] = Number(r.n);
  }
  return out;
}

/** Measured steps/s per GPU type of every job that is not finished (one query for a whole round). */
export function activeThroughputs(c: Sql): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  const rows = c.q(
    "SELECT t.job_id, t.gpu_type, t.steps_per_s FROM throughputs t JOIN jobs j ON j.id = t.job_id WHERE j.state IN ('queued','running')",
  ).all() as Row[];
  for (const r of rows) {
    const id = String(r.job_id);
    let m = out.get(id);
    if (!m) out.set(id, (m = {}));
    m[String(r.gpu_type)] = Number(r.steps_per_s);
  }
  return out;
}

export function throughputsOf(c: Sql, jobId: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of c.q('SELECT gpu_type, steps_per_s FROM throughputs WHERE job_id = ?').all(jobId) as Row[]) {
    out[String(r.gpu_type)] = Number(r.steps_per_s);
  }
  return out;
}

export function appendLogs(c: Sql, jobId: string, attemptId: number | null, lines: ReadonlyArray<{ stream: LogLine['stream']; text: string; at?: number }>): void {
  if (lines.length === 0) return;
  c.tx(() => {
    const ins = c.q('INSERT INTO job_logs(job_id, attempt_id, at, stream, text) VALUES (?, ?, ?, ?, ?)');
    let bytes = 0;
    for (const l of lines) {
      ins.run(jobId, attemptId, l.at ?? c.now(), l.stream, l.text);
      bytes += Buffer.byteLength(l.text);
    }
    c.q('UPDATE jobs SET log_bytes = log_bytes + ? WHERE id = ?').run(bytes, jobId);
    let total = Number((c.q('SELECT log_bytes FROM jobs WHERE id = ?').get(jobId) as Row).log_bytes);
    if (total > c.maxLogBytes) {
      // Drop the oldest lines until the job is back under its cap.
      const old = c.q('SELECT id, text FROM job_logs WHERE job_id = ? ORDER BY id').iterate(jobId) as Iterable<Row>;
      let cut = 0;
      for (const r of old) {
        if (total <= c.maxLogBytes) break;
        total -= Buffer.byteLength(String(r.text));
        cut = Number(r.id);
      }
      c.q('DELETE FROM job_logs WHERE job_id = ? AND id <= ?').run(jobId, cut);
      c.q('UPDATE jobs SET log_bytes = ? WHERE id = ?').run(total, jobId);
    }
  });
}

export function logs(c: Sql, jobId: string, opts: { afterId?: number; limit?: number } = {}): LogLine[] {
  return (
    c.q('SELECT * FROM job_logs WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?')
      .all(jobId, opts.afterId ?? 0, Math.min(opts.limit ?? 1000, 10_000)) as Row[]
  ).map((r) => ({
    id: Number(r.id),
    at: Number(r.at),
    attemptId: num(r.attempt_id),
    stream: r.stream as LogLine['stream'],
    text: String(r.text),
  }));
}

