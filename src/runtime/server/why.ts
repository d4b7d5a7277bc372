/**
 * Why a job is not running, as the live server keeps it: the planner's latest reason per waiting job and the reason of
 * its last preemption (from `RoundPlan.explainer`, src/mechanism/explain.ts), plus the one check that needs no round
 * at all: a shape no live worker can hold. In memory: a restarted server knows again after its first round.
 *
 * Each round, reasons are computed at once only for the jobs that lost or changed GPUs and for the first
 * `EAGER_WHY` waiting jobs in the planner's order; any other job's reason is computed when it is first asked for
 * (GET /api/v1/jobs/{id}/why, a queue page) from the round's snapshot. With 10,000 queued jobs, computing every
 * reason each round held the event loop for hundreds of ms and pushed bench:server's API p99 past its target.
 */
import type { RoundExplainer, RoundPlan } from '../../model/index.js';
export { shapeProblem } from '../../model/worker-fit.js';

/** Waiting jobs whose reason each round computes at once: the head of the queue, which people look at most. */
export const EAGER_WHY = 200;

export interface JobWhy {
  readonly kind: string;
  readonly text: string;
  readonly round: number;
  readonly at: number;
}

/** The latest round's reasons still to compute, and how to word them. */
interface LazyRound {
  readonly explainer: RoundExplainer;
  readonly round: number;
  readonly at: number;
  readonly never: (jobId: string) => string | null;
}

export class WhyBook {
  /** Waiting jobs whose reasons `record` computes at once (bench:server's `--why-eager` compares other values). */
  eager = EAGER_WHY;
  private waiting = new Map<string, JobWhy>();
  private readonly preempted = new Map<string, JobWhy>();
  private lazy: LazyRound | undefined;
  /** Jobs forgotten since the latest round: their reasons are not computed later. */
  private gone = new Set<string>();

  /** `never` says why no live worker can hold a job (null when one can): it rewrites the planner's "never". */
  constructor(private readonly never: (jobId: string) => string | null) {}

  /** Takes a round's reasons; jobs the plan runs lose their waiting reason. */
  record(plan: RoundPlan, round: number, atMs: number): void {
    for (const _ of this.steps(plan, round, atMs)) {
      // all at once
    }
  }

  /**
   * `record`, with `between` awaited after the explainer is built and after each `slice` eager reasons, so a server
   * serves requests meanwhile. A reason asked for before its slice is computed on request, as any other.
   */
  async recordSliced(plan: RoundPlan, round: number, atMs: number, between: () => Promise<void>, slice = 50): Promise<void> {
    for (const _ of this.steps(plan, round, atMs, slice)) await between();
  }

  private *steps(plan: RoundPlan, round: number, atMs: number, slice = Infinity): Generator<void> {
    const explainer = plan.explainer?.();
    if (!explainer) return;
    const lazy: LazyRound = { explainer, round, at: atMs, never: this.never };
    const next = new Map<string, JobWhy>();
    for (const [id, w] of explainer.changed) {
      const why = word(lazy, id, w);
      if (w.kind === 'preempted' || w.kind === 'moved') this.preempted.set(id, why);
      if (w.kind !== 'moved') next.set(id, why);
    }
    // The round's reasons are in force from here; the eager ones below only fill in ahead of requests.
    this.waiting = next;
    this.lazy = lazy;
    this.gone = new Set();
    const head = explainer.waiting.slice(0, this.eager);
    for (let i = 0; i < head.length; i += slice) {
      yield;
      // A slice may come after a later round's record (then this one is stale) or after a job was forgotten.
      if (this.lazy !== lazy) return;
      for (const id of head.slice(i, i + slice)) if (!this.gone.has(id)) next.set(id, word(lazy, id, explainer.reason(id)!));
    }
  }

  /** The latest reason a job waits (null while it runs), and its last preemption or move. */
  of(jobId: string): { waiting: JobWhy | null; preemption: JobWhy | null } {
    let waiting = this.waiting.get(jobId);
    if (!waiting && this.lazy && !this.gone.has(jobId)) {
      const w = this.lazy.explainer.reason(jobId);
      if (w) this.waiting.set(jobId, (waiting = word(this.lazy, jobId, w)));
    }
    return { waiting: waiting ?? null, preemption: this.preempted.get(jobId) ?? null };
  }

  forget(jobId: string): void {
    this.waiting.delete(jobId);
    this.preempted.delete(jobId);
    this.gone.add(jobId);
  }
}

/** A planner's reason as the server shows it: the server's round number, and "never" checked against live workers. */
function word(r: LazyRound, id: string, w: { readonly kind: string; readonly text: string }): JobWhy {
  const text = w.kind === 'never' ? (r.never(id) ?? w.text) : w.text;
  return { kind: w.kind, text: text.replace(/in round \d+/, `in round ${r.round}`), round: r.round, at: r.at };
}
