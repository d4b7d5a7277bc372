/**
 * Stopping an admitted Job (preemption between rounds, a withdrawn or cancelled lease): suspend it, wait until the
 * Job controller and kubelet have removed its pods (SIGTERM, grace period), then clear status.startTime through the
 * /status subresource (the pod template may change only while suspended and never started: KEP-2926) and restore
 * the original selector, and only then report the end, so the GPUs are free before Rondo hands them on.
 */
import type { KObj, Reflector } from './reflector.js';
import type { JobWriter } from './writer.js';
import { jobFinished, restorePatch, suspendPatch } from './objects.js';
import { A_STOPPING } from './config.js';
import { endAttempt, type Attempt } from './attempt.js';

/** What the admission and stop writes need of the controller. */
export interface WriteContext {
  readonly writer: JobWriter;
  readonly jobs: Reflector<KObj>;
  readonly typeLabel: string;
  readonly log: (m: string) => void;
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
    await ctx.writer.patchJob(a.kube, (cur) => (cur.spec?.suspend === true && cur.metadata?.annotations?.[A_STOPPING] !== undefined ? undefined : suspendPatch(cur, a.stop!)));
    void ctx.writer.event(o, 'Normal', a.stop === 'cancelled' ? 'Cancelled' : 'Preempted', `suspended on ${a.gpuType} after round ${a.round ?? '?'} (attempt ${a.id}): ${a.stop}`);
  } catch (e) {
    a.phase = 'running';
    ctx.log(`suspend ${a.kube}: ${(e as Error).message}`);
  }
}

/** Once no pod of the Job is left: clears startTime, restores the selector and ends the attempt. */
export async function finishStop(ctx: WriteContext, a: Attempt, o: KObj, pods: readonly KObj[]): Promise<void> {
  if (pods.length > 0) return; // the kubelet is still stopping them (SIGTERM, grace period)
  const fin = jobFinished(ctx.jobs.items.get(a.kube) ?? o);
  if (fin) {
    // It finished during the stop: that is its end, not a preemption.
    endAttempt(a, { exitCode: fin === 'Complete' ? 0 : 1, signal: null, stoppedByWorker: false, spawnError: null });
    return;
  }
  try {
    if (o.status?.startTime) await ctx.writer.clearStartTime(o);
    await ctx.writer.patchJob(a.kube, (cur) => restorePatch(cur, ctx.typeLabel));
    endAttempt(a, { exitCode: null, signal: a.startedAt !== undefined ? 'SIGTERM' : null, stoppedByWorker: true, spawnError: null });
  } catch (e) {
    ctx.log(`stop ${a.kube}: ${(e as Error).message}`);
  }
}
