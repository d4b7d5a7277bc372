/**
 * Why a job is not running, as the live server keeps it: the planner's latest reason per waiting job and the reason of
 * its last preemption (from `RoundPlan.explain`, src/mechanism/explain.ts), plus the one check that needs no round at
 * all: a shape no live worker can hold. In memory: a restarted server knows again after its first round.
 */
import type { RoundPlan } from '../../model/index.js';
export { shapeProblem } from '../../model/worker-fit.js';

export interface JobWhy {
  readonly kind: string;
  readonly text: string;
  readonly round: number;
  readonly at: number;
}

export class WhyBook {
  private waiting = new Map<string, JobWhy>();
  private readonly preempted = new Map<string, JobWhy>();

  /** Takes a round's reasons; jobs the plan runs lose their waiting reason. `shape` rewrites "never" with the live workers. */
  record(plan: RoundPlan, round: number, atMs: number, never: (jobId: string) => string | null): void {
    const reasons = plan.explain?.();
    if (!reasons) return;
    const next = new Map<string, JobWhy>();
    for (const [id, w] of reasons) {
      const text = w.kind === 'never' ? (never(id) ?? w.text) : w.text;
      const why: JobWhy = { kind: w.kind, text: text.replace(/in round \d+/, `in round ${round}`), round, at: atMs };
      if (w.kind === 'preempted' || w.kind === 'moved') this.preempted.set(id, why);
      if (w.kind !== 'moved') next.set(id, why);
    }
    this.waiting = next;
  }

  /** The latest reason a job waits (null while it runs), and its last preemption or move. */
  of(jobId: string): { waiting: JobWhy | null; preemption: JobWhy | null } {
    return { waiting: this.waiting.get(jobId) ?? null, preemption: this.preempted.get(jobId) ?? null };
  }

  forget(jobId: string): void {
    this.waiting.delete(jobId);
    this.preempted.delete(jobId);
  }
}
