/**
 * Wiring of a spot/preemptible simulation (issue 23): capacity and price schedules, the tiered throughput table,
 * the spot executor and source, prices for cost-aware policies, and the run's cost summary.
 */
import { RondoError, makeCluster, seededRandom, type ClusterSpec, type GpuType, type Job, type SpotMarket, type ThroughputTable } from '../model/index.js';
import type { Executor, JobSource } from '../engine/types.js';
import type { EngineResult } from '../engine/types.js';
import type { Policy, PolicySnapshot } from '../policies/types.js';
import { withStrategy } from '../policies/spot-tiers.js';
import type { PriceFeed } from '../engine/config.js';
import type { CapacityTrace, PriceTrace } from '../io/index.js';
import { CapacitySchedule, PriceSchedule } from './capacity.js';
import { CapacityAwareSource, SpotExecutor, checkpointFactor, type CheckpointModel, type UsageSpan } from './spot-executor.js';
import { DEFAULT_GPU_MAP, tieredTable, type RowMapping } from './spot-table.js';
import type { SimClock } from './clock.js';


export interface SpotInput {
  readonly capacity: CapacityTrace;
  readonly prices: PriceTrace;
  /** File names, for error messages. */
  readonly pricesFile?: string;
  /** Default: checkpoints only at planned preemptions. */
  readonly checkpoint?: CheckpointModel;
  /** Repeat the capacity trace with this period (seconds). */
  readonly loopS?: number;
  /** Rows for cards without a throughput row (default `DEFAULT_GPU_MAP`). */
  readonly gpuMap?: Readonly<Record<GpuType, RowMapping>>;
  /**
   * Give jobs without an SLO one of these SLO factors (deadline = factor x the job's duration alone on its fastest
   * type), drawn with the run's seed, as Gavel's cost-with-SLO experiments do (1.2, 2, 10).
   */
  readonly sloFactors?: readonly number[];
  /**
   * `--spot-strategy`, an alias for the tier policies (src/policies/spot-tiers.ts) over any policy: `any` (default:
   * the policy decides), `on-demand` or `spot` only (the baselines `on_demand_only`, `spot_only` over LAS), or
   * `deadline` (Proteus-like, `spot_deadline`).
   */
  readonly strategy?: TierStrategy;
  /**
   * Relative price move that re-solves the allocation (the engine's price feed, src/engine/prices.ts); default
   * `DEFAULT_REPRICE_THRESHOLD`.
   */
  readonly repriceThreshold?: number;
  /** Keep every assignment's span (`SpotRun.usage`), for capacity checks. */
  readonly keepUsage?: boolean;
}

export type TierStrategy = 'any' | 'on-demand' | 'spot' | 'deadline';

export const TIER_STRATEGIES: readonly TierStrategy[] = ['any', 'on-demand', 'spot', 'deadline'];

/** A price 10% above or below the one the allocation was solved with re-solves it. */
export const DEFAULT_REPRICE_THRESHOLD = 0.1;

export interface SpotSummary {
  readonly totalCost: number;
  readonly costByType: Readonly<Record<GpuType, number>>;
  readonly completedJobs: number;
  /** Total cost / completed jobs (null when none completed). */
  readonly costPerCompletedJob: number | null;
  readonly revocations: number;
  readonly lostGpuHours: number;
  readonly busyGpuHoursByType: Readonly<Record<GpuType, number>>;
  /** Jobs with a deadline, and those that finished after it (or never finished). */
  readonly jobsWithSlo: number;
  readonly sloMisses: number;
  readonly sloMissRate: number | null;
  /** Mean revocations per GPU-hour of available capacity per spot type, over the capacity trace. */
  readonly revocationRate: Readonly<Record<GpuType, number>>;
}

export class SpotRun {
  readonly capacity: CapacitySchedule;
  readonly prices: PriceSchedule;
  readonly table: ThroughputTable;
  readonly checkpoint: CheckpointModel;
  readonly market: SpotMarket;
  private executor: SpotExecutor | undefined;
  private readonly jobs = new Map<string, Job>();

  /** The engine's price feed: the prices in force, and the move that re-solves. */
  readonly priceFeed: PriceFeed;

