/**
 * Admitting a suspended Job onto a GPU type (the start of a lease): the per-job Secret when its pods read one, then
 * one merge patch that sets the template's node selector, the annotations and `spec.suspend=false`, then an Event.
 */
import type { KObj } from './reflector.js';
import { admitPatch } from './objects.js';
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
    // (not admitted, or a stop interrupted by a restart) may still carry a startTime.
    if (o.status?.startTime) await ctx.writer.clearStartTime(o);
    await ctx.writer.writeSecret(o, a);
    const round = a.round ?? 0;
    const written = await ctx.writer.patchJob(a.kube, (cur) => admitPatch(cur, ctx.typeLabel, product, a.gpuType, round, a.id, a.worker, a.jobId, extra));
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
