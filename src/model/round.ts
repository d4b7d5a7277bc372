import type { GpuType } from './cluster.js';

/** One gang placed for one round: the jobs (one, or two sharing the GPUs) and the GPUs they hold. */
export interface Assignment {
  /** One job id, or two for a space-sharing pair. */
  readonly jobIds: readonly string[];
  readonly gpuType: GpuType;
  /** Global GPU ids (see `ClusterSpec.servers`). */
  readonly gpus: readonly number[];
  /** All GPUs on one server. Spread multi-GPU jobs run at their `_unconsolidated` throughput. */
  readonly consolidated: boolean;
  /** The job keeps exactly the GPUs it held last round: its lease is extended, it is not restarted. */
  readonly leaseExtended: boolean;
}

/** Why the planner did what it did to one job (src/mechanism/explain.ts has the kinds). */
export interface RowReason {
  readonly kind: string;
  readonly text: string;
  readonly gpuType?: GpuType;
}

/** A round's reasons, computed on demand. */
export interface RoundExplainer {
  /** Jobs that held GPUs last round and lost them (preempted) or run on others (moved): at most one per GPU. */
  readonly changed: ReadonlyMap<string, RowReason>;
  /** The other jobs the plan leaves waiting, in the planner's row order (arrival order). */
  readonly waiting: readonly string[];
  /** Why a job waits (a preempted one included), computed on the first call; undefined when it does not wait. */
  reason(jobId: string): RowReason | undefined;
}

/** What the mechanism decides for one round. */
export interface RoundPlan {
  readonly round: number;
  /** Seconds (simulated or wall-clock since the scheduler's epoch). */
  readonly start: number;
  readonly duration: number;
  readonly assignments: readonly Assignment[];
  /**
   * Why each job the plan does not run (or took GPUs from) is in that state: `planRound` sets it, non-enumerable and
   * computed only when called (src/mechanism/explain.ts). Call it before the round's run time is credited.
   */
  readonly explain?: () => ReadonlyMap<string, RowReason>;
  /** The same reasons, each computed when first asked (a live server with thousands of queued jobs). Same timing rule. */
  readonly explainer?: () => RoundExplainer;
  /**
   * A partial round that fills GPUs idle before the current round's end (engine's backfill phase): its jobs start
   * on GPUs no lease holds, until `start + duration`; other leases are left as they are.
   */
  readonly backfill?: boolean;
  /**
   * With a change budget (`EngineConfig.maxChanges`): the budget held back part of this plan while it places jobs and
   * leaves GPUs free. With backfill on, another (partial) plan follows on the free GPUs, again within the budget: at
   * once in a simulation, after the backfill gap on a live server (src/engine/backfill.ts). Absent without a budget.
   */
  readonly budgetLimited?: boolean;
}
