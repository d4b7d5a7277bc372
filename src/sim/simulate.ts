/**
 * One simulation: a trace or a generated workload, a cluster, a throughput table and a policy, run through the
 * shared engine with the simulated clock and executor. The CLI (`rondo simulate`, `rondo compare`) and the
 * benchmarks call this; nothing here prints.
 */
import {
  RondoError,
  jobKey,
  type ClusterSpec,
  type GpuType,
  type Job,
  type ThroughputTable,
} from '../model/index.js';
import type { Policy } from '../policies/types.js';
import { runEngine, type EngineConfig } from '../engine/loop.js';
import type { EngineObserver, EngineResult, JobSource } from '../engine/types.js';
import { computeMetrics, type ComputedMetrics } from '../metrics/index.js';
import { SimClock } from './clock.js';
import { SimExecutor } from './executor.js';
import { StreamSource, TraceSource, type JobStream } from './sources.js';
import { workloadStream, type GenerateOptions } from './generate.js';
import { tableThroughputs } from './throughput.js';
import { DynamicBatchModel } from './dynamic.js';
import { TimelineRecorder, type RunTimeline } from './timeline.js';
import { EstimatedThroughputs, type EstimateSettings } from './estimated.js';
import type { TenantReport } from './tenant-accounting.js';
import { WindowStop } from './stop.js';
import { SpotRun, marketPolicy, type SpotInput, type SpotSummary } from './spot.js';

export interface GenerateSpec extends Omit<GenerateOptions, 'throughputs' | 'seed'> {
  /** Stop generating after this many jobs (default: unbounded; the window stops the run). */
  readonly limit?: number;
}

export interface SimulationInput {
  readonly cluster: ClusterSpec;
  readonly throughputs: ThroughputTable;
  readonly policy: Policy;
  /** A trace; exactly one of `jobs` and `generate`. */
  readonly jobs?: readonly Job[];
  readonly generate?: GenerateSpec;
  readonly roundDuration?: number;
  readonly seed?: number;
  /** Measurement window by arrival index [start, end): the run stops when all of these jobs finished. */
  readonly window?: { readonly start: number; readonly end: number };
  /**
   * Hours. Stop once the window's average JCT is certain to exceed this (see `WindowStop`, src/sim/stop.ts); the summary
   * then reports `saturated` and the lower bound `avgJctLowerBoundHours`.
   */
  readonly jctCapHours?: number;
  /** Skip jobs whose (job type, scale factor) has no throughput on any cluster type, instead of failing. */
  readonly dropUnknown?: boolean;
  /** Skip jobs needing more GPUs than any usable type has, instead of failing. */
  readonly skipTooLarge?: boolean;
  /** Spread multi-GPU gangs run at their `_unconsolidated` throughput (off: Gavel's simulator). */
  readonly spreadPenalty?: boolean;
  /** Seconds a (re)started job holds its GPUs without progress (Kubernetes pod start and checkpoint load); 0: none. */
  readonly restartOverhead?: number;
  /** The change budget per round (`EngineConfig.maxChanges`); undefined: no limit. */
  readonly maxChanges?: number;
  /**
   * Jobs in `accordion`/`gns` mode change batch size during training (src/sim/dynamic.ts). Default: on when a
   * trace job has such a mode; false runs every job at its initial batch size.
   */
  readonly dynamicBatchSizes?: boolean;
  readonly minReallocationInterval?: number;
  readonly prices?: Readonly<Record<GpuType, number>>;
  readonly maxRounds?: number;
  readonly recomputeWhenIdle?: boolean;
  /** Work-conserving rounds (`EngineConfig.backfill`; default false, as Gavel). */
  readonly backfill?: boolean;
  /** See `EngineConfig.queueIndex` (default true; the results are the same). */
  readonly queueIndex?: boolean;
  /** Record the per-job timeline (`SimulationOutput.timeline`) when at most this many jobs run (default 0: never). */
  readonly timelineMaxJobs?: number;
  /**
   * The policy sees estimated throughputs (src/sim/estimated.ts: every job unseen, estimates refined by the types it
   * ran on); the executor and the metrics use the table.
   */
  readonly estimateThroughputs?: EstimateSettings;
  readonly observer?: EngineObserver;
  readonly signal?: AbortSignal;
  /**
   * Capacity that comes and goes and prices that change (src/sim/spot.ts): the cluster is the capacity trace's
   * types (`cluster` is ignored), the table gains rows for tiered types, and `SimulationOutput.spot` reports cost.
   */
  readonly spot?: SpotInput;
}

export interface SimulationOutput {
  readonly result: EngineResult;
  readonly metrics: ComputedMetrics;
  /** Ids of jobs skipped before the run, by reason. */
  readonly dropped: { readonly unknown: readonly string[]; readonly tooLarge: readonly string[] };
  readonly wallSeconds: number;
  /** Which GPU type each job ran on, round by round: present when asked for and the run was small enough. */
  readonly timeline?: RunTimeline;
  /** Per-tenant accounting (`rondo simulate --tenants`; see tenant-accounting.ts). */
  readonly tenants?: readonly TenantReport[];
  /** Cost, revocations and SLO misses of a run with `SimulationInput.spot`. */
  readonly spot?: SpotSummary;
  /** The spot run itself (schedules, usage spans), for checks. */
  readonly spotRun?: SpotRun;
}

