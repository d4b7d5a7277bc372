import Database from 'better-sqlite3';
import { RondoError } from '../../../model/errors.js';

/**
 * The store's schema: numbered migrations applied in order on open, each with its `user_version` bump in one
 * transaction. The schema version a server reports (`/healthz`) is the number of migrations.
 */

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
  // 5: GPU use per planned round (raw, throughput-weighted, queued; per GPU type and tenant) for the heterogeneity
  // view, recorded as it was so that history is never redrawn against today's cluster (store/use-history.ts).
  `
  CREATE TABLE use_history (round INTEGER PRIMARY KEY, at INTEGER NOT NULL, end_at INTEGER NOT NULL, data TEXT NOT NULL);
  CREATE INDEX use_history_at ON use_history(at);
  `,
  // 6: a worker's stable identity (its machine and name), so that a registration with a new token retires the old
  // registration of the same worker instead of counting both until the old one times out.
  `
  ALTER TABLE workers ADD COLUMN machine TEXT;
  ALTER TABLE workers ADD COLUMN replaced_by TEXT;
  `,
  // 7: per round, what each tenant of a --tenants tree was entitled to and received (tenant-rounds.ts; bounded).
  `
  CREATE TABLE tenant_rounds (
    round INTEGER NOT NULL,
    at INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    entitlement REAL NOT NULL,
    received REAL NOT NULL,
    gpus REAL NOT NULL,
    borrowed REAL,
    lent REAL,
    active_jobs INTEGER NOT NULL,
    queued_jobs INTEGER NOT NULL,
    queued_gpus REAL NOT NULL,
    PRIMARY KEY (round, tenant)
  );
  `,
  // 8: plans kept for the last --keep-plans rounds only (rounds.ts): an older round keeps its summary row, with JSON
  // null in place of its allocation and plan (the columns stay NOT NULL: SQLite cannot relax that without copying
  // the whole table, up to 1,000 plans of ~740 KB each). Existing rows read the defaults without being rewritten.
  `
  ALTER TABLE rounds ADD COLUMN assignments INTEGER;
  ALTER TABLE rounds ADD COLUMN plan_pruned INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX rounds_kept ON rounds(plan_pruned, round);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Opens (creating when absent) the SQLite file with the store's settings and brings its schema up to date. WAL
 * journal with synchronous=FULL: each commit is fsynced, so an acknowledged submit or state change survives a power
 * cut as well as a `kill -9` (NORMAL would survive only the process crash).
 */
export function openDatabase(path: string): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (e) {
    throw new RondoError({ code: 'E_IO', file: path, problem: `cannot open the store: ${(e as Error).message}` });
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, path);
  return db;
}

export function schemaVersionOf(db: Database.Database): number {
  return Number(db.pragma('user_version', { simple: true }));
}

function migrate(db: Database.Database, path: string): void {
  const version = schemaVersionOf(db);
  if (version > SCHEMA_VERSION) {
    db.close();
    throw new RondoError({
      code: 'E_IO',
      file: path,
      problem: `store schema version ${version} is newer than this rondo understands (${SCHEMA_VERSION})`,
      hint: 'upgrade rondo or use another --db file',
    });
  }
  for (let v = version; v < SCHEMA_VERSION; v++) {
    // Each migration and its version bump commit together: a crash mid-migration leaves the old version.
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
