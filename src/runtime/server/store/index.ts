import { DEFAULT_MAX_LOG_BYTES, type WorkerGpus } from './rows.js';
import type { AttemptRow, EndReason, EventRow, JobRow, JobSpec, JobState, LogLine, RoundRow, WorkerRow } from './rows.js';
import type { Principal, TokenKind } from '../auth.js';
import * as attempts from './attempts.js';
import * as identity from './identity.js';
import * as jobs from './jobs.js';
import * as readModels from './read-models.js';
import type { QueueJob } from './read-models.js';
import * as rounds from './rounds.js';
import * as useHistory from './use-history.js';
import * as tenantRounds from './tenant-rounds.js';
import type { TenantRoundRow } from './tenant-rounds.js';
import { schemaVersionOf } from './schema.js';
import { Sql } from './sql.js';
import { RondoError } from '../../../model/errors.js';

/**
 * The runtime's durable state: one SQLite file, owned here. Every SQL statement of the runtime lives in this folder,
 * one file per concern (schema.ts: migrations; jobs.ts; attempts.ts: attempts and leases; identity.ts: tokens and
 * workers; rounds.ts: planned rounds and scheduler state; read-models.ts: the event journal and the dashboard's
 * joined reads). `Store` is the one door to them: callers get named methods, never the connection.
 * Commits are few (submits, round plans, attempt starts and ends, progress) so the fsync per commit is not on a hot
 * path; worker liveness is kept in memory and never written per heartbeat.
 */

export * from './rows.js';
export type { QueueJob } from './read-models.js';
export type { JobShape, UseFigures, UseSample } from './use-history.js';
export type { TenantRoundRow } from './tenant-rounds.js';
export { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
export { DEFAULT_KEEP_PLANS, ROUND_SUMMARIES_KEPT } from './rounds.js';

/** `keepPlans` must leave the last round whole (the live plan is read from it) and stay within the summaries kept. */
export function checkKeepPlans(n: number, found: string = String(n)): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > rounds.ROUND_SUMMARIES_KEPT) {
    throw new RondoError({
      code: 'E_USAGE',
      problem: 'bad --keep-plans',
      expected: `a whole number of rounds from 1 to ${rounds.ROUND_SUMMARIES_KEPT} whose plans the store keeps (default ${rounds.DEFAULT_KEEP_PLANS})`,
      found,
    });
  }
  return n;
}

export interface StoreOptions {
  readonly maxLogBytes?: number;
  /** Injectable wall clock (ms since the Unix epoch) so tests of the store are deterministic. */
  readonly now?: () => number;
  /** Rounds whose whole plan and allocation are kept (`--keep-plans`, default `DEFAULT_KEEP_PLANS`); older keep a summary. */
  readonly keepPlans?: number;
}

export class Store {
  private readonly sql: Sql;
  readonly path: string;
  readonly keepPlans: number;

  constructor(path: string, opts: StoreOptions = {}) {
    this.path = path;
    this.keepPlans = checkKeepPlans(opts.keepPlans ?? rounds.DEFAULT_KEEP_PLANS);
    this.sql = new Sql(path, opts.now ?? Date.now, opts.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES);
  }

  close(): void {
    this.sql.close();
  }

  /** Runs `fn` in one transaction (nested calls become savepoints). */
  tx<T>(fn: () => T): T {
    return this.sql.tx(fn);
  }

  /** Group commit: see `Sql.commit`; resolves once `fn`'s changes are durable. */
  commit<T>(fn: () => T): Promise<T> {
    return this.sql.commit(fn);
  }

  /** The schema version of the open file (the number of migrations applied). */
  schemaVersion(): number {
    return schemaVersionOf(this.sql.db);
  }

  event(kind: string, fields: { jobId?: string | null; workerId?: string | null; detail?: unknown } = {}): void {
    this.sql.event(kind, fields);
  }

  /** The same worker token registering again is the same machine restarted: whatever it ran before is gone. */
  reregisterWorker(id: string, name: string, gpus: readonly WorkerGpus[], machine?: string | null): string[] {
    return this.tx(() => {
      for (const a of attempts.openAttemptsOfWorker(this.sql, id)) attempts.endAttempt(this.sql, a.id, 'lost', { message: 'worker restarted' });
      identity.updateWorker(this.sql, id, name, gpus, machine);
      this.sql.event('worker.reregistered', { workerId: id });
      return this.retireReplaced(id, name, machine ?? this.getWorker(id)?.machine ?? null);
    });
  }

  /** A new registration (a new worker token); an earlier live registration of the same worker is retired. */
  registerWorkerAs(name: string, gpus: readonly WorkerGpus[], tokenId: number, machine: string | null): { id: string; replaced: string[] } {
    return this.tx(() => {
      const w = identity.registerWorker(this.sql, name, gpus, tokenId, machine);
      identity.bindWorkerToken(this.sql, tokenId, w.id);
      return { id: w.id, replaced: this.retireReplaced(w.id, name, machine) };
    });
  }

