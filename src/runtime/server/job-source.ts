import type { Job } from '../../model/index.js';
import type { JobSource } from '../../engine/index.js';
import type { JobRow, Store } from './store/index.js';
import { turn, UNKNOWN_TOTAL_STEPS } from './timing.js';

/** The job source over the store, and a stored job as the engine sees it. */

/** Live submissions from the store, in arrival order. */
export class StoreJobSource implements JobSource {
  private lastSeq = 0;
  /** Jobs handed to the engine and not yet seen to leave. */
  private readonly held = new Set<string>();
  constructor(
    private readonly store: Store,
    private readonly toJob: (j: JobRow) => Job,
    /** Yields to the event loop before each read (the scheduler's, which also times the engine's stretches). */
    private readonly yieldTurn: (before: string) => Promise<void> = () => turn(),
  ) {}

  async poll(): Promise<readonly Job[]> {
    await this.yieldTurn('reading new jobs');
    const rows = this.store.schedulableJobsAfter(this.lastSeq);
    for (const r of rows) {
      this.lastSeq = Math.max(this.lastSeq, r.seq);
      this.held.add(r.id);
    }
    return rows.map(this.toJob);
  }

  nextArrival(): undefined {
    return undefined;
  }

  exhausted(): boolean {
    return false;
  }

  /** Jobs that stopped being schedulable: cancelled, failed, or finished outside a round the engine saw. */
  async takeCancelled(): Promise<readonly string[]> {
    await this.yieldTurn('reading jobs that left');
    // A job never becomes schedulable again once it left (terminal states and cancel requests are final), and every
    // schedulable job up to `lastSeq` is held: when as many are schedulable as are held, none left.
    if (this.store.countSchedulable(this.lastSeq) === this.held.size) return [];
    const live = this.store.schedulableJobIds(this.lastSeq);
    const gone = [...this.held].filter((id) => !live.has(id));
    for (const id of gone) this.held.delete(id);
    return gone;
  }
}

/** A stored job as the engine admits it; its arrival in seconds since the store's epoch (`epochMs`). */
export function engineJob(j: JobRow, epochMs: number): Job {
  return {
    id: j.id,
    jobType: j.jobType ?? 'unknown',
    scaleFactor: j.scaleFactor,
    arrivalTime: Math.max(0, (j.submittedAt - epochMs) / 1000),
    totalSteps: j.reportedTotal ?? j.totalSteps ?? UNKNOWN_TOTAL_STEPS,
    priorityWeight: j.priorityWeight,
    tenant: j.tenant,
    ...(j.deadlineS !== null ? { deadlineS: j.deadlineS } : {}),
    ...(j.sloFactor !== null ? { sloFactor: j.sloFactor } : {}),
    ...(j.gpuTypes ? { gpuTypes: j.gpuTypes } : {}),
  };
}

/** An engine job with the job type as submitted (`engineJob` names an untyped job 'unknown'). */
export function namedJob(job: Job): { scaleFactor: number; gpuTypes?: readonly string[]; jobType: string | null } {
  return { scaleFactor: job.scaleFactor, jobType: job.jobType === 'unknown' ? null : job.jobType, ...(job.gpuTypes ? { gpuTypes: job.gpuTypes } : {}) };
}
