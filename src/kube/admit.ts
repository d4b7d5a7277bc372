/**
 * Admitting a suspended Job onto a GPU type (the start of a lease): the per-job Secret when its pods read one, then
 * one merge patch that sets the template's node selector, the annotations and `spec.suspend=false`, then an Event.
 */
import type { KObj } from './reflector.js';
import { admitPatch } from './objects.js';
import { kindOf } from './kinds/index.js';
import { endAttempt, type Attempt } from './attempt.js';
import type { WriteContext } from './stop.js';

export async function admit(ctx: WriteContext, a: Attempt, o: KObj, product: string | undefined, extra?: Record<string, string>): Promise<void> {
  if (!product) {
    endAttempt(a, { exitCode: null, signal: null, stoppedByWorker: true, spawnError: `no node carries a product label mapped to ${a.gpuType}` });
    return;
  }
  a.phase = 'starting';
  a.admittedAt = Date.now();
  try {
    // The template may change only while suspended and never started (KEP-2926): a Job suspended by us before
    // (its stop not tidied yet, a stop interrupted by a restart, or suspended at intake) may still carry a startTime.
    const round = a.round ?? 0;
    const t = { tag: 'admit', round: a.round, dueAt: a.startAt };
    let cleared = false;
    // KEP-2926 is batch/v1's rule: JobSet and the training operator let a suspended workload's templates change.
    const kep2926 = kindOf(o).clearsStartTime;
    // A Job admitted again onto the product its template still names (its last stop not tidied yet) keeps its
    // template as it is: no startTime to clear then.
    if (kep2926 && o.status?.startTime && !sameTemplate(o, admitPatch(o, ctx.typeLabel, product, a.gpuType, round, a.id, a.worker, a.jobId, extra))) {
      await ctx.writer.clearStartTime(o, { tag: 'clear', round: a.round });
      cleared = true;
    }
    await ctx.writer.writeSecret(o, a);
    const patch = (): Promise<boolean> => ctx.writer.patchJob(a.kube, (cur) => admitPatch(cur, ctx.typeLabel, product, a.gpuType, round, a.id, a.worker, a.jobId, extra), t);
    let written: boolean;
    try {
      written = await patch();
    } catch (e) {
      // 422: the template may not change while startTime is set, which the cache did not show yet (the Job
      // controller set it just before the suspend): cleared, and tried once more.
      if ((e as { code?: unknown }).code !== 422 || cleared || !kep2926) throw e;
      await ctx.writer.clearStartTime(ctx.jobs.items.get(a.kube) ?? o, { tag: 'clear', round: a.round });
      written = await patch();
    }
    if (!written) throw Object.assign(new Error('the Job is gone'), { code: 404 });
    void ctx.writer.event(o, 'Normal', 'Admitted', `admitted on ${a.gpuType} (${product}) in round ${round}, attempt ${a.id}`);
  } catch (e) {
    ctx.log(`admit ${a.kube}: ${(e as Error).message}`);
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'number' || code >= 500 || code === 429) {
      // The API server is unreachable or overloaded (a restart, an upgrade): not the job's fault. The admission may
      // have been half written (or written with its answer lost), so undo it as a preemption: suspend, wait for
      // pods, restore; the job is then queued again instead of failed.
      a.stop = `admission interrupted: ${(e as Error).message}`.slice(0, 1000);
      return;
    }
    endAttempt(a, { exitCode: null, signal: null, stoppedByWorker: true, spawnError: `admission failed: ${(e as Error).message}`.slice(0, 4000) });
  }
}

/** Whether a batch/v1 Job's admission patch leaves its pod template as it is (every selector key and template annotation it sets already so). */
export function sameTemplate(o: KObj, patch: object): boolean {
  const tpl = (patch as { spec?: { template?: { metadata?: { annotations?: Record<string, string | null> }; spec?: { nodeSelector?: Record<string, string | null> } } } }).spec?.template;
  const cur = o.spec?.template as { metadata?: { annotations?: Record<string, string> }; spec?: { nodeSelector?: Record<string, string> } } | undefined;
  const same = (want: Record<string, string | null> | undefined, have: Record<string, string> | undefined): boolean =>
    Object.entries(want ?? {}).every(([k, v]) => (v === null ? have?.[k] === undefined : have?.[k] === v));
  return same(tpl?.spec?.nodeSelector, cur?.spec?.nodeSelector) && same(tpl?.metadata?.annotations, cur?.metadata?.annotations);
}
