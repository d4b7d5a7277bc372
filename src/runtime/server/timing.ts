/** The live server's clock: round, grace, heartbeat and worker-timeout lengths, and a yield to the event loop. */

export interface RuntimeTiming {
  /** Round length (Gavel: 360 s). */
  readonly roundMs: number;
  /** Time a job gets between SIGTERM and SIGKILL to checkpoint and exit. */
  readonly graceMs: number;
  /** How often workers sync with the server. */
  readonly heartbeatMs: number;
  /** A worker silent for this long is lost: its GPUs leave the cluster and its jobs are requeued. */
  readonly workerTimeoutMs: number;
}

export const DEFAULT_TIMING: RuntimeTiming = { roundMs: 360_000, graceMs: 30_000, heartbeatMs: 2_000, workerTimeoutMs: 15_000 };

/** How long before a round ends the next one is planned: three heartbeats, so extensions arrive in time. */
export function planAheadMs(t: RuntimeTiming, lastPlanMs = 0): number {
  return Math.min(t.roundMs / 2, 3 * t.heartbeatMs + 100 + 2 * lastPlanMs);
}

/**
 * The least time between the end of one backfill pass and the start of the next (a quarter heartbeat, at most
 * 500 ms). Under load an attempt ends at nearly every sync, and each end asks for a pass over every active job:
 * back to back, the passes would keep the server's event loop busy.
 */
export function backfillGapMs(t: RuntimeTiming): number {
  return Math.min(500, t.heartbeatMs / 4);
}

/** Placeholder step count for jobs that never said how long they are (policies need a number). */
export const UNKNOWN_TOTAL_STEPS = 1e6;

/**
 * Lets the event loop serve what arrived while the scheduler worked. Two hops: called from an I/O callback (the
 * policy thread's reply), one setImmediate would run before the loop polls for new I/O.
 */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
