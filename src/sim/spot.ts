/**
 * Wiring of a spot/preemptible simulation (issue 23): capacity and price schedules, the tiered throughput table,
 * the spot executor and source, prices for cost-aware policies, and the run's cost summary.
 */
import { RondoError, isSpotType, makeCluster, seededRandom, type ClusterSpec, type GpuType, type Job, type SpotMarket, type ThroughputTable } from '../model/index.js';
import type { Executor, JobSource } from '../engine/types.js';
import type { EngineResult } from '../engine/types.js';
import type { Policy, PolicySnapshot } from '../policies/types.js';
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
   * Which tier each job may use: `any` (default: the policy decides), `on-demand` or `spot` only (the baselines), or
   * `deadline` (Proteus-like: a job runs on spot while it can still meet its deadline there, with revocations
   * expected at the trace's rate and 25% slack; otherwise, or once it falls behind, on on-demand). Jobs without a
   * deadline run on spot under `deadline`.
   */
  readonly strategy?: TierStrategy;
  /** Keep every assignment's span (`SpotRun.usage`), for capacity checks. */
  readonly keepUsage?: boolean;
}

export type TierStrategy = 'any' | 'on-demand' | 'spot' | 'deadline';

export const TIER_STRATEGIES: readonly TierStrategy[] = ['any', 'on-demand', 'spot', 'deadline'];

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
  }

  /**
   * The engine's throughput function under the tier strategy: a job's row with the types of the tier it may not use
   * zeroed, so neither the policy nor the round mechanism (which fills idle GPUs whatever the shares) places it
   * there. The engine asks again at every capacity change, so a `deadline` job moves when it falls behind.
   */
  throughputOf(base: (j: Job) => readonly number[], clock: SimClock): (j: Job) => readonly number[] {
    const strategy = this.input.strategy ?? 'any';
    if (strategy === 'any') return base;
    const types = this.capacity.types;
    const spot = types.map((t) => isSpotType(t));
    return (j) => {
      const row = base(j);
      const tier = strategy === 'deadline' ? this.deadlineTier(j, row, spot, clock.now()) : strategy;
      return row.map((v, k) => (spot[k] === (tier === 'spot') ? v : 0));
    };
  }

  private deadlineTier(j: Job, row: readonly number[], spot: readonly boolean[], now: number): 'spot' | 'on-demand' {
    const job = this.jobs.get(j.id) ?? j;
    if (job.sloFactor === undefined && job.deadlineS === undefined) return 'spot';
    const best = Math.max(0, ...row);
    const total = job.totalSteps ?? (best > 0 ? (job.durationS ?? 0) * best : 0);
    const deadline = job.deadlineS !== undefined ? job.arrivalTime + job.deadlineS : job.arrivalTime + job.sloFactor! * (best > 0 ? total / best : 0);
    const left = this.executor?.remaining.get(j.id) ?? total;
    let spotRate = 0;
    row.forEach((v, k) => {
      if (!spot[k]) return;
      const t = this.capacity.types[k]!;
      const slow = 1 + (this.market.revocationRate[t] ?? 0) * (this.market.lossPerRevocationS / 3600);
      spotRate = Math.max(spotRate, v / slow);
    });
    if (!(spotRate > 0)) return 'on-demand';
    return now + 1.25 * (left / spotRate) <= deadline ? 'spot' : 'on-demand';
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
 * Cost policies read the prices in force at each re-solve. A spot type's price is raised by the expected cost of
 * the work its revocations throw away: price x (1 + rate x loss), rate in revocations per GPU-hour and loss in hours.
 */
export function marketPolicy(policy: Policy, market: SpotMarket): Policy {
  if (!policy.meta.needsPrices) return policy;
  return {
    meta: policy.meta,
    allocate(snapshot: PolicySnapshot) {
      const raw = market.pricesAt(snapshot.now);
      const prices: Record<GpuType, number> = {};
      for (const [t, p] of Object.entries(raw)) prices[t] = p * (1 + (market.revocationRate[t] ?? 0) * (market.lossPerRevocationS / 3600));
      return policy.allocate({ ...snapshot, prices });
    },
  };
}
