/**
 * The seams between the scheduler loop and the world, and what the loop hands back. The loop (src/engine/loop.ts)
 * never knows whether it is simulated: the simulator (src/sim) and the real server (src/runtime) each implement
 * `Clock`, `Executor` and `JobSource` (and may add a `StopRule`). All methods may be async so that a real
 * implementation can talk to workers. Consumers of results (src/metrics) need only this file.
 */
import type { Allocation, Assignment, ClusterSpec, GpuType, Job, RoundPlan } from '../model/index.js';
import type { ShareLedger } from '../mechanism/index.js';

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
  /** The job now says it has this many steps in all (a real job may learn or report its length late). */
  readonly totalSteps?: number;
}

export interface RoundReport {
  /**
   * Clock time at which the round ends: its GPUs are free for the next round from then on, and the next round
   * starts there. It may lie ahead of the clock: an executor that must hand out the next plan before the round is
   * over (a real one, whose lease extensions must reach the workers before they stop a job) resolves `runRound`
   * early, reports what it has seen so far, and the engine plans the next round at once to start at `end`. Progress
   * made after the report is reported with the next round.
   */
  readonly end: number;
  /** One entry per job in the plan's assignments (an executor may omit jobs that did not run). */
  readonly progress: readonly JobProgress[];
  /**
   * Set by a live executor with backfill on when it resolved before the round's planning point because something
   * changed (a job arrived, an attempt ended): `end` is now, the round goes on until `backfillUntil`, and the engine
   * may place queued jobs on the GPUs free meanwhile (backfill.ts) before it plans the next round.
   */
  readonly backfillUntil?: number;
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
  /**
   * Optional, for executors whose machines come and go (real workers): the cluster the next round may use and what
   * runs where on it now, asked before every plan. Without it the cluster is `EngineConfig.cluster` for good and
   * "what runs where" is the previous plan.
   */
  observe?(now: number): ClusterView | Promise<ClusterView>;
}

/** The machines an executor has now and the jobs running on them (see `Executor.observe`). */
export interface ClusterView {
  readonly cluster: ClusterSpec;
  /** Jobs holding GPUs now, in `cluster`'s GPU ids: a job placed on the same GPUs keeps running (lease extension). */
  readonly running: readonly Assignment[];
}

/** A job's bookkeeping that must outlive the engine call (see `EngineState`). */
export interface SavedJob {
  readonly id: string;
  readonly stepsDone: number;
  readonly totalSteps: number;
  readonly roundsRun: number;
  readonly preemptions: number;
  readonly failures: number;
}

/** What the engine needs to go on where it stopped: the mechanism's ledger, the policy's view and the round number. */
export interface EngineState {
  readonly round: number;
  readonly ledger: ShareLedger;
  readonly allocation: Allocation | undefined;
  readonly policyState: unknown;
  /** The allocation predates the current jobs or cluster. */
  readonly stale: boolean;
  /** Active jobs only; a job that left while the engine was down is dropped from the ledger on restore. */
  readonly jobs: readonly SavedJob[];
}

/**
 * Keeps `EngineState` across engine calls (a live server's store): loaded once before the first round, saved after
 * every round and before every wait. The engine never looks at where it goes.
 */
export interface EnginePersistence {
  load(): EngineState | undefined | Promise<EngineState | undefined>;
  save(state: EngineState): void | Promise<void>;
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
   * Optional: ids of jobs cancelled since the last call (live sources, e.g. `rondo cancel`, or a live job that ended
   * outside a round, such as one that failed). The engine removes those still active before planning the next round
   * and calls `Executor.release` for them; ids it does not hold are ignored.
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
  /** Finished jobs of the measurement window (`StopRule.finished`; 0 when the engine runs without a stop rule). */
  readonly windowFinished?: number;
  /** GPU-seconds busy in this round per type, aligned with `cluster.gpuTypes`. */
  readonly busyGpuSeconds: readonly number[];
  /** With a change budget (`EngineConfig.maxChanges`): the jobs whose placement this round's plan changed. */
  readonly changes?: number;
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

export interface JobRecord {
  readonly id: string;
  /** Position in arrival order (0-based), Gavel's job id. */
  readonly index: number;
  readonly jobType: string;
  readonly scaleFactor: number;
  readonly arrivalTime: number;
  /** Fixed at admission unless the executor reports another length (`JobProgress.totalSteps`). */
  totalSteps: number;
  stepsDone: number;
  finishTime: number | undefined;
  /** Seconds run on each cluster type (aligned with the cluster's types while the job is active). */
  runSeconds: number[];
  /** Rounds in which the job was placed. */
  roundsRun: number;
  /** Times the job was stopped (not kept in place) while unfinished. */
  preemptions: number;
  /** Consecutive failed rounds; at `maxFailures` the job is dropped and marked `failed`. */
  failures: number;
  failed: boolean;
  /** Cancelled through the job source before finishing. */
  cancelled: boolean;
  /** Time-integral of the number of active jobs over the job's life (for finish-time fairness). */
  activeJobSeconds: number;
}

export type StopReason = 'drained' | 'window' | 'jctCap' | 'maxRounds' | 'aborted';

export interface EngineResult {
  readonly cluster: ClusterSpec;
  readonly policy: string;
  readonly roundDuration: number;
  readonly jobs: readonly JobRecord[];
  readonly rounds: number;
  readonly startTime: number;
  readonly endTime: number;
  /** One entry per round, plus entries for spans where jobs waited and nothing ran. */
  readonly timeline: readonly RoundInfo[];
  readonly policyCalls: number;
  readonly policySeconds: number;
  /** Wall seconds in the mechanism (priorities, picking, placement) and in the executor, for profiling. */
  readonly mechanismSeconds: number;
  readonly executorSeconds: number;
  readonly leaseExtensions: number;
  readonly leaseOpportunities: number;
  readonly stopReason: StopReason;
}

/**
 * A driver's rule for stopping before the source is drained, e.g. the simulator's measurement window and JCT cap
 * (src/sim/stop.ts). The engine tells it about every job that enters and leaves, and asks it before every round.
 */
export interface StopRule {
  /** A job was admitted. */
  admitted(rec: JobRecord): void;
  /** A job left the engine: finished (`finishTime` set), dropped after failures, or cancelled. */
  left(rec: JobRecord): void;
  /** Asked before every round with the engine's time: a reason to stop now, or undefined to go on. */
  reason(now: number): StopReason | undefined;
  /** Jobs the rule has seen finish so far, reported as `RoundInfo.windowFinished`. */
  finished(): number;
}
