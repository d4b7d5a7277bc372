/**
 * The `rondo.dev/estimated-finish` annotation on admitted Jobs: after each refresh of the estimates, a Job whose
 * annotation is missing or off by more than a minute and a tenth of its time left gets one patch.
 */
import { A_ATTEMPT, A_ESTIMATED_FINISH } from './config.js';
import { suspended } from './objects.js';
import type { Attempt } from './attempt.js';
import { finishChanged, finishText, type FinishEstimates } from './estimates.js';
import type { WriteContext } from './stop.js';
import { pool } from './writer.js';

export async function annotateFinish(ctx: WriteContext, estimates: FinishEstimates, attempts: Iterable<Attempt>): Promise<void> {
  if (!(await estimates.refresh())) return;
  const now = Date.now();
  const due: Array<{ a: Attempt; at: number }> = [];
  for (const a of attempts) {
    if (a.ended || a.stop || (a.phase !== 'starting' && a.phase !== 'running')) continue;
    const at = estimates.get(a.jobId);
    const o = ctx.jobs.items.get(a.kube);
    if (at !== undefined && o && finishChanged(o.metadata?.annotations?.[A_ESTIMATED_FINISH], at, now)) due.push({ a, at });
  }
  await pool(due, 8, async ({ a, at }) => {
    try {
      // Only while this attempt holds the Job (no resourceVersion: an annotation never conflicts with a stop).
      await ctx.writer.patchJob(a.kube, (cur) =>
        !suspended(cur) && cur.metadata?.annotations?.[A_ATTEMPT] === String(a.id) ? { metadata: { annotations: { [A_ESTIMATED_FINISH]: finishText(at) } } } : undefined,
        { tag: 'annotate', priority: 'background' },
      );
    } catch (e) {
      ctx.log(`estimated finish of ${a.kube}: ${(e as Error).message}`);
    }
  });
}
