import type Database from 'better-sqlite3';
import { openDatabase } from './schema.js';
import { Checkpointer } from './checkpointer.js';
import { loopSections } from '../loop-sections.js';

/** Tables whose reads the store caches in memory (`Sql.version`): read on every poll and plan, written less often. */
const VERSIONED = ['attempts', 'workers'] as const;

/**
 * The store's connection, shared by its parts (jobs, attempts, identity, read models) and by nothing outside
 * src/runtime/server/store: prepared statements, transactions, group commit and the event journal.
 * better-sqlite3 is synchronous, so a handler's writes are committed before it answers.
 */
export class Sql {
  readonly db: Database.Database;
  private readonly stmts = new Map<string, Database.Statement>();
  private pending: Array<{ fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
  /** Per table in `VERSIONED`, a count of the writes to it (see `version`). */
  private readonly versions = new Map<string, number>(VERSIONED.map((t) => [t, 0]));

  constructor(
    readonly path: string,
    /** Wall clock (ms since the Unix epoch); injectable so tests of the store are deterministic. */
    readonly now: () => number,
    /** Per-job log cap in bytes. */
    readonly maxLogBytes: number,
  ) {
    this.db = openDatabase(path);
    this.checkpointer = path === ':memory:' || path === '' ? undefined : Checkpointer.start(path, this.db);
  }

  /** Moves the write-ahead log into the database file off the event loop (checkpointer.ts). */
  private readonly checkpointer: Checkpointer | undefined;

  close(): void {
    this.flush();
    this.checkpointer?.stop();
    this.db.close();
  }

  /** Prepared statements by SQL text, each prepared once: preparing costs more than running most of these queries. */
  q(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      if (!s.reader) {
        // A write to a versioned table moves its version when it changes a row.
        const tables = VERSIONED.filter((t) => new RegExp(`\\b${t}\\b`, 'i').test(sql));
        if (tables.length > 0) {
          const run = s.run.bind(s);
          s.run = (...args: unknown[]) => {
            const r = run(...args);
            if (r.changes > 0) for (const t of tables) this.bump(t);
            return r;
          };
        }
      }
      this.stmts.set(sql, s);
    }
    return s;
  }

  /**
   * A number that changes whenever `table` (one of `VERSIONED`) may have changed: after every write statement on it
   * that changed a row, and every transaction that rolled back. A cache of rows read from the table is valid while the version stays.
   * Only this process writes the store, so nothing else moves it.
   */
  version(table: (typeof VERSIONED)[number]): number {
    return this.versions.get(table)!;
  }

  /** Rows read from `table`, by `key`, while its version stays (see `version`). */
  private readonly cachedReads = new Map<string, { version: number; rows: readonly unknown[] }>();

  /**
   * `read()`'s rows, read again only after `table` was written since the last read under `key` (a copy each call, so
   * a caller may sort or splice it).
   */
  cachedRows<T>(key: string, table: (typeof VERSIONED)[number], read: () => T[]): T[] {
    const version = this.version(table);
    const hit = this.cachedReads.get(key);
    if (hit?.version === version) return [...(hit.rows as readonly T[])];
    const rows = read();
    this.cachedReads.set(key, { version, rows });
    return [...rows];
  }

  private bump(table: string): void {
    this.versions.set(table, this.versions.get(table)! + 1);
  }

  /** After a rollback any cached read may hold rows that were never committed. */
  private rolledBack(): void {
    for (const t of VERSIONED) this.bump(t);
  }

  tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (e) {
      this.rolledBack();
      throw e;
    }
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
    const t0 = performance.now();
    let t1 = t0;
    try {
      this.db.transaction(() => {
        for (const b of batch) {
          try {
            out.push({ ok: true, v: this.db.transaction(b.fn)() });
          } catch (e) {
            this.rolledBack();
            out.push({ ok: false, e });
          }
        }
        t1 = performance.now();
      })();
    } catch (e) {
      this.rolledBack();
      for (const b of batch) b.reject(e);
      return;
    } finally {
      // The batch's writes, then its COMMIT (the fsync): both hold the event loop.
      const t2 = performance.now();
      loopSections.add('store group commit', t2 - t0);
      loopSections.add('store group commit: COMMIT', t2 - t1);
    }
    batch.forEach((b, i) => {
      const r = out[i]!;
      if (r.ok) b.resolve(r.v);
      else b.reject(r.e);
    });
  }

  /** Appends to the event journal (every part of the store records its state changes here). */
  event(kind: string, fields: { jobId?: string | null; workerId?: string | null; detail?: unknown } = {}): void {
    this.q('INSERT INTO events(at, kind, job_id, worker_id, detail) VALUES (?, ?, ?, ?, ?)')
      .run(this.now(), kind, fields.jobId ?? null, fields.workerId ?? null, fields.detail === undefined ? null : JSON.stringify(fields.detail));
  }
}
