/**
 * Everything one `runEngine` call holds between its phases, in one object: the phases (admit.ts, reallocate.ts,
 * plan-round.ts, execute.ts, credit.ts, retire.ts, ...) are functions of it, so what a phase reads and changes is
 * visible in its signature rather than hidden in a closure.
 */
import type { Allocation, Assignment, ClusterSpec, GpuType, Job, RowKey } from '../model/index.js';
import { emptyLedger, QueueIndex, type MechanismRow, type ShareLedger } from '../mechanism/index.js';
import { DEFAULT_MIN_REALLOCATION_INTERVAL_S, DEFAULT_ROUND_DURATION_S, type EngineConfig } from './config.js';
import { PyRandom } from './pyrandom.js';
import type { JobRecord, RoundInfo, SavedJob, StopReason } from './types.js';

/** An admitted, unfinished job. */
export interface Active {
  readonly job: Job;
  readonly rec: JobRecord;
  readonly throughput: readonly number[];
  /** The job's single-job row for the mechanism, built once. */
  readonly row: MechanismRow;
  /** Small integer per (job type, scale factor): the key of the co-located throughput cache (pairs.ts). */
  readonly kind: number;
  /** First contention span not yet added to `rec.activeJobSeconds` (contention.ts). */
  spanFrom: number;
}

/** A space-sharing row of the allocation with the arrival indices of its jobs (its place among the rows). */
export interface PairRow {
  readonly row: MechanismRow;
  readonly late: number;
  readonly early: number;
}

export interface RunState {
  readonly cfg: EngineConfig;

  // Settings fixed for the run.
  /** Seconds per round. */
  readonly roundDuration: number;
  readonly minInterval: number;
  readonly maxFailures: number;
  readonly keepHistory: boolean;
  /** The policy's `onlyAllocatedRowsRun` trait, as the mechanism takes it. */
  readonly skipZeroPriority: boolean;
  /** Heterogeneity-agnostic policies see the GPU types in a new random order every pass (as Gavel). */
  readonly shuffleTypes: boolean;
  readonly rng: PyRandom;
  readonly index: QueueIndex | undefined;
  /** Monotonic seconds for the timing statistics only (`EngineConfig.stopwatch`). */
  readonly stopwatch: () => number;

  // The world as last seen.
  /** Fixed unless the executor observes a changing cluster (`Executor.observe`). */
  cluster: ClusterSpec;
  types: readonly GpuType[];
  readonly startTime: number;
  now: number;

  // Jobs.
  /** Admitted, unfinished jobs in admission (= arrival) order: a Map keeps insertion order. */
  readonly active: Map<string, Active>;
  /** Every id ever admitted (only with `keepHistory`), to refuse duplicates. */
  readonly seen: Set<string>;
  readonly records: JobRecord[];
  admitted: number;
  finishedCount: number;
  /** A restart's saved job bookkeeping, handed back as the source hands the jobs in again (persistence.ts). */
  restoring: Map<string, SavedJob> | undefined;

  // Scheduling state.
  ledger: ShareLedger;
  allocation: Allocation | undefined;
  policyState: unknown;
  /** The allocation predates the current jobs or cluster. */
  stale: boolean;
  /** With `priceFeed`: the prices in force now, and those the current allocation was solved with (prices.ts). */
  pricesNow: Readonly<Record<GpuType, number>> | undefined;
  pricesSolved: Readonly<Record<GpuType, number>> | undefined;
  /** What ran last round (or runs now, as the executor observes it): the mechanism extends these leases. */
  previous: readonly Assignment[];
  round: number;
  /** A round ran since the last scheduling pass (Gavel shuffles once more when the last job of a round leaves). */
  ranRound: boolean;

  // A round's jobs and candidate rows, rebuilt only when a job or a pair row came or went (`rowsVersion`): with
  // thousands of queued jobs, rebuilding them every round cost as much as planning it (pairs.ts).
  rowsVersion: number;
  rowsBuilt: number;
  roundList: Active[];
  roundRows: MechanismRow[];

  // Space sharing (pairs.ts).
  /** Pair rows of the current allocation (both jobs active, a positive share), in Gavel's row order. */
  pairRows: PairRow[];
  readonly kinds: Map<string, number>;
  readonly colocatedCache: Map<number, readonly [number, number] | null>;
  pairRowCache: Map<RowKey, PairRow>;

  // Contention spans not yet added to every job (contention.ts).
  readonly spans: Float64Array;
  spanCount: number;

  // What the result reports.
  readonly timeline: RoundInfo[];
  policyCalls: number;
  policySeconds: number;
  mechanismSeconds: number;
  executorSeconds: number;
  leaseExtensions: number;
  leaseOpportunities: number;
  stopReason: StopReason;
}

export function createState(cfg: EngineConfig): RunState {
  const { policy } = cfg;
  const startTime = cfg.clock.now();
  return {
    cfg,
    roundDuration: cfg.roundDuration ?? DEFAULT_ROUND_DURATION_S,
    minInterval: cfg.minReallocationInterval ?? DEFAULT_MIN_REALLOCATION_INTERVAL_S,
    maxFailures: cfg.maxFailures ?? 5,
    keepHistory: cfg.keepHistory ?? true,
    skipZeroPriority: policy.meta.onlyAllocatedRowsRun === true,
    shuffleTypes: !policy.meta.heterogeneityAware && !policy.meta.spaceSharing,
    // Gavel shuffles the GPU types with Python's random.Random(seed + 5) once per scheduling pass; the same generator
    // and the same number of draws (`typeOrder` in plan-round.ts) replay its choices draw for draw.
    rng: new PyRandom((cfg.seed ?? 0) + 5),
    index: cfg.queueIndex === false ? undefined : new QueueIndex(),
    stopwatch: cfg.stopwatch ?? (() => 0),
    cluster: cfg.cluster,
    types: cfg.cluster.gpuTypes,
    startTime,
    now: startTime,
    active: new Map(),
    seen: new Set(),
    records: [],
    admitted: 0,
    finishedCount: 0,
    restoring: undefined,
    ledger: emptyLedger(cfg.cluster.gpuTypes),
    allocation: undefined,
    policyState: undefined,
    stale: false,
    pricesNow: undefined,
    pricesSolved: undefined,
    previous: [],
    round: 0,
    ranRound: false,
    rowsVersion: 0,
    rowsBuilt: -1,
    roundList: [],
    roundRows: [],
    pairRows: [],
    kinds: new Map(),
    colocatedCache: new Map(),
    pairRowCache: new Map(),
    spans: new Float64Array(1024),
    spanCount: 0,
    timeline: [],
    policyCalls: 0,
    policySeconds: 0,
    mechanismSeconds: 0,
    executorSeconds: 0,
    leaseExtensions: 0,
    leaseOpportunities: 0,
    stopReason: 'drained',
  };
}

/** Lets a live server's event loop serve requests between the stages of a plan (`EngineConfig.live.pause`). */
export function pause(s: RunState, after: string): Promise<void> | undefined {
  return s.cfg.live?.pause?.(after);
}
