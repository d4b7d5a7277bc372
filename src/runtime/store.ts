import Database from 'better-sqlite3';
import { RondoError } from '../model/errors.js';
import { hashToken, newToken, tokenMatches, type Principal, type TokenKind } from './auth.js';

/**
 * The runtime's durable state: one SQLite file through better-sqlite3 (synchronous, so a handler's writes are
 * committed before it answers). WAL journal with synchronous=FULL: each commit is fsynced, so an acknowledged
 * submit or state change survives a power cut as well as a `kill -9` (NORMAL would survive only the process crash).
 * Commits are few (submits, round plans, attempt starts and ends, progress) so the fsync cost is not on a hot path;
 * worker liveness is kept in memory and never written per heartbeat.
 */

export type JobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export const TERMINAL_STATES: readonly JobState[] = ['completed', 'failed', 'cancelled'];

export interface JobSpec {
  readonly command: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly scaleFactor: number;
  readonly jobType: string | null;
  readonly priorityWeight: number;
  readonly tenant: string;
  readonly sloFactor: number | null;
  readonly deadlineS: number | null;
  readonly totalSteps: number | null;
  readonly gpuTypes: readonly string[] | null;
  readonly name: string | null;
}

export interface JobRow extends JobSpec {
  readonly id: string;
  readonly seq: number;
  readonly state: JobState;
  readonly submittedAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly stepsDone: number;
  readonly reportedTotal: number | null;
  readonly checkpoint: string | null;
  readonly exitCode: number | null;
  readonly failure: string | null;
  readonly attempts: number;
  readonly cancelRequested: boolean;
}

export type AttemptState = 'leased' | 'running' | 'ended';
export type EndReason = 'completed' | 'failed' | 'preempted' | 'lost' | 'cancelled' | 'spawn_failed';

export interface AttemptRow {
  readonly id: number;
  readonly jobId: string;
  readonly workerId: string;
  readonly round: number;
  readonly gpuType: string;
  /** Indices of the worker's GPUs of `gpuType` (what becomes CUDA_VISIBLE_DEVICES). */
  readonly gpus: readonly number[];
  readonly createdAt: number;
  /** The job must not start before this (ms since the Unix epoch): the previous holder is gone by then. */
  readonly notBefore: number;
  /** The job must be gone by this time unless the lease is extended. */
  readonly leaseEnd: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly state: AttemptState;
  readonly endReason: EndReason | null;
  readonly exitCode: number | null;
  readonly stepsAtStart: number;
  /** When the lease was first sent to its worker (null: never; it cannot be running). */
  readonly deliveredAt: number | null;
}

export interface WorkerGpus {
  readonly type: string;
  readonly count: number;
}

export interface WorkerRow {
  readonly id: string;
  readonly name: string;
  readonly gpus: readonly WorkerGpus[];
  readonly registeredAt: number;
  readonly state: 'alive' | 'gone';
}

export interface RoundRow {
  readonly round: number;
  readonly start: number;
  readonly duration: number;
  readonly plannedAt: number;
  readonly policy: string;
  readonly solverMs: number;
  readonly allocation: unknown;
  readonly plan: unknown;
}

export interface EventRow {
  readonly id: number;
  readonly at: number;
  readonly kind: string;
  readonly jobId: string | null;
  readonly workerId: string | null;
  readonly detail: unknown;
}

export interface LogLine {
  readonly id: number;
  readonly at: number;
  readonly attemptId: number | null;
  readonly stream: 'stdout' | 'stderr' | 'system';
  readonly text: string;
}

/** Per-job log cap: older lines are dropped first, so a chatty job cannot fill the disk. */
export const DEFAULT_MAX_LOG_BYTES = 256 * 1024;

