/** What a caller gives `runEngine`: the driver's seams, the policy and the settings of the cycle. */
import type { ClusterSpec, GpuType, Job, ThroughputTable } from '../model/index.js';
import type { Policy, PolicyResult, PolicySnapshot } from '../policies/types.js';
import type { Clock, EngineObserver, EnginePersistence, Executor, JobSource, StopRule } from './types.js';

/** Gavel's `minimum_time_between_allocation_resets`. */
export const DEFAULT_MIN_REALLOCATION_INTERVAL_S = 1920;
export const DEFAULT_ROUND_DURATION_S = 360;

export interface PriceFeed {
  /** $/hour per GPU of each type in force at `now` (engine seconds); a type without a price is absent. */
  pricesAt(now: number): Readonly<Record<GpuType, number>>;
  /** Relative move that re-solves, e.g. 0.1: a price 10% above or below the one last solved with. */
  readonly threshold: number;
}

export interface EngineConfig {
  readonly cluster: ClusterSpec;
  readonly policy: Policy;
  readonly clock: Clock;
  readonly executor: Executor;
  readonly source: JobSource;
  /** Seconds per round (Gavel: 360). */
  readonly roundDuration?: number;
  /**
   * The change budget: at most this many jobs whose placement a round changes (src/mechanism/budget.ts). Undefined:
   * no limit. For Kubernetes, where every start and stop is API writes (docs/kubernetes.md, "Scale"). A function is
   * read at every plan (`rondo serve --kube`'s automatic budget follows the API server's measured write rate); it
   * may answer undefined (no limit for that plan).
   */
  readonly maxChanges?: number | (() => number | undefined);
  /**
   * Isolated, consolidated steps/s of a job on each of `cluster.gpuTypes` (0 = cannot run there). Asked at admission
   * and again for every active job when `Executor.observe` reports a different cluster.
   */
  readonly throughputOf: (job: Job, cluster: ClusterSpec) => readonly number[];
  /** Throughput the policy should see now, for jobs whose throughput changes with progress; default `throughputOf`. */
  readonly currentThroughputOf?: (job: Job, stepsDone: number, cluster: ClusterSpec) => readonly number[];
  /** Steps a job must do; default `job.totalSteps`, else `durationS` x throughput on its reference type. */
  readonly totalStepsOf?: (job: Job) => number;
  /** Minimum seconds between allocation recomputes (Gavel: 1920). 0 recomputes on every arrival/finish. */
  readonly minReallocationInterval?: number;
  /** Seeds the per-round shuffle of GPU types for heterogeneity-agnostic policies. */
  readonly seed?: number;
  /**
   * Stops the run early (the simulator's measurement window and JCT cap, src/sim/stop.ts); without one the engine
   * runs until the source is drained, `maxRounds` or the signal.
   */
  readonly stop?: StopRule;
  readonly maxRounds?: number;
  /** Consecutive failed rounds after which a job is dropped (Gavel: 5). */
  readonly maxFailures?: number;
  /**
   * When nothing can run only because the allocation predates the waiting jobs: true recomputes at once; false
   * (default, as Gavel's simulator) waits for the next arrival or completion. See docs/fidelity.md.
   */
  readonly recomputeWhenIdle?: boolean;
  /**
   * Work-conserving rounds (backfill.ts): GPUs a round leaves idle before its end go to queued jobs at once, by the
   * mechanism's order, without moving leases already handed out. Default false: Gavel's rounds, bit for bit.
   */
  readonly backfill?: boolean;
  readonly observer?: EngineObserver;
  readonly signal?: AbortSignal;
  /**
   * Full table: policies read it, and the engine takes space-sharing pairs' co-located throughputs from it (a pair
   * row of the allocation can run on a type only where the table measures the pair and both jobs may run).
   */
  readonly throughputs?: ThroughputTable;
  /** $/hour per GPU of each type for cost policies, fixed for the run (see `priceFeed` for prices that change). */
  readonly prices?: Readonly<Record<GpuType, number>>;
  /**
   * Prices that change (a spot market's history, a live price file or URL): read every round (prices.ts). The policy
   * sees the prices in force when it is called; a price that moved more than `threshold` (relative) from the one the
   * last allocation used makes the allocation stale, so it is re-solved (after the minimum interval, like any other
   * change); smaller moves do not re-solve. Overrides `prices`. Without it nothing changes.
   */
  readonly priceFeed?: PriceFeed;
  readonly tenantWeights?: Readonly<Record<string, number>>;
  /** Keeps the engine's state across calls (a live server restarting on its store); see `EnginePersistence`. */
  readonly persist?: EnginePersistence;
  /**
   * Keep every job's record and the timeline for the result (default true). A server that runs for months sets
   * false: the engine then holds only what its active jobs need.
   */
  readonly keepHistory?: boolean;
  /**
   * A live server's hooks to keep its event loop free while a round is planned (the simulator sets neither):
   * `allocate` computes the policy's allocation instead of `policy.allocate` (same contract; e.g. on a worker
   * thread), and `pause` is awaited between the stages of a plan (cluster observed, allocation computed, plan
   * made, round booked, state saved) so requests waiting on the loop are served between them; `after` names the
   * stage just done (for the server's timing of its event loop).
   */
  readonly live?: {
    readonly allocate?: (snapshot: PolicySnapshot) => Promise<PolicyResult>;
    readonly pause?: (after: string) => Promise<void>;
  };
  /**
   * Keep the mechanism's queues indexed from round to round (`QueueIndex`; default true). The plans are the same
   * either way; false exists for tests and benchmarks that compare the two.
   */
  readonly queueIndex?: boolean;
  /**
   * Monotonic seconds for the timing statistics (`policySeconds`, `mechanismSeconds`, `executorSeconds`, the
   * `onAllocation` duration). The engine reads no clock of its own: a driver passes its monotonic source (e.g.
   * `performance.now() / 1000`); without one those statistics stay 0. Plans never depend on it.
   */
  readonly stopwatch?: () => number;
}

/** The change budget for a plan made now (`EngineConfig.maxChanges`, read at each plan when it is a function). */
export function changeBudgetNow(cfg: Pick<EngineConfig, 'maxChanges'>): number | undefined {
  return typeof cfg.maxChanges === 'function' ? cfg.maxChanges() : cfg.maxChanges;
}
