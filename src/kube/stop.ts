/**
 * Stopping an admitted Job (preemption between rounds, a withdrawn or cancelled lease): suspend it, wait until the
 * Job controller and kubelet have removed its pods (SIGTERM, grace period), and report the end then, so the GPUs
 * are free before Rondo hands them on. Clearing status.startTime through the /status subresource (the pod template
 * may change only while suspended and never started: KEP-2926) and restoring the original selector come after, in
 * the background (`tidy`): they are on no Job's way to its next admission, which does both itself when it comes first.
 * JobSets and PyTorchJobs have no startTime to clear (their kinds say so: kinds/); their stops are otherwise the same.
 */
import type { KObj, ObjectCache } from './reflector.js';
import type { JobWriter } from './writer.js';
import { jobFinished, restorePatch, suspended, suspendPatch } from './objects.js';
import { kindOf } from './kinds/index.js';
import { A_STOPPING } from './config.js';
import type { Timeline } from './timeline.js';
import { endAttempt, type Attempt } from './attempt.js';

/** What the admission and stop writes need of the controller. */
export interface WriteContext {
  readonly writer: JobWriter;
  /** Every workload kind's objects by `jobKey` (workloads.ts). */
  readonly jobs: ObjectCache;
  readonly typeLabel: string;
  readonly log: (m: string) => void;
  readonly timeline?: Timeline;
}

/** Why a lease was not extended: the planner's reason when it recorded one for the round after the lease's. */
export function preemptionReason(a: Attempt, explain: ((jobId: string) => { readonly text: string; readonly round: number } | null) | undefined): string {
  const why = explain?.(a.jobId);
  if (why && why.round > (a.round ?? 0)) return why.text;
  return 'its lease ended: Rondo gave the GPUs to other jobs this round';
}

/** Suspends the Job (`a.stop` says why); the Event follows. On failure the attempt stays running for the next pass. */
export async function beginStop(ctx: WriteContext, a: Attempt, o: KObj): Promise<void> {
  a.phase = 'stopping';
  try {
    await ctx.writer.patchJob(a.kube, (cur) => (suspended(cur) && cur.metadata?.annotations?.[A_STOPPING] !== undefined ? undefined : suspendPatch(cur, a.stop!)), { tag: 'stop', round: a.round, priority: 'stop', dueAt: Math.min(a.deadline, Date.now()) });
    a.suspendedAt = Date.now();
    void ctx.writer.event(o, 'Normal', a.stop === 'cancelled' ? 'Cancelled' : 'Preempted', `suspended on ${a.gpuType} after round ${a.round ?? '?'} (attempt ${a.id}): ${a.stop}`);
  } catch (e) {
    a.phase = 'running';
    ctx.log(`suspend ${a.kube}: ${(e as Error).message}`);
  }
}

/**
 * Once no pod of the Job is left, the attempt ends at once (no write: its GPUs are free, and the job's next lease
 * may be waiting on this end). Returns true when it ended; the Job is then left to `tidy`.
 */
export function finishStop(ctx: WriteContext, a: Attempt, o: KObj, pods: readonly KObj[]): boolean {
  if (pods.some(kindOf(o).stopWaitsFor)) return false; // the kubelet is still stopping them (SIGTERM, grace period)
  ctx.timeline?.mark('stop.podsGone', a.round, a.suspendedAt === undefined ? undefined : Date.now() - a.suspendedAt);
  const fin = jobFinished(ctx.jobs.items.get(a.kube) ?? o);
  if (fin) {
    // It finished during the stop: that is its end, not a preemption.
    endAttempt(a, { exitCode: fin === 'Complete' ? 0 : 1, signal: null, stoppedByWorker: false, spawnError: null });
    return true;
  }
  endAttempt(a, { exitCode: null, signal: a.startedAt !== undefined ? 'SIGTERM' : null, stoppedByWorker: true, spawnError: null });
  ctx.timeline?.mark('stop.ended', a.round);
  return true;
}

/** A Job Rondo suspended and has not restored yet. */
export function untidy(o: KObj): boolean {
  return suspended(o) && o.metadata?.annotations?.[A_STOPPING] !== undefined;
}

/**
 * The last half of a stop, in the background once the round's urgent writes are out: clear status.startTime and
 * restore the original selector, unless an admission came first (it overwrites both: admit.ts). Every write is
 * guarded by the resourceVersion it was computed on, so it can never undo an admission that raced it.
 */
export async function tidy(ctx: WriteContext, key: string): Promise<void> {
  const cur = ctx.jobs.items.get(key);
  if (!cur || !untidy(cur) || jobFinished(cur)) return;
  // KEP-2926 (batch/v1 only): the template may change again once startTime is cleared.
  const kep2926 = kindOf(cur).clearsStartTime;
  if (kep2926 && cur.status?.startTime) await ctx.writer.clearStartTime(cur, { tag: 'tidy-clear', priority: 'background' }, true);
  await ctx.writer.patchJob(key, (c) => (untidy(c) && !(kep2926 && c.status?.startTime) ? restorePatch(c, ctx.typeLabel) : undefined), { tag: 'tidy-restore', priority: 'background' });
}

/**
 * Jobs stopped and not yet restored -> since when. A Job is tidied only once it has stayed stopped for `afterMs` (one
 * round by default): most are admitted again sooner, onto the product their template still names (no write to undo,
 * and no startTime to clear first). A Job with an open attempt is left to its admission.
 */
export class Tidier {
  private readonly untidy = new Map<string, number>();
  private readonly tidying = new Set<string>();

  constructor(
    private readonly ctx: WriteContext,
    private readonly afterMs: number,
  ) {}

  get busy(): boolean {
    return this.tidying.size > 0;
  }

  stopped(key: string): void {
    this.untidy.set(key, Date.now());
  }

  forget(key: string): void {
    this.untidy.delete(key);
  }

  /** Starts the tidying that is due; `open`: Jobs (namespace/name) with an open attempt. */
  run(open: ReadonlyMap<string, number>): void {
    const before = Date.now() - this.afterMs;
    for (const [key, since] of this.untidy) {
      if (since > before || this.tidying.has(key) || open.has(key)) continue;
      const o = this.ctx.jobs.items.get(key);
      if (!o || !untidy(o)) {
        this.untidy.delete(key);
        continue;
      }
      this.tidying.add(key);
      void tidy(this.ctx, key)
        .then(() => this.untidy.delete(key))
        .catch((e: Error) => this.ctx.log(`restore ${key}: ${e.message}`))
        .finally(() => this.tidying.delete(key));
    }
  }
}