export const MIGRATIONS: readonly string[] = [
  // 1: initial schema.
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('admin','tenant','worker','lease')),
    hash TEXT NOT NULL UNIQUE,
    tenant TEXT,
    worker_id TEXT,
    attempt_id INTEGER,
    label TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT,
    tenant TEXT NOT NULL,
    command TEXT NOT NULL,
    cwd TEXT NOT NULL,
    env TEXT NOT NULL,
    scale_factor INTEGER NOT NULL CHECK (scale_factor >= 1),
    job_type TEXT,
    priority_weight REAL NOT NULL,
    slo_factor REAL,
    deadline_s REAL,
    total_steps REAL,
    gpu_types TEXT,
    state TEXT NOT NULL CHECK (state IN ('queued','running','completed','failed','cancelled')),
    submitted_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    steps_done REAL NOT NULL DEFAULT 0,
    reported_total REAL,
    checkpoint TEXT,
    exit_code INTEGER,
    failure TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    log_bytes INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX jobs_state ON jobs(state);
  CREATE INDEX jobs_tenant ON jobs(tenant);
  CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    gpus TEXT NOT NULL,
    token_id INTEGER,
    registered_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('alive','gone'))
  );
  CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs(id),
    worker_id TEXT NOT NULL REFERENCES workers(id),
    round INTEGER NOT NULL,
    gpu_type TEXT NOT NULL,
    gpus TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    not_before INTEGER NOT NULL,
    lease_end INTEGER NOT NULL,
    started_at INTEGER,
    ended_at INTEGER,
    state TEXT NOT NULL CHECK (state IN ('leased','running','ended')),
    end_reason TEXT,
    exit_code INTEGER,
    steps_at_start REAL NOT NULL DEFAULT 0
  );
  CREATE INDEX attempts_open ON attempts(state) WHERE state != 'ended';
  CREATE INDEX attempts_job ON attempts(job_id);
  CREATE TABLE throughputs (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    gpu_type TEXT NOT NULL,
    steps_per_s REAL NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, gpu_type)
  );
  CREATE TABLE rounds (
    round INTEGER PRIMARY KEY,
    start INTEGER NOT NULL,
    duration INTEGER NOT NULL,
    planned_at INTEGER NOT NULL,
    policy TEXT NOT NULL,
    solver_ms REAL NOT NULL,
    allocation TEXT NOT NULL,
    plan TEXT NOT NULL
  );
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    job_id TEXT,
    worker_id TEXT,
    detail TEXT
  );
  CREATE INDEX events_job ON events(job_id);
  CREATE TABLE job_logs (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs(id),
    attempt_id INTEGER,
    at INTEGER NOT NULL,
    stream TEXT NOT NULL,
    text TEXT NOT NULL
  );
  CREATE INDEX job_logs_job ON job_logs(job_id, id);
  `,
  // 2: when a lease was first handed to its worker. A delivered lease may already be running even if the worker has
  // not said so yet, so it is never withdrawn; an undelivered one can be.
  `
  ALTER TABLE attempts ADD COLUMN delivered_at INTEGER;
  `,
  // 3: the jobs the scheduler holds (queued or running, not being cancelled), so that the scheduler's check for jobs
  // that left reads a small index rather than 10,000 table rows each round.
  `
  CREATE INDEX jobs_schedulable ON jobs(seq, id) WHERE state IN ('queued','running') AND cancel_requested = 0;
  `,
  // 4: a worker's open attempts, read at every heartbeat; without it the read scanned every attempt ever made.
  `
  CREATE INDEX attempts_open_worker ON attempts(worker_id) WHERE state != 'ended';
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

type Row = Record<string, unknown>;

function json<T>(s: unknown): T {
  return JSON.parse(String(s)) as T;
}

function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function jobFromRow(r: Row): JobRow {
  return {
    id: String(r.id),
    seq: Number(r.seq),
    name: (r.name as string | null) ?? null,
    tenant: String(r.tenant),
    command: json<string[]>(r.command),
    cwd: String(r.cwd),
    env: json<Record<string, string>>(r.env),
    scaleFactor: Number(r.scale_factor),
    jobType: (r.job_type as string | null) ?? null,
    priorityWeight: Number(r.priority_weight),
    sloFactor: num(r.slo_factor),
    deadlineS: num(r.deadline_s),
    totalSteps: num(r.total_steps),
    gpuTypes: r.gpu_types === null ? null : json<string[]>(r.gpu_types),
    state: r.state as JobState,
    submittedAt: Number(r.submitted_at),
    startedAt: num(r.started_at),
    finishedAt: num(r.finished_at),
    stepsDone: Number(r.steps_done),
    reportedTotal: num(r.reported_total),
    checkpoint: (r.checkpoint as string | null) ?? null,
    exitCode: num(r.exit_code),
    failure: (r.failure as string | null) ?? null,
    attempts: Number(r.attempts),
    cancelRequested: Number(r.cancel_requested) === 1,
  };
}