type Verdict = 'ok' | 'unknown' | 'tooLarge';

function judge(job: Job, tput: readonly number[], cluster: ClusterSpec): Verdict {
  if (!tput.some((v) => v > 0)) return 'unknown';
  const fits = cluster.gpuTypes.some((t, k) => tput[k]! > 0 && (cluster.gpus[t] ?? 0) >= job.scaleFactor);
  return fits ? 'ok' : 'tooLarge';
}

function listIds(jobs: readonly Job[], describe: (j: Job) => string): string {
  const shown = jobs.slice(0, 5).map(describe).join('; ');
  return jobs.length > 5 ? `${shown}; and ${jobs.length - 5} more` : shown;
}

/** Splits a trace into runnable jobs and the ones to skip; throws when skipping was not asked for. */
export function screenJobs(
  jobs: readonly Job[],
  cluster: ClusterSpec,
  throughputOf: (j: Job) => readonly number[],
  opts: { dropUnknown?: boolean; skipTooLarge?: boolean },
): { keep: Job[]; unknown: Job[]; tooLarge: Job[] } {
  const keep: Job[] = [];
  const unknown: Job[] = [];
  const tooLarge: Job[] = [];
  for (const j of jobs) {
    const v = judge(j, throughputOf(j), cluster);
    if (v === 'ok') keep.push(j);
    else if (v === 'unknown') unknown.push(j);
    else tooLarge.push(j);
  }
  if (unknown.length > 0 && !opts.dropUnknown) {
    const keys = [...new Set(unknown.map((j) => jobKey(j.jobType, j.scaleFactor)))];
    throw new RondoError({
      code: 'E_UNKNOWN_JOB_TYPE',
      problem: `${unknown.length} job(s) have no throughput for their (job type, scale factor) on ${cluster.gpuTypes.join('/')}: ${listIds(unknown, (j) => `${j.id} ${j.jobType} x${j.scaleFactor}`)} (${keys.length} distinct keys)`,
      hint: 'pass --drop-unknown to skip them, or give a throughput table that measures them',
    });
  }
  if (tooLarge.length > 0 && !opts.skipTooLarge) {
    throw new RondoError({
      code: 'E_TOO_LARGE',
      problem: `${tooLarge.length} job(s) need more GPUs than any usable GPU type has: ${listIds(tooLarge, (j) => `${j.id} needs ${j.scaleFactor}`)}`,
      hint: 'pass --skip-too-large to skip them, or give a larger cluster',
    });
  }
  return { keep, unknown, tooLarge };
}

/** Filters a generated stream with the same rules as a trace. */
class ScreenedStream implements JobStream {
  readonly unknown: string[] = [];
  readonly tooLarge: string[] = [];
  constructor(
    private readonly inner: JobStream,
    private readonly cluster: ClusterSpec,
    private readonly throughputOf: (j: Job) => readonly number[],
    private readonly opts: { dropUnknown?: boolean; skipTooLarge?: boolean },
  ) {}

  peek(): Job {
    for (;;) {
      const j = this.inner.peek();
      const v = judge(j, this.throughputOf(j), this.cluster);
      if (v === 'ok') return j;
      screenJobs([j], this.cluster, this.throughputOf, this.opts); // throws unless skipping
      this.inner.take();
      (v === 'unknown' ? this.unknown : this.tooLarge).push(j.id);
    }
  }

  take(): Job {
    this.peek();
    return this.inner.take();
  }
}

/** Monotonic seconds for the engine's timing statistics (the engine reads no clock of its own). */
const stopwatch = (): number => performance.now() / 1000;

/** The engine settings a simulation input fixes (everything but the clock, executor, source and throughput functions). */
function engineSettings(input: SimulationInput): Partial<EngineConfig> {
  return {
    ...(input.roundDuration !== undefined ? { roundDuration: input.roundDuration } : {}),
    ...(input.maxChanges !== undefined ? { maxChanges: input.maxChanges } : {}),
    ...(input.minReallocationInterval !== undefined ? { minReallocationInterval: input.minReallocationInterval } : {}),
    ...(input.window ? { stop: new WindowStop(input.window, input.jctCapHours !== undefined ? input.jctCapHours * 3600 : undefined) } : {}),
    ...(input.maxRounds !== undefined ? { maxRounds: input.maxRounds } : {}),
    ...(input.recomputeWhenIdle !== undefined ? { recomputeWhenIdle: input.recomputeWhenIdle } : {}),
    ...(input.backfill ? { backfill: true } : {}),
    ...(input.queueIndex !== undefined ? { queueIndex: input.queueIndex } : {}),
    ...(input.prices ? { prices: input.prices } : {}),
  };
}

