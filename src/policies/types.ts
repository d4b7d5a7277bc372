import type { Allocation, ClusterSpec, GpuType, PolicyJob, ThroughputTable } from '../model/index.js';

/** What a policy sees of one job (defined in the model, where its one builder `policyJob` lives). */
export type { PolicyJob };

/** Everything a policy may read. Policies are pure: the same snapshot gives the same allocation. */
export interface PolicySnapshot {
  /** Seconds (simulated or wall-clock since the scheduler's epoch). */
  readonly now: number;
  readonly cluster: ClusterSpec;
  /** Active (arrived, unfinished) jobs in arrival order, ties by id; FIFO policies rely on this order. */
  readonly jobs: readonly PolicyJob[];
  /** Full table, for space-sharing (co-location) lookups by `jobKey(jobType, scaleFactor)`. */
  readonly throughputs?: ThroughputTable;
  /** $/hour per GPU of each type, for cost policies. */
  readonly prices?: Readonly<Record<GpuType, number>>;
  /**
   * Spot tiers (docs/spot.md): how often each type's GPUs are revoked and the run time a revocation throws away.
   * Cost and tier policies discount a type's throughput by `1 / (1 + rate x lossS / 3600)`, the share of its run
   * time expected to survive; absent, no type is ever revoked.
   */
  readonly revocation?: RevocationModel;
  /** Entity (tenant) weights for hierarchical policies; a tenant not listed has weight 1. */
  readonly tenantWeights?: Readonly<Record<string, number>>;
  /**
   * Whatever the policy returned as `state` from its previous call on this scheduler (e.g. Themis/Gavel
   * finish-time-fairness bookkeeping), or undefined on the first call. The engine stores it and passes it back;
   * it never looks inside.
   */
  readonly state?: unknown;
}

export interface RevocationModel {
  /** Revocations per GPU-hour of each type; a type not listed (an on-demand GPU) is never revoked. */
  readonly ratePerGpuHour: Readonly<Record<GpuType, number>>;
  /** Seconds of run time each revocation loses (half a checkpoint interval plus the restart). */
  readonly lossS: number;
}

export interface PolicyResult {
  readonly allocation: Allocation;
  /** Opaque state to hand back in the next snapshot. */
  readonly state?: unknown;
}

export interface PolicyMeta {
  /** Gavel-compatible name, e.g. `max_min_fairness_perf`. */
  readonly name: string;
  readonly aliases: readonly string[];
  readonly description: string;
  /** Uses per-type throughputs (heterogeneity-aware) rather than treating all GPUs as one pool. */
  readonly heterogeneityAware: boolean;
  /** Returns pair rows (space sharing). */
  readonly spaceSharing: boolean;
  readonly needsPrices: boolean;
  readonly usesSlos: boolean;
  /**
   * Only rows the allocation gives time may run: the mechanism never starts a row whose priority is 0, even on GPUs
   * no other row wants (default false: such GPUs go to zero-priority rows rather than idle). Set by the FIFO
   * policies, whose allocation is the decision of who runs; Gavel decides this by the policy's name (`FIFO*`).
   */
  readonly onlyAllocatedRowsRun?: boolean;
}

export interface Policy {
  readonly meta: PolicyMeta;
  /** Synchronous once the solver is loaded (`await initSolver()` from src/solver before the first call). */
  allocate(snapshot: PolicySnapshot): PolicyResult;
}