  constructor(readonly input: SpotInput, base: ThroughputTable, private readonly seed: number) {
    this.prices = new PriceSchedule(input.prices);
    // Cheapest first at the start: Gavel's round mechanism fills idle GPUs in type order whatever the shares, so
    // the order decides which tier a work-conserving round spends on.
    this.capacity = new CapacitySchedule(input.capacity, input.loopS, (t) => this.prices.priceAt(t, 0));
    this.prices.check(this.capacity.types, input.pricesFile ?? '<prices>');
    this.checkpoint = input.checkpoint ?? { intervalS: Infinity, costS: 0 };
    if (!(this.checkpoint.intervalS > 0) || !(this.checkpoint.costS >= 0)) {
      throw new RondoError({ code: 'E_USAGE', problem: 'checkpoint interval must be > 0 and cost >= 0', hint: 'e.g. --checkpoint-interval 1800 --checkpoint-cost 30' });
    }
    this.table = tieredTable(base, this.capacity.types, input.gpuMap ?? DEFAULT_GPU_MAP, checkpointFactor(this.checkpoint));
    const types = this.capacity.types;
    const prices = this.prices;
    const restart = Number.isFinite(this.checkpoint.intervalS) ? this.checkpoint.intervalS / 2 : 3600;
    this.market = {
      pricesAt: (t) => prices.pricesAt(types, t),
      revocationRate: this.capacity.revocationRates(),
      lossPerRevocationS: restart,
    };
    const threshold = input.repriceThreshold ?? DEFAULT_REPRICE_THRESHOLD;
    if (!(threshold >= 0)) throw new RondoError({ code: 'E_USAGE', problem: 'bad --reprice-threshold', expected: 'a relative move >= 0, e.g. 0.1 for 10%', found: String(threshold) });
    this.priceFeed = { pricesAt: (t) => prices.pricesAt(types, t), threshold };
  }

  /** The cluster at its largest: what the engine starts from and jobs are screened against. */
  cluster(): ClusterSpec {
    const max = this.capacity.maxCounts();
    return makeCluster(this.capacity.types.map((t) => [t, max[t]!] as [string, number]), 1);

  }

  wrapExecutor(clock: SimClock, inner: Executor): SpotExecutor {
    this.executor = new SpotExecutor(clock, inner, this.capacity, this.prices, this.checkpoint, !!this.input.keepUsage, this.seed);
    return this.executor;
  }

  wrapSource(inner: JobSource, clock: SimClock): JobSource {
    const withSlo: JobSource = {
      poll: async (now) => {
        const got = await inner.poll(now);
        return got.map((j) => {
          const out = this.withSlo(j);
          this.jobs.set(out.id, out);
          return out;
        });
      },
      nextArrival: () => inner.nextArrival(),
      exhausted: () => inner.exhausted(),
    };
    return new CapacityAwareSource(withSlo, this.executorOrThrow(), clock);
  }

  private withSlo(j: Job): Job {
    const f = this.input.sloFactors;
    if (!f || f.length === 0 || j.sloFactor !== undefined || j.deadlineS !== undefined) return j;
    const r = seededRandom(this.seed * 1_000_003 + hashId(j.id))();
    return { ...j, sloFactor: f[Math.min(f.length - 1, Math.floor(r * f.length))]! };
  }

  get usage(): readonly UsageSpan[] {
    return this.executorOrThrow().usage;
  }

  private executorOrThrow(): SpotExecutor {
    if (!this.executor) throw new RondoError({ code: 'E_INVALID', problem: 'spot run: executor not built yet' });
    return this.executor;
  }

  summary(result: EngineResult, throughputOf: (j: Job) => readonly number[]): SpotSummary {
    const acc = this.executorOrThrow().accounting;
    const done = result.jobs.filter((j) => j.finishTime !== undefined);
    let withSlo = 0;
    let misses = 0;
    for (const rec of result.jobs) {
      const job = this.jobs.get(rec.id);
      if (!job || (job.sloFactor === undefined && job.deadlineS === undefined)) continue;
      withSlo++;
      let deadline: number;
      if (job.deadlineS !== undefined) deadline = job.arrivalTime + job.deadlineS;
      else {
        const best = Math.max(0, ...throughputOf(job));
        deadline = job.arrivalTime + job.sloFactor! * (best > 0 ? rec.totalSteps / best : 0);
      }
      if (rec.finishTime === undefined || rec.finishTime > deadline + 1e-6) misses++;
    }
    const busy: Record<GpuType, number> = {};
    for (const [t, s] of Object.entries(acc.busyByType)) busy[t] = s / 3600;
    const rates: Record<GpuType, number> = {};
    for (const [t, r] of Object.entries(this.market.revocationRate)) if (r > 0) rates[t] = r;
    return {
      totalCost: acc.totalCost,
      costByType: { ...acc.costByType },
      completedJobs: done.length,
      costPerCompletedJob: done.length > 0 ? acc.totalCost / done.length : null,
      revocations: acc.revocations,
      lostGpuHours: acc.lostGpuSeconds / 3600,
      busyGpuHoursByType: busy,
      jobsWithSlo: withSlo,
      sloMisses: misses,
      sloMissRate: withSlo > 0 ? misses / withSlo : null,
      revocationRate: rates,
    };
  }
}

function hashId(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The policy of a spot run: restricted by `--spot-strategy` (an alias for the tier policies), and told the market's
 * revocation rates, from which cost and tier policies discount a spot type's expected throughput
 * (src/policies/revocation.ts). The prices in force come from the engine's price feed.
 */
export function marketPolicy(policy: Policy, market: SpotMarket, strategy: TierStrategy = 'any'): Policy {
  const inner = withStrategy(policy, strategy);
  const revocation = { ratePerGpuHour: market.revocationRate, lossS: market.lossPerRevocationS };
  return {
    meta: inner.meta,
    allocate: (snapshot: PolicySnapshot) => inner.allocate({ ...snapshot, revocation }),
  };
}
