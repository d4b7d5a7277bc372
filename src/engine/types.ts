/**
 * The two seams between the scheduler loop and the world. The loop (src/engine/loop.ts) never knows whether it is
 * simulated: the simulator (src/sim) and the real server (src/runtime) each implement `Clock`, `Executor` and
 * `JobSource`. All methods may be async so that a real implementation can talk to workers.
 */
import type { GpuType, Job, RoundPlan } from '../model/index.js';

/** Time source. Seconds since the scheduler's epoch (simulated: trace time; real: wall time since start). */
export interface Clock {
  now(): number;
  /**
   * Resolves once `now() >= t` (at once when already past). A simulated clock jumps to `t`; a real one sleeps.
   * An AbortSignal passed to the engine is forwarded so a real clock can stop sleeping early.
   */
  sleepUntil(t: number, signal?: AbortSignal): Promise<void>;
}

/** What an executor is told about each job of a round plan. */
export interface ExecJob {
  readonly job: Job;
  /** Steps the job must complete in total (derived from `durationS` when the job only has a duration). */
  readonly totalSteps: number;
  /** Steps still to do at the start of this round. */
  readonly remainingSteps: number;
}

/** One job's outcome for one round. */
export interface JobProgress {
  readonly jobId: string;
  readonly gpuType: GpuType;
  /** Steps completed during this round. */
  readonly steps: number;
  /**
   * Seconds the job ran in this round, from the round's start until it stopped (end of round, or its finish).
   * This is the time credited to the job in the mechanism's received-time bookkeeping.
   */
  readonly runTime: number;
  /** All steps done; `finishTime` says when (clock time). */
  readonly finished: boolean;
  readonly finishTime?: number;
  /** The job crashed or could not start in this round; it made no progress and stays queued. */
  readonly failed?: boolean;
}

export interface RoundReport {
  /** Clock time at which the round ended: its GPUs are free for the next round from then on. */
  readonly end: number;
  /** One entry per job in the plan's assignments (an executor may omit jobs that did not run). */
  readonly progress: readonly JobProgress[];
}

/**
 * Runs round plans. For each assignment: `leaseExtended` means the job keeps running where it is (no restart);
 * otherwise the job is (re)started on the listed GPUs. Jobs that ran last round and are absent from this plan, or
 * moved, must be preempted (checkpoint, stop) before their GPUs are reused. Resolves when the round is over.
 */
export interface Executor {
  runRound(plan: RoundPlan, jobs: ReadonlyMap<string, ExecJob>): Promise<RoundReport>;
  /** Called once when a job leaves the scheduler (finished or dropped) so the executor can free what it holds. */
  release?(jobId: string): void | Promise<void>;
}

/** Where jobs come from: a trace, a workload generator, or live submissions. */
export interface JobSource {
  /** Jobs that have arrived by `now` and were not returned before, in arrival order. */
  poll(now: number): readonly Job[] | Promise<readonly Job[]>;
  /** The next known future arrival time; undefined when none is known (live submissions) or left. */
  nextArrival(): number | undefined;
  /** True when no job will ever arrive again (trace exhausted). Live sources return false. */
  exhausted(): boolean;
  /**
   * Optional: ids of jobs cancelled since the last call (live sources, e.g. `rondo cancel`). The engine removes those
   * still active before planning the next round and calls `Executor.release` for them.
   */
  takeCancelled?(): readonly string[] | Promise<readonly string[]>;
}

/** Per-round information the engine hands to observers (progress bars, logs, the server's dashboard). */
export interface RoundInfo {
  readonly round: number;
  readonly start: number;
  readonly end: number;
  readonly activeJobs: number;
  readonly runningJobs: number;
  readonly finishedJobs: number;
  /** Finished jobs of the measurement window (0 when the engine runs without one). */
  readonly windowFinished?: number;
  /** GPU-seconds busy in this round per type, aligned with `cluster.gpuTypes`. */
  readonly busyGpuSeconds: readonly number[];
}

export interface EngineObserver {
  /** The plan about to be run (before `Executor.runRound`). */
  onPlan?(plan: RoundPlan): void;
  onRound?(info: RoundInfo): void;
  onJobArrived?(jobId: string, time: number): void;
  onJobFinished?(jobId: string, time: number): void;
  /** A job left without finishing: cancelled, or dropped after repeated failures. */
  onJobRemoved?(jobId: string, time: number, reason: 'cancelled' | 'failed'): void;
  onAllocation?(time: number, rows: number, seconds: number): void;
}
