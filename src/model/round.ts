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
  readonly explain?: () => ReadonlyMap<string, { readonly kind: string; readonly text: string; readonly gpuType?: GpuType }>;
}