  /**
   * Retires the other live registrations of the worker `id` is (same machine and name): gone, replaced by `id`, so
   * its GPUs are counted once. Their open attempts are lost with them, ended no later than their lease end (the
   * agent that ran them restarted, so they ran at most until then).
   */
  private retireReplaced(id: string, name: string, machine: string | null): string[] {
    const old = identity.retireSameWorker(this.sql, id, name, machine);
    const now = this.sql.now();
    for (const o of old) {
      for (const a of attempts.openAttemptsOfWorker(this.sql, o)) {
        attempts.endAttempt(this.sql, a.id, 'lost', { at: Math.min(now, a.leaseEnd), message: `worker ${o} registered again as ${id}` });
      }
      this.sql.event('worker.replaced', { workerId: o, detail: { by: id } });
    }
    return old;
  }

  // ---- jobs (jobs.ts) ----
  submitJob(spec: JobSpec): JobRow { return jobs.submitJob(this.sql, spec); }
  getJob(id: string): JobRow | undefined { return jobs.getJob(this.sql, id); }
  cancelRequested(id: string): boolean { return jobs.cancelRequested(this.sql, id); }
  listJobs(opts: { tenant?: string; states?: readonly JobState[]; limit?: number; afterSeq?: number } = {}): JobRow[] { return jobs.listJobs(this.sql, opts); }
  activeJobs(): JobRow[] { return jobs.activeJobs(this.sql); }
  schedulableJobsAfter(seq: number): JobRow[] { return jobs.schedulableJobsAfter(this.sql, seq); }
  schedulableJobIds(maxSeq = Number.MAX_SAFE_INTEGER): Set<string> { return jobs.schedulableJobIds(this.sql, maxSeq); }
  countSchedulable(maxSeq: number): number { return jobs.countSchedulable(this.sql, maxSeq); }
  jobProgress(id: string): Pick<JobRow, 'state' | 'stepsDone' | 'totalSteps' | 'reportedTotal' | 'finishedAt'> | undefined { return jobs.jobProgress(this.sql, id); }
  isSchedulable(id: string): boolean { return jobs.isSchedulable(this.sql, id); }
  hasActiveJobs(): boolean { return jobs.hasActiveJobs(this.sql); }
  countJobs(): Record<JobState, number> { return jobs.countJobs(this.sql); }
  activeThroughputs(): Map<string, Record<string, number>> { return jobs.activeThroughputs(this.sql); }
  throughputsOf(jobId: string): Record<string, number> { return jobs.throughputsOf(this.sql, jobId); }
  appendLogs(jobId: string, attemptId: number | null, lines: ReadonlyArray<{ stream: LogLine['stream']; text: string; at?: number }>): void { jobs.appendLogs(this.sql, jobId, attemptId, lines); }
  logs(jobId: string, opts: { afterId?: number; limit?: number } = {}): LogLine[] { return jobs.logs(this.sql, jobId, opts); }

  // ---- attempts and leases (attempts.ts) ----
  getAttempt(id: number): AttemptRow | undefined { return attempts.getAttempt(this.sql, id); }
  openAttempts(): AttemptRow[] { return attempts.openAttempts(this.sql); }
  openAttemptsOfJob(jobId: string): AttemptRow[] { return attempts.openAttemptsOfJob(this.sql, jobId); }
  openAttemptsOfWorker(workerId: string): AttemptRow[] { return attempts.openAttemptsOfWorker(this.sql, workerId); }
  attemptsOfJob(jobId: string): AttemptRow[] { return attempts.attemptsOfJob(this.sql, jobId); }
  timeReceived(now: number, jobs: 'active' | readonly string[]): Map<string, Record<string, number>> { return attempts.timeReceived(this.sql, now, jobs); }
  createAttempt(a: { jobId: string; workerId: string; round: number; gpuType: string; gpus: readonly number[]; notBefore: number; leaseEnd: number }): AttemptRow { return attempts.createAttempt(this.sql, a); }
  mintLeaseToken(attemptId: number): string { return attempts.mintLeaseToken(this.sql, attemptId); }
  extendLease(attemptId: number, leaseEnd: number, round: number): void { attempts.extendLease(this.sql, attemptId, leaseEnd, round); }
  markAttemptRunning(attemptId: number, at: number): AttemptRow | undefined { return attempts.markAttemptRunning(this.sql, attemptId, at); }
  endAttempt(attemptId: number, reason: EndReason, fields: { exitCode?: number | null; at?: number; message?: string } = {}): JobRow | undefined { return attempts.endAttempt(this.sql, attemptId, reason, fields); }
  cancelJob(id: string, by: string): JobRow { return attempts.cancelJob(this.sql, id, by); }
  recordProgress(attemptId: number, p: { steps?: number; total?: number; throughput?: number; checkpoint?: string }): JobRow | undefined { return attempts.recordProgress(this.sql, attemptId, p); }