export async function simulate(input: SimulationInput): Promise<SimulationOutput> {
  const t0 = performance.now();
  const seed = input.seed ?? 0;
  const spot = input.spot ? new SpotRun(input.spot, input.throughputs, seed) : undefined;
  const throughputs = spot ? spot.table : input.throughputs;
  const policy = spot ? marketPolicy(input.policy, spot.market, input.spot!.strategy) : input.policy;
  if ((input.jobs === undefined) === (input.generate === undefined)) {
    throw new RondoError({ code: 'E_USAGE', problem: 'give either a trace or a workload to generate, not both or neither' });
  }
  const clock = new SimClock(0);
  const cluster = spot ? spot.cluster() : input.cluster;
  const throughputOf = tableThroughputs(throughputs, cluster);
  const useDynamic = !spot && (input.dynamicBatchSizes ?? !!input.jobs?.some((j) => j.mode === 'accordion' || j.mode === 'gns'));
  const dynamic = useDynamic ? new DynamicBatchModel(throughputs, cluster, (j) => j.totalSteps ?? 0) : undefined;
  // With spot capacity the workers keep their own clock: the spot executor moves the run's clock to where the round
  // really ended (revocations end runs early).
  const simExecutor = new SimExecutor(spot ? new SimClock(0) : clock, throughputs, { spreadPenalty: !!input.spreadPenalty, ...(dynamic ? { dynamic } : {}), ...(input.restartOverhead ? { restartOverhead: input.restartOverhead } : {}) });
  const recorder = (input.timelineMaxJobs ?? 0) > 0 ? new TimelineRecorder(simExecutor, cluster.gpuTypes, input.timelineMaxJobs!) : undefined;
  const estimated = input.estimateThroughputs ? new EstimatedThroughputs(throughputs, input.estimateThroughputs) : undefined;
  const observed = estimated ? estimated.observe(recorder ?? simExecutor) : (recorder ?? simExecutor);
  const executor = spot ? spot.wrapExecutor(clock, observed) : observed;
  const policyRow = estimated ? (j: Job): readonly number[] => estimated.row(j, throughputOf(j), cluster) : throughputOf;
  let source: JobSource;
  let unknown: string[] = [];
  let tooLarge: string[] = [];
  let screened: ScreenedStream | undefined;
  if (input.jobs) {
    const s = screenJobs(input.jobs, cluster, throughputOf, input);
    unknown = s.unknown.map((j) => j.id);
    tooLarge = s.tooLarge.map((j) => j.id);
    source = new TraceSource(s.keep);
  } else {
    const g = input.generate!;
    if (!input.window && g.limit === undefined && input.maxRounds === undefined) {
      throw new RondoError({ code: 'E_USAGE', problem: 'a generated workload needs a window (or a job limit) to stop', hint: 'e.g. --window 4000:5000' });
    }
    screened = new ScreenedStream(workloadStream({ ...g, seed, throughputs: input.throughputs }), cluster, throughputOf, input);
    source = new StreamSource(screened, g.limit);
  }
  if (spot) source = spot.wrapSource(source, clock);
  const result = await runEngine({
    cluster,
    policy: estimated ? estimated.wrapPolicy(policy) : policy,
    clock,
    executor,
    source,
    throughputOf,
    ...(dynamic
      ? { currentThroughputOf: (j: Job, done: number) => dynamic.currentRow(j, done, policyRow(j)) }
      : estimated
        ? { currentThroughputOf: (j: Job) => policyRow(j) }
        : {}),
    throughputs,
    seed,
    stopwatch,
    ...engineSettings(input),
    ...(spot ? { priceFeed: spot.priceFeed } : {}),
    ...(input.observer ? { observer: input.observer } : {}),
    ...(input.signal ? { signal: input.signal } : {}),
  });
  if (screened) {
    unknown = screened.unknown;
    tooLarge = screened.tooLarge;
  }
  const byId = new Map<string, readonly number[]>();
  const traceJob = dynamic && input.jobs ? new Map(input.jobs.map((j) => [j.id, j] as const)) : undefined;
  const metrics = computeMetrics(
    result,
    (rec) => {
      // A job whose batch size changed is measured against its whole-job average throughput.
      const tj = traceJob?.get(rec.id);
      if (tj && dynamic?.isDynamic(tj)) return dynamic.averageRow(tj, throughputOf(tj));
      let t = byId.get(rec.jobType + '|' + rec.scaleFactor);
      if (!t) {
        t = throughputOf({ id: rec.id, jobType: rec.jobType, scaleFactor: rec.scaleFactor, arrivalTime: 0, totalSteps: 1, priorityWeight: 1 });
        byId.set(rec.jobType + '|' + rec.scaleFactor, t);
      }
      return t;
    },
    { ...(input.window ? { window: input.window } : {}), ...(input.prices ? { prices: input.prices } : {}) },
  );
  const timeline = recorder && result.stopReason !== 'aborted' ? recorder.timeline(result.jobs.map((j) => j.id)) : undefined;
  const spotSummary = spot?.summary(result, throughputOf);
  return {
    result, metrics, dropped: { unknown, tooLarge }, wallSeconds: (performance.now() - t0) / 1000,
    ...(timeline ? { timeline } : {}), ...(spot ? { spot: spotSummary!, spotRun: spot } : {}),
  };
}