function attemptFromRow(r: Row): AttemptRow {
  return {
    id: Number(r.id),
    jobId: String(r.job_id),
    workerId: String(r.worker_id),
    round: Number(r.round),
    gpuType: String(r.gpu_type),
    gpus: json<number[]>(r.gpus),
    createdAt: Number(r.created_at),
    notBefore: Number(r.not_before),
    leaseEnd: Number(r.lease_end),
    startedAt: num(r.started_at),
    endedAt: num(r.ended_at),
    state: r.state as AttemptState,
    endReason: (r.end_reason as EndReason | null) ?? null,
    exitCode: num(r.exit_code),
    stepsAtStart: Number(r.steps_at_start),
    deliveredAt: num(r.delivered_at),
  };
}

function workerFromRow(r: Row): WorkerRow {
  return {
    id: String(r.id),
    name: String(r.name),
    gpus: json<WorkerGpus[]>(r.gpus),
    registeredAt: Number(r.registered_at),
    state: r.state as 'alive' | 'gone',
  };
}

export interface StoreOptions {
  readonly maxLogBytes?: number;
  /** Injectable wall clock (ms since the Unix epoch) so tests of the store are deterministic. */
  readonly now?: () => number;
}

export class Store {
  readonly db: Database.Database;
  readonly path: string;
  private readonly maxLogBytes: number;
  private readonly now: () => number;
  private readonly stmts = new Map<string, Database.Statement>();
  private pending: Array<{ fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
  private lastRoundCache: { key: string; row: RoundRow } | undefined;

  constructor(path: string, opts: StoreOptions = {}) {
    this.path = path;
    this.maxLogBytes = opts.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES;
    this.now = opts.now ?? Date.now;
    try {
      this.db = new Database(path);
    } catch (e) {
      throw new RondoError({ code: 'E_IO', file: path, problem: `cannot open the store: ${(e as Error).message}` });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  close(): void {
    this.flush();
    this.db.close();
  }

  private migrate(): void {
    const version = Number(this.db.pragma('user_version', { simple: true }));
    if (version > SCHEMA_VERSION) {
      throw new RondoError({
        code: 'E_IO',
        file: this.path,
        problem: `store schema version ${version} is newer than this rondo understands (${SCHEMA_VERSION})`,
        hint: 'upgrade rondo or use another --db file',
      });
    }
    for (let v = version; v < SCHEMA_VERSION; v++) {
      // Each migration and its version bump commit together: a crash mid-migration leaves the old version.
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /** Prepared statements by SQL text: preparing costs more than running most of these queries. */
  private q(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * Group commit: runs `fn` in one transaction with every other write queued in the same turn of the event loop and
   * resolves once that transaction is committed, so many concurrent requests share one fsync (each one still answers
   * only after its change is durable). Each `fn` runs in its own savepoint: one that throws rolls back only its own
   * changes and rejects only its own promise. `fn` runs when the batch is flushed, not when it is queued.
   */
  commit<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const out: Array<{ ok: true; v: unknown } | { ok: false; e: unknown }> = [];
    try {
      this.db.transaction(() => {
        for (const b of batch) {
          try {
            out.push({ ok: true, v: this.db.transaction(b.fn)() });
          } catch (e) {
            out.push({ ok: false, e });
          }
        }
      })();
    } catch (e) {
      for (const b of batch) b.reject(e);
      return;
    }
    batch.forEach((b, i) => {
      const r = out[i]!;
      if (r.ok) b.resolve(r.v);
      else b.reject(r.e);
    });
  }

  // ---- meta ----

  getMeta(key: string): string | undefined {
    const r = this.q('SELECT value FROM meta WHERE key = ?').get(key) as Row | undefined;
    return r ? String(r.value) : undefined;
  }

  setMeta(key: string, value: string): void {
    this.q('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  // ---- tokens ----

  /** Creates a token and returns it in clear text: the only time it exists outside the caller. */
  createToken(kind: TokenKind, fields: { tenant?: string; workerId?: string; attemptId?: number; label?: string } = {}): { id: number; token: string } {
    const token = newToken(kind);
    const info = this.q('INSERT INTO tokens(kind, hash, tenant, worker_id, attempt_id, label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(kind, hashToken(token), fields.tenant ?? null, fields.workerId ?? null, fields.attemptId ?? null, fields.label ?? null, this.now());
    return { id: Number(info.lastInsertRowid), token };
  }

  hasAdminToken(): boolean {
    return this.q("SELECT 1 FROM tokens WHERE kind = 'admin' AND revoked_at IS NULL").get() !== undefined;
  }

  /** Resolves a presented token to a principal, or undefined when unknown or revoked. */
  authenticate(token: string): Principal | undefined {
    const r = this.q('SELECT * FROM tokens WHERE hash = ? AND revoked_at IS NULL').get(hashToken(token)) as Row | undefined;
    if (!r || !tokenMatches(token, String(r.hash))) return undefined;
    const id = Number(r.id);
    switch (r.kind) {
      case 'admin':
        return { kind: 'admin', tokenId: id };
      case 'tenant':
        return { kind: 'tenant', tokenId: id, tenant: String(r.tenant) };
      case 'worker':
        return { kind: 'worker', tokenId: id, workerId: (r.worker_id as string | null) ?? null };
      case 'lease': {
        const a = this.q('SELECT job_id, state FROM attempts WHERE id = ?').get(r.attempt_id) as Row | undefined;
        // A lease token dies with its attempt: a finished or preempted process cannot report into a later one.
        if (!a || a.state === 'ended') return undefined;
        return { kind: 'lease', tokenId: id, attemptId: Number(r.attempt_id), jobId: String(a.job_id) };
      }
      default:
        return undefined;
    }
  }

  revokeToken(id: number): boolean {
    return this.q('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(this.now(), id).changes === 1;
  }

  listTokens(): Array<{ id: number; kind: TokenKind; tenant: string | null; workerId: string | null; label: string | null; createdAt: number; revoked: boolean }> {
    return (this.q("SELECT * FROM tokens WHERE kind != 'lease' ORDER BY id").all() as Row[]).map((r) => ({
      id: Number(r.id),
      kind: r.kind as TokenKind,
      tenant: (r.tenant as string | null) ?? null,
      workerId: (r.worker_id as string | null) ?? null,
      label: (r.label as string | null) ?? null,
      createdAt: Number(r.created_at),
      revoked: r.revoked_at !== null,
    }));
  }

  bindWorkerToken(tokenId: number, workerId: string): void {
    this.q('UPDATE tokens SET worker_id = ? WHERE id = ?').run(workerId, tokenId);
  }

  // ---- events ----

  event(kind: string, fields: { jobId?: string | null; workerId?: string | null; detail?: unknown } = {}): void {
    this.q('INSERT INTO events(at, kind, job_id, worker_id, detail) VALUES (?, ?, ?, ?, ?)')
      .run(this.now(), kind, fields.jobId ?? null, fields.workerId ?? null, fields.detail === undefined ? null : JSON.stringify(fields.detail));
  }

  events(opts: { jobId?: string; afterId?: number; limit?: number } = {}): EventRow[] {
    const limit = Math.min(opts.limit ?? 200, 1000);
    const rows = (opts.jobId
      ? this.q('SELECT * FROM events WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?').all(opts.jobId, opts.afterId ?? 0, limit)
      : this.q('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?').all(opts.afterId ?? 0, limit)) as Row[];
    return rows.map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      kind: String(r.kind),
      jobId: (r.job_id as string | null) ?? null,
      workerId: (r.worker_id as string | null) ?? null,
      detail: r.detail === null ? null : json(r.detail),
    }));
  }

  // ---- jobs ----

  submitJob(spec: JobSpec): JobRow {
    return this.tx(() => {
      const seqRow = this.q("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'").get() as Row | undefined;
      const seq = (seqRow ? Number(seqRow.seq) : 0) + 1;
      const id = `job-${seq}`;
      this.q(
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
        this.now(),
      );
      this.event('job.submitted', { jobId: id, detail: { tenant: spec.tenant, scaleFactor: spec.scaleFactor } });
      return this.getJob(id)!;
    });
  }

  getJob(id: string): JobRow | undefined {
    const r = this.q('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return r ? jobFromRow(r) : undefined;
  }

  listJobs(opts: { tenant?: string; states?: readonly JobState[]; limit?: number; afterSeq?: number } = {}): JobRow[] {
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
    return (this.q(`SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`).all(...args) as Row[]).map(jobFromRow);
  }

  /** Jobs the scheduler should consider: not terminal and not being cancelled, in arrival order. */
  activeJobs(): JobRow[] {
    return (this.q("SELECT * FROM jobs WHERE state IN ('queued','running') ORDER BY seq").all() as Row[]).map(jobFromRow);
  }

  /** Jobs to schedule submitted after `seq` (queued or running, not being cancelled), in arrival order. */
  schedulableJobsAfter(seq: number): JobRow[] {
    return (this.q("SELECT * FROM jobs WHERE seq > ? AND state IN ('queued','running') AND cancel_requested = 0 ORDER BY seq").all(seq) as Row[]).map(jobFromRow);
  }

  /** Ids of the jobs to schedule now (queued or running, not being cancelled), up to `maxSeq` in arrival order. */
  schedulableJobIds(maxSeq = Number.MAX_SAFE_INTEGER): Set<string> {
    const ids = this.q("SELECT id FROM jobs INDEXED BY jobs_schedulable WHERE seq <= ? AND state IN ('queued','running') AND cancel_requested = 0").pluck().all(maxSeq) as string[];
    return new Set(ids);
  }

  /** How many jobs up to `maxSeq` are schedulable now (queued or running, not being cancelled). */
  countSchedulable(maxSeq: number): number {
    return this.q("SELECT COUNT(*) FROM jobs INDEXED BY jobs_schedulable WHERE seq <= ? AND state IN ('queued','running') AND cancel_requested = 0").pluck().get(maxSeq) as number;
  }

  /** What the scheduler's round report needs of a job (no JSON columns parsed: it reads hundreds each round). */
  jobProgress(id: string): Pick<JobRow, 'state' | 'stepsDone' | 'totalSteps' | 'reportedTotal' | 'finishedAt'> | undefined {
    const r = this.q('SELECT state, steps_done, total_steps, reported_total, finished_at FROM jobs WHERE id = ?').get(id) as Row | undefined;
    if (!r) return undefined;
    return { state: r.state as JobState, stepsDone: Number(r.steps_done), totalSteps: num(r.total_steps), reportedTotal: num(r.reported_total), finishedAt: num(r.finished_at) };
  }

  /** Is this job waiting or running (and not being cancelled)? */
  isSchedulable(id: string): boolean {
    return this.q("SELECT 1 FROM jobs WHERE id = ? AND state IN ('queued','running') AND cancel_requested = 0").get(id) !== undefined;
  }

  /** Cheap check for the scheduler loop: is any job waiting or running (and not being cancelled)? */
  hasActiveJobs(): boolean {
    return this.q("SELECT 1 FROM jobs WHERE state IN ('queued','running') AND cancel_requested = 0 LIMIT 1").get() !== undefined;
  }

  countJobs(): Record<JobState, number> {
    const out: Record<JobState, number> = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const r of this.q('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as Row[]) {
      out[r.state as JobState] = Number(r.n);
    }
    return out;
  }

  /**
   * Marks a job cancelled. A queued job ends at once; a running one is flagged, its worker stops the process and the
   * job becomes `cancelled` when the attempt ends. Returns the job after the change.
   */
  cancelJob(id: string, by: string): JobRow {
    return this.tx(() => {
      const job = this.getJob(id);
      if (!job) throw new RondoError({ code: 'E_INVALID', problem: `no job ${id}` });
      if (TERMINAL_STATES.includes(job.state)) return job;
      // Leases never handed to a worker cannot be running: withdraw them now. Delivered ones are stopped by the worker.
      for (const a of this.openAttemptsOfJob(id)) {
        if (a.state === 'leased' && a.deliveredAt === null) this.endAttempt(a.id, 'cancelled', { message: 'cancelled before it started' });
      }
      const open = this.openAttemptsOfJob(id);
      if (open.length === 0) {
        this.q("UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished_at = ? WHERE id = ?").run(this.now(), id);
      } else {
        this.q('UPDATE jobs SET cancel_requested = 1 WHERE id = ?').run(id);
      }
      this.event('job.cancel', { jobId: id, detail: { by } });
      return this.getJob(id)!;
    });
  }

  /** Records a progress report of the attempt that holds the job now. */
  recordProgress(
    attemptId: number,
    p: { steps?: number; total?: number; throughput?: number; checkpoint?: string },
  ): JobRow | undefined {
    return this.tx(() => {
      const a = this.getAttempt(attemptId);
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
      if (sets.length > 0) this.q(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...args, a.jobId);
      if (p.throughput !== undefined && p.throughput > 0) {
        // Exponential average: one noisy report (a step right after a restart) should not swing the policy.
        this.q(
          `INSERT INTO throughputs(job_id, gpu_type, steps_per_s, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT(job_id, gpu_type) DO UPDATE SET steps_per_s = 0.7 * steps_per_s + 0.3 * excluded.steps_per_s,
           updated_at = excluded.updated_at`,
        )
        .run(a.jobId, a.gpuType, p.throughput, this.now());
      }
      return this.getJob(a.jobId);
    });
  }

  /** Measured steps/s per GPU type of every job that is not finished (one query for a whole round). */
  activeThroughputs(): Map<string, Record<string, number>> {
    const out = new Map<string, Record<string, number>>();
    const rows = this.q(
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

  throughputsOf(jobId: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.q('SELECT gpu_type, steps_per_s FROM throughputs WHERE job_id = ?').all(jobId) as Row[]) {
      out[String(r.gpu_type)] = Number(r.steps_per_s);
    }
    return out;
  }

  // ---- logs ----

  appendLogs(jobId: string, attemptId: number | null, lines: ReadonlyArray<{ stream: LogLine['stream']; text: string; at?: number }>): void {
    if (lines.length === 0) return;
    this.tx(() => {
      const ins = this.q('INSERT INTO job_logs(job_id, attempt_id, at, stream, text) VALUES (?, ?, ?, ?, ?)');
      let bytes = 0;
      for (const l of lines) {
        ins.run(jobId, attemptId, l.at ?? this.now(), l.stream, l.text);
        bytes += Buffer.byteLength(l.text);
      }
      this.q('UPDATE jobs SET log_bytes = log_bytes + ? WHERE id = ?').run(bytes, jobId);
      let total = Number((this.q('SELECT log_bytes FROM jobs WHERE id = ?').get(jobId) as Row).log_bytes);
      if (total > this.maxLogBytes) {
        // Drop the oldest lines until the job is back under its cap.
        const old = this.q('SELECT id, text FROM job_logs WHERE job_id = ? ORDER BY id').iterate(jobId) as Iterable<Row>;
        let cut = 0;
        for (const r of old) {
          if (total <= this.maxLogBytes) break;
          total -= Buffer.byteLength(String(r.text));
          cut = Number(r.id);
        }
        this.q('DELETE FROM job_logs WHERE job_id = ? AND id <= ?').run(jobId, cut);
        this.q('UPDATE jobs SET log_bytes = ? WHERE id = ?').run(total, jobId);
      }
    });
  }

  logs(jobId: string, opts: { afterId?: number; limit?: number } = {}): LogLine[] {
    return (
      this.q('SELECT * FROM job_logs WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?')
        .all(jobId, opts.afterId ?? 0, Math.min(opts.limit ?? 1000, 10_000)) as Row[]
    ).map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      attemptId: num(r.attempt_id),
      stream: r.stream as LogLine['stream'],
      text: String(r.text),
    }));
  }

  // ---- workers ----

  registerWorker(name: string, gpus: readonly WorkerGpus[], tokenId: number | null): WorkerRow {
    return this.tx(() => {
      const n = Number((this.q('SELECT COUNT(*) AS n FROM workers').get() as Row).n) + 1;
      const id = `w-${n}`;
      this.q("INSERT INTO workers(id, name, gpus, token_id, registered_at, state) VALUES (?, ?, ?, ?, ?, 'alive')")
        .run(id, name, JSON.stringify(gpus), tokenId, this.now());
      this.event('worker.registered', { workerId: id, detail: { name, gpus } });
      return this.getWorker(id)!;
    });
  }

  getWorker(id: string): WorkerRow | undefined {
    const r = this.q('SELECT * FROM workers WHERE id = ?').get(id) as Row | undefined;
    return r ? workerFromRow(r) : undefined;
  }

  listWorkers(): WorkerRow[] {
    return (this.q('SELECT * FROM workers ORDER BY registered_at, id').all() as Row[]).map(workerFromRow);
  }

  setWorkerState(id: string, state: 'alive' | 'gone'): void {
    this.q('UPDATE workers SET state = ? WHERE id = ?').run(state, id);
  }

  // ---- attempts ----

  getAttempt(id: number): AttemptRow | undefined {
    const r = this.q('SELECT * FROM attempts WHERE id = ?').get(id) as Row | undefined;
    return r ? attemptFromRow(r) : undefined;
  }

  openAttempts(): AttemptRow[] {
    // SQLite would rather scan the table in id order than sort the few open attempts; the table holds every
    // attempt ever made, so the partial index is named.
    return (this.q("SELECT * FROM attempts INDEXED BY attempts_open WHERE state != 'ended' ORDER BY id").all() as Row[]).map(attemptFromRow);
  }

  openAttemptsOfJob(jobId: string): AttemptRow[] {
    return (this.q("SELECT * FROM attempts WHERE job_id = ? AND state != 'ended' ORDER BY id").all(jobId) as Row[]).map(attemptFromRow);
  }

  openAttemptsOfWorker(workerId: string): AttemptRow[] {
    return (this.q("SELECT * FROM attempts INDEXED BY attempts_open_worker WHERE worker_id = ? AND state != 'ended' ORDER BY id").all(workerId) as Row[]).map(
      attemptFromRow,
    );
  }

  attemptsOfJob(jobId: string): AttemptRow[] {
    return (this.q('SELECT * FROM attempts WHERE job_id = ? ORDER BY id').all(jobId) as Row[]).map(attemptFromRow);
  }

  /**
   * Seconds each job has held each GPU type over its ended and running attempts (the mechanism's history), for the
   * queued and running jobs or for the jobs named.
   */
  timeReceived(now: number, jobs: 'active' | readonly string[]): Map<string, Record<string, number>> {
    const out = new Map<string, Record<string, number>>();
    // Only the attempts of the jobs asked for (through `attempts_job`): a query over every attempt ever made would
    // grow with the server's history, and the scheduler asks once per round.
    const rows = (
      jobs === 'active'
        ? this.q(
            `SELECT a.job_id, a.gpu_type, SUM(COALESCE(a.ended_at, ?) - a.started_at) AS ms
             FROM jobs j INDEXED BY jobs_state JOIN attempts a INDEXED BY attempts_job ON a.job_id = j.id
             WHERE j.state IN ('queued','running') AND j.attempts > 0 AND a.started_at IS NOT NULL
             GROUP BY a.job_id, a.gpu_type`,
          ).all(now)
        : this.q(
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
  createAttempt(a: { jobId: string; workerId: string; round: number; gpuType: string; gpus: readonly number[]; notBefore: number; leaseEnd: number }): AttemptRow {
    const info = this.q(
      `INSERT INTO attempts(job_id, worker_id, round, gpu_type, gpus, created_at, not_before, lease_end, state, steps_at_start)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'leased', (SELECT steps_done FROM jobs WHERE id = ?))`,
    )
    .run(a.jobId, a.workerId, a.round, a.gpuType, JSON.stringify(a.gpus), this.now(), a.notBefore, a.leaseEnd, a.jobId);
    const id = Number(info.lastInsertRowid);
    this.q('UPDATE jobs SET attempts = attempts + 1 WHERE id = ?').run(a.jobId);
    this.event('attempt.leased', { jobId: a.jobId, workerId: a.workerId, detail: { attempt: id, round: a.round, gpuType: a.gpuType, gpus: a.gpus } });
    return this.getAttempt(id)!;
  }

  /**
   * Mints a token for the process of an attempt, handed to the worker with the lease. Only its hash is kept; a
   * lease delivered twice (a lost response) gets a second token, and all of an attempt's tokens stop working when
   * it ends.
   */
  mintLeaseToken(attemptId: number): string {
    return this.tx(() => {
      this.q('UPDATE attempts SET delivered_at = COALESCE(delivered_at, ?) WHERE id = ?').run(this.now(), attemptId);
      return this.createToken('lease', { attemptId }).token;
    });
  }

  extendLease(attemptId: number, leaseEnd: number, round: number): void {
    this.q("UPDATE attempts SET lease_end = ?, round = ? WHERE id = ? AND state != 'ended'").run(leaseEnd, round, attemptId);
  }

  /** The worker started the process. */
  markAttemptRunning(attemptId: number, at: number): AttemptRow | undefined {
    return this.tx(() => {
      const a = this.getAttempt(attemptId);
      if (!a || a.state !== 'leased') return a;
      this.q("UPDATE attempts SET state = 'running', started_at = ? WHERE id = ?").run(at, attemptId);
      this.q("UPDATE jobs SET state = 'running', started_at = COALESCE(started_at, ?) WHERE id = ? AND state = 'queued'").run(at, a.jobId);
      this.event('attempt.started', { jobId: a.jobId, workerId: a.workerId, detail: { attempt: attemptId } });
      return this.getAttempt(attemptId);
    });
  }

  /**
   * Closes an attempt and moves its job on: completed, failed, cancelled, or back to queued (preempted, lost).
   * Idempotent: a second report of the same end changes nothing, so a worker may resend until acknowledged.
   */
  endAttempt(attemptId: number, reason: EndReason, fields: { exitCode?: number | null; at?: number; message?: string } = {}): JobRow | undefined {
    return this.tx(() => {
      const a = this.getAttempt(attemptId);
      if (!a) return undefined;
      if (a.state === 'ended') return this.getJob(a.jobId);
      const at = fields.at ?? this.now();
      this.q("UPDATE attempts SET state = 'ended', ended_at = ?, end_reason = ?, exit_code = ?, started_at = COALESCE(started_at, CASE WHEN ? THEN ? END) WHERE id = ?")
        .run(at, reason, fields.exitCode ?? null, a.state === 'running' ? 1 : 0, at, attemptId);
      const job = this.getJob(a.jobId)!;
      const others = this.openAttemptsOfJob(a.jobId);
      const waiting: JobState = others.some((o) => o.state === 'running') ? 'running' : 'queued';
      let next: JobState;
      if (reason === 'completed') next = 'completed';
      else if (reason === 'failed' || reason === 'spawn_failed') next = 'failed';
      // A cancelled job ends when its last attempt does.
      else if (job.cancelRequested || reason === 'cancelled') next = others.length > 0 ? waiting : 'cancelled';
      else next = waiting;
      if (TERMINAL_STATES.includes(job.state)) next = job.state;
      const terminal = TERMINAL_STATES.includes(next);
      this.q('UPDATE jobs SET state = ?, exit_code = COALESCE(?, exit_code), failure = COALESCE(?, failure), finished_at = CASE WHEN ? THEN ? ELSE finished_at END WHERE id = ?')
        .run(next, fields.exitCode ?? null, reason === 'failed' || reason === 'spawn_failed' ? (fields.message ?? `exit code ${fields.exitCode}`) : null, terminal ? 1 : 0, at, a.jobId);
      this.event(`attempt.${reason}`, { jobId: a.jobId, workerId: a.workerId, detail: { attempt: attemptId, exitCode: fields.exitCode ?? null, message: fields.message } });
      if (terminal && job.state !== next) this.event(`job.${next}`, { jobId: a.jobId });
      if (terminal) {
        // Leases of a finished job that were never delivered go with it (a delivered one ends through its worker).
        for (const o of others) if (o.state === 'leased' && o.deliveredAt === null) this.endAttempt(o.id, 'preempted', { at, message: 'job ended' });
      }
      return this.getJob(a.jobId);
    });
  }

  // ---- rounds ----

  /** Records a planned round; its allocation as a value, or already encoded (`allocationJson`, as lastRound() reads it). */
  saveRound(r: Omit<RoundRow, 'allocation'> & ({ readonly allocation: unknown } | { readonly allocationJson: string })): void {
    this.q(
      `INSERT INTO rounds(round, start, duration, planned_at, policy, solver_ms, allocation, plan) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(round) DO UPDATE SET start = excluded.start, duration = excluded.duration, planned_at = excluded.planned_at,
       policy = excluded.policy, solver_ms = excluded.solver_ms, allocation = excluded.allocation, plan = excluded.plan`,
    )
    .run(r.round, r.start, r.duration, r.plannedAt, r.policy, r.solverMs, 'allocationJson' in r ? r.allocationJson : JSON.stringify(r.allocation), JSON.stringify(r.plan));
    // Keep a bounded history: the plan of every round since the start is not worth its disk.
    this.q('DELETE FROM rounds WHERE round < ?').run(r.round - 1000);
  }

  /** The last round's timing and size without parsing its plan (the scheduler loop asks on every wake-up). */
  lastRoundInfo(): { round: number; start: number; duration: number; assignments: number } | undefined {
    const r = this.q("SELECT round, start, duration, json_array_length(plan, '$.assignments') AS n FROM rounds ORDER BY round DESC LIMIT 1")
      .get() as Row | undefined;
    return r ? { round: Number(r.round), start: Number(r.start), duration: Number(r.duration), assignments: Number(r.n ?? 0) } : undefined;
  }

  /** The last round, parsed once per round: its allocation has a share per active job and is read on every poll. */
  lastRound(): RoundRow | undefined {
    const head = this.q('SELECT round, planned_at FROM rounds ORDER BY round DESC LIMIT 1').get() as Row | undefined;
    if (!head) return undefined;
    const key = `${Number(head.round)}:${Number(head.planned_at)}`;
    if (this.lastRoundCache?.key === key) return this.lastRoundCache.row;
    const r = this.q('SELECT * FROM rounds WHERE round = ?').get(head.round) as Row;
    const row: RoundRow = {
      round: Number(r.round),
      start: Number(r.start),
      duration: Number(r.duration),
      plannedAt: Number(r.planned_at),
      policy: String(r.policy),
      solverMs: Number(r.solver_ms),
      allocation: json(r.allocation),
      plan: json(r.plan),
    };
    this.lastRoundCache = { key, row };
    return row;
  }

  /** Consistency checks used by tests and `/healthz`: every invariant the runtime relies on. */
  checkInvariants(): string[] {
    const problems: string[] = [];
    const q = (sql: string): Row[] => this.q(sql).all() as Row[];
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
}