  quarantineJob(id: string, reason: string): JobRow | undefined { return attempts.quarantineJob(this.sql, id, reason); }

  // ---- identity: tokens and workers (identity.ts) ----
  createToken(kind: TokenKind, fields: { tenant?: string; workerId?: string; attemptId?: number; label?: string } = {}): { id: number; token: string } { return identity.createToken(this.sql, kind, fields); }
  hasAdminToken(): boolean { return identity.hasAdminToken(this.sql); }
  authenticate(token: string): Principal | undefined { return identity.authenticate(this.sql, token); }
  revokeToken(id: number): boolean { return identity.revokeToken(this.sql, id); }
  listTokens(): Array<{ id: number; kind: TokenKind; tenant: string | null; workerId: string | null; label: string | null; createdAt: number; revoked: boolean }> { return identity.listTokens(this.sql); }
  bindWorkerToken(tokenId: number, workerId: string): void { identity.bindWorkerToken(this.sql, tokenId, workerId); }
  registerWorker(name: string, gpus: readonly WorkerGpus[], tokenId: number | null, machine: string | null = null): WorkerRow { return identity.registerWorker(this.sql, name, gpus, tokenId, machine); }
  getWorker(id: string): WorkerRow | undefined { return identity.getWorker(this.sql, id); }
  listWorkers(): WorkerRow[] { return identity.listWorkers(this.sql); }
  setWorkerState(id: string, state: 'alive' | 'gone'): void { identity.setWorkerState(this.sql, id, state); }
  updateWorker(id: string, name: string, gpus: readonly WorkerGpus[]): void { identity.updateWorker(this.sql, id, name, gpus); }

  // ---- rounds and scheduler state (rounds.ts) ----
  getMeta(key: string): string | undefined { return rounds.getMeta(this.sql, key); }
  setMeta(key: string, value: string): void { rounds.setMeta(this.sql, key, value); }
  saveRound(r: Omit<RoundRow, 'allocation'> & ({ readonly allocation: unknown } | { readonly allocationJson: string })): void { rounds.saveRound(this.sql, r, this.keepPlans); }
  lastRoundInfo(): { round: number; start: number; duration: number; assignments: number } | undefined { return rounds.lastRoundInfo(this.sql); }
  lastRound(): RoundRow | undefined { return rounds.lastRound(this.sql); }
  lastRoundText(): rounds.RoundText | undefined { return rounds.lastRoundText(this.sql); }
  lastRoundKey(): string | undefined { return rounds.lastRoundKey(this.sql); }
  prunedRoundsSince(since: number): { count: number; last: number } | null { return rounds.prunedRoundsSince(this.sql, since); }
  saveUseSample(s: useHistory.UseSample): void { useHistory.saveUseSample(this.sql, s); }
  useSamples(from: number, to: number): useHistory.UseSample[] { return useHistory.useSamples(this.sql, from, to); }
  jobShapes(ids: readonly string[]): useHistory.JobShape[] { return useHistory.jobShapes(this.sql, ids); }
  waitingJobs(untilMs: number): Array<useHistory.JobShape & { readonly count: number }> { return useHistory.waitingJobs(this.sql, untilMs); }

  // ---- read models (read-models.ts) ----
  events(opts: { jobId?: string; afterId?: number; limit?: number } = {}): EventRow[] { return readModels.events(this.sql, opts); }
  checkInvariants(): string[] { return readModels.checkInvariants(this.sql); }
  changeMarks(): { lastEventId: number; running: number; runningSteps: number } { return readModels.changeMarks(this.sql); }
  activeJobIds(): string[] { return readModels.activeJobIds(this.sql); }
  preemptionCounts(ids: readonly string[]): Map<string, number> { return readModels.preemptionCounts(this.sql, ids); }
  queueJobs(tenant: string | undefined): QueueJob[] { return readModels.queueJobs(this.sql, tenant); }
  activeGpuTypes(): Map<string, string[]> { return readModels.activeGpuTypes(this.sql); }
  tenantNames(): string[] { return readModels.tenantNames(this.sql); }
  roundsOfJob(jobId: string, since: number): ReturnType<typeof readModels.roundsOfJob> { return readModels.roundsOfJob(this.sql, jobId, since); }
  billedAttempts(jobId?: string): ReturnType<typeof readModels.billedAttempts> { return readModels.billedAttempts(this.sql, jobId); }
  attemptsInWindow(from: number, to: number): Array<{ gpuType: string; devices: number; startedAt: number; endedAt: number | null }> { return readModels.attemptsInWindow(this.sql, from, to); }

  // ---- per-round tenant figures of a --tenants tree (tenant-rounds.ts) ----
  saveTenantRound(rows: readonly TenantRoundRow[]): void { tenantRounds.saveTenantRound(this.sql, rows); }
  tenantRounds(opts: { tenant?: string; limit: number }): TenantRoundRow[] { return tenantRounds.tenantRounds(this.sql, opts); }
}
