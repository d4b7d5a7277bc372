/**
 * WAL checkpoints on a thread of their own. SQLite copies the write-ahead log back into the database file (and
 * fsyncs it) in whichever commit takes the log past its threshold; on the server that was a worker's sync or a
 * submit, holding the event loop for tens of milliseconds while megabytes moved (the engine state and each round's
 * allocation are large). Here a second connection on a worker thread runs a PASSIVE checkpoint every
 * `CHECKPOINT_MS`: it waits for no lock, never blocks the main connection's readers or writers, and commits stay
 * exactly as durable (each is fsynced to the log by the main connection; synchronous=FULL here too, so the database
 * file is fsynced before the log is reused). The main connection stops checkpointing itself while the thread runs,
 * and starts again if the thread fails. Not started from TypeScript sources (tests): SQLite's own checkpoints then.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const CHECKPOINT_MS = 1000;
/** SQLite's default threshold (pages), restored on the main connection if the thread stops. */
const AUTO_CHECKPOINT_PAGES = 1000;

const ENTRY = fileURLToPath(import.meta.url);

export class Checkpointer {
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    db: Database.Database,
  ) {
    db.pragma('wal_autocheckpoint = 0');
    const fallBack = (): void => {
      if (this.closed || !db.open) return;
      this.closed = true;
      db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    };
    worker.on('error', fallBack);
    worker.on('exit', fallBack);
    worker.unref();
  }

  /** A checkpoint thread for the store file `path` opened as `db`; undefined where it cannot run (TypeScript sources). */
  static start(path: string, db: Database.Database): Checkpointer | undefined {
    if (!ENTRY.endsWith('.js') || !existsSync(ENTRY)) return undefined;
    return new Checkpointer(new Worker(ENTRY, { workerData: { rondoCheckpoint: path, everyMs: CHECKPOINT_MS } }), db);
  }

  /** Asks the thread to close its connection and end (the main connection's close then checkpoints the rest). */
  stop(): void {
    this.closed = true;
    this.worker.postMessage('close');
  }
}

const job = workerData as { rondoCheckpoint?: unknown; everyMs?: number } | null;
if (!isMainThread && parentPort && typeof job?.rondoCheckpoint === 'string') {
  const port = parentPort;
  const db = new Database(job.rondoCheckpoint);
  db.pragma('synchronous = FULL');
  const timer = setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // Busy or interrupted: the next tick tries again (PASSIVE never waits).
    }
  }, job.everyMs ?? CHECKPOINT_MS);
  port.on('message', (m: unknown) => {
    if (m !== 'close') return;
    clearInterval(timer);
    db.close();
    port.close();
  });
}
