/**
 * The scheduler loop shared by the simulator and the real server. Each iteration (one round):
 *   1. admit the jobs that arrived (their rows enter the bookkeeping; the allocation is marked stale);
 *   2. if the allocation is stale and the minimum interval since the last recompute has passed (Gavel: 1920 s), start
 *      a new accounting period and ask the policy for a new allocation (its opaque state is kept here);
 *   3. ask the mechanism for a round plan; run it through the executor; credit run times, count steps, retire
 *      finished jobs (which marks the allocation stale again).
 * When nothing can run, the loop sleeps until the next known arrival (a simulated clock jumps there).
 */
import type { Allocation, Assignment, ClusterSpec, GpuType, Job, RowKey, ThroughputTable } from '../model/index.js';
import { RondoError, colocatedThroughput, jobKey, pairKey, policyJob, rowJobs, rowKeyOf } from '../model/index.js';
import type { Policy, PolicyJob, PolicyResult, PolicySnapshot } from '../policies/types.js';
import {
  addRows,
  copyLedger,
  creditRuns,
  emptyLedger,
  planRound,
  QueueIndex,
  removeJobs,
  removeRows,
  resetLedger,
  retypeLedger,
  type MechanismRow,
  type RunCredit,
  type ShareLedger,
} from '../mechanism/index.js';
import type { Clock, EngineObserver, EnginePersistence, EngineState, ExecJob, Executor, JobProgress, JobSource, RoundInfo, SavedJob } from './types.js';
import { PyRandom } from './pyrandom.js';

/** Gavel's `minimum_time_between_allocation_resets`. */
export const DEFAULT_MIN_REALLOCATION_INTERVAL_S = 1920;
export const DEFAULT_ROUND_DURATION_S = 360;

export interface EngineConfig {
  readonly cluster: ClusterSpec;
  readonly policy: Policy;
  readonly clock: Clock;
  readonly executor: Executor;
  readonly source: JobSource;
  /** Seconds per round (Gavel: 360). */
  readonly roundDuration?: number;
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
  /** Stop once every job with arrival index in [start, end) has finished (Gavel's measurement window). */
  readonly window?: { readonly start: number; readonly end: number };
  /**
   * Seconds. Stop as soon as the window's average JCT is certain to exceed this (a saturated operating point whose
   * queue only grows): an arrived, unfinished window job has JCT >= now - arrival, and the average divides by the
   * whole window size. Saves the hours a sweep would spend draining a queue that is off the chart anyway.
   */
  readonly jctCap?: number;
  readonly maxRounds?: number;
  /** Consecutive failed rounds after which a job is dropped (Gavel: 5). */
  readonly maxFailures?: number;
  /**
   * When nothing can run only because the allocation predates the waiting jobs: true recomputes at once; false
   * (default, as Gavel's simulator) waits for the next arrival or completion. See docs/fidelity.md.
   */
  readonly recomputeWhenIdle?: boolean;
  readonly observer?: EngineObserver;
  readonly signal?: AbortSignal;
  /**
   * Full table: policies read it, and the engine takes space-sharing pairs' co-located throughputs from it (a pair
   * row of the allocation can run on a type only where the table measures the pair and both jobs may run).
   */
  readonly throughputs?: ThroughputTable;
  readonly prices?: Readonly<Record<GpuType, number>>;
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
   * made) so requests waiting on the loop are served between them.
   */
  readonly live?: {
    readonly allocate?: (snapshot: PolicySnapshot) => Promise<PolicyResult>;
    readonly pause?: () => Promise<void>;
  };
  /**
   * Keep the mechanism's queues indexed from round to round (`QueueIndex`; default true). The plans are the same
   * either way; false exists for tests and benchmarks that compare the two.
   */
  readonly queueIndex?: boolean;
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

interface Active {
  readonly job: Job;
  readonly rec: JobRecord;
  readonly throughput: readonly number[];
  /** The job's single-job row for the mechanism, built once. */
  readonly row: MechanismRow;
  /** Small integer per (job type, scale factor): the key of the co-located throughput cache. */
  readonly kind: number;
  /** First contention span not yet added to `rec.activeJobSeconds` (see `addSpan`). */
  spanFrom: number;
}

/** A space-sharing row of the allocation with the arrival index of its later job (its place among the rows). */
interface PairRow {
  readonly row: MechanismRow;
  readonly late: number;
  readonly early: number;
}

function defaultTotalSteps(cluster: ClusterSpec, throughputOf: (j: Job) => readonly number[]) {
  return (job: Job): number => {
    if (job.totalSteps !== undefined) return job.totalSteps;
    const ref = job.referenceGpuType ?? 'v100';
    const k = cluster.gpuTypes.indexOf(ref);
    const tput = throughputOf(job);
    const t = k >= 0 ? tput[k]! : Math.max(...tput);
    if (!(t > 0)) {
      throw new RondoError({
        code: 'E_INVALID',
        problem: `job ${job.id} has only a duration and no throughput on its reference type ${ref}`,
        hint: 'give totalSteps, or a reference GPU type the throughput table measures',
      });
    }
    return (job.durationS ?? 0) * t;
  };
}

function nowSeconds(): number {
  return performance.now() / 1000;
}

/** Runs the scheduler until the source is drained (or the window completes, or it is aborted). */
export async function runEngine(cfg: EngineConfig): Promise<EngineResult> {
  const { policy, clock, executor, source } = cfg;
  // Fixed unless the executor observes a changing cluster (`Executor.observe`).
  let cluster = cfg.cluster;
  const D = cfg.roundDuration ?? DEFAULT_ROUND_DURATION_S;
  const minInterval = cfg.minReallocationInterval ?? DEFAULT_MIN_REALLOCATION_INTERVAL_S;
  const maxFailures = cfg.maxFailures ?? 5;
  const totalStepsOf = cfg.totalStepsOf ?? defaultTotalSteps(cluster, (j) => cfg.throughputOf(j, cluster));
  let types = cluster.gpuTypes;
  const keepHistory = cfg.keepHistory ?? true;
  const pause = cfg.live?.pause;
  const skipZeroPriority = policy.meta.name.toLowerCase().startsWith('fifo');
  const shuffleTypes = !policy.meta.heterogeneityAware && !policy.meta.spaceSharing;
  // Gavel shuffles the GPU types with Python's random.Random(seed + 5) once per scheduling pass; the same generator
  // and the same number of draws (see `typeOrder` calls below) replay its choices draw for draw.
  const rng = new PyRandom((cfg.seed ?? 0) + 5);
  let ranRound = false;
  const index = cfg.queueIndex === false ? undefined : new QueueIndex();

  const active = new Map<string, Active>();
  const seen = new Set<string>();
  const records: JobRecord[] = [];
  const timeline: RoundInfo[] = [];
  let ledger: ShareLedger = emptyLedger(types);
  let allocation: Allocation | undefined;
  /** Space-sharing rows of the current allocation (both jobs active, a positive share), in Gavel's row order. */
  let pairRows: PairRow[] = [];
  let policyState: unknown;
  let stale = false;
  let previous: readonly Assignment[] = [];
  let round = 0;
  let policyCalls = 0;
  let policySeconds = 0;
  let mechanismSeconds = 0;
  let executorSeconds = 0;
  let leaseExtensions = 0;
  let leaseOpportunities = 0;
  let finishedCount = 0;
  let windowLeft = cfg.window ? Math.max(0, cfg.window.end - cfg.window.start) : -1;
  let stopReason: StopReason = 'drained';
  let admitted = 0;
  const startTime = clock.now();
  let now = startTime;

  // A restart: go on with the saved ledger, allocation, policy state and round; jobs get their bookkeeping back as
  // the source hands them in again.
  const saved = cfg.persist ? await cfg.persist.load() : undefined;
  let restoring: Map<string, SavedJob> | undefined;
  if (saved) {
    round = saved.round;
    ledger = saved.ledger.gpuTypes.join('\n') === types.join('\n') ? saved.ledger : retypeLedger(saved.ledger, types, D);
    allocation = saved.allocation;
    policyState = saved.policyState;
    stale = saved.stale;
    restoring = new Map(saved.jobs.map((j) => [j.id, j]));
  }

  const save = async (): Promise<void> => {
    if (!cfg.persist) return;
    const jobs: SavedJob[] = [];
    for (const a of active.values()) {
      const r = a.rec;
      jobs.push({ id: r.id, stepsDone: r.stepsDone, totalSteps: r.totalSteps, roundsRun: r.roundsRun, preemptions: r.preemptions, failures: r.failures });
    }
    // The ledger is updated in place from round to round; the store may write the state later.
    const state: EngineState = { round, ledger: copyLedger(ledger), allocation, policyState, stale, jobs };
    await cfg.persist.save(state);
  };

  /** Takes the cluster the executor has now; a different one makes the allocation stale (Gavel: a worker joined). */
  const adopt = (next: ClusterSpec): void => {
    if (sameCluster(cluster, next)) return;
    const before = types;
    cluster = next;
    types = next.gpuTypes;
    if (before.join('\n') !== types.join('\n')) {
      ledger = retypeLedger(ledger, types, D);
      for (const a of active.values()) a.rec.runSeconds = types.map((t) => a.rec.runSeconds[before.indexOf(t)] ?? 0);
    }
    for (const [id, a] of active) {
      const throughput = cfg.throughputOf(a.job, cluster);
      active.set(id, { ...a, throughput, row: { ...a.row, throughput } });
    }
    colocatedCache.clear();
    pairRowCache.clear();
    if (allocation) pairRows = pairRowsOf(allocation);
    rowsVersion++;
    stale = true;
  };

  // Contention spans (active jobs x seconds) since the last flush. Every job active during a span adds it to its
  // activeJobSeconds; doing that lazily (`settle`, when the job leaves or the buffer fills) makes the same additions
  // in the same order as adding each span to every active job at once, without a pass over every queued job per round.
  const spans = new Float64Array(1024);
  let spanCount = 0;
  const settle = (a: Active): void => {
    let acc = a.rec.activeJobSeconds;
    for (let i = a.spanFrom; i < spanCount; i++) acc += spans[i]!;
    a.rec.activeJobSeconds = acc;
    a.spanFrom = spanCount;
  };
  const addSpan = (v: number): void => {
    if (spanCount === spans.length) {
      for (const a of active.values()) {
        settle(a);
        a.spanFrom = 0;
      }
      spanCount = 0;
    }
    spans[spanCount++] = v;
  };

  const inWindow = (i: number): boolean => !!cfg.window && i >= cfg.window.start && i < cfg.window.end;

  // For `jctCap`: window jobs that arrived and are unfinished (count, sum of arrival times), and the JCTs of those
  // that finished. Failed and cancelled jobs have no JCT and leave both sums.
  const windowSize = cfg.window ? Math.max(0, cfg.window.end - cfg.window.start) : 0;
  let windowOpen = 0;
  let windowOpenArrivals = 0;
  let windowJctSum = 0;
  const closeWindowJob = (rec: JobRecord): void => {
    if (!inWindow(rec.index)) return;
    windowOpen--;
    windowOpenArrivals -= rec.arrivalTime;
    if (rec.finishTime !== undefined) windowJctSum += rec.finishTime - rec.arrivalTime;
  };
  const overJctCap = (): boolean =>
    cfg.jctCap !== undefined && windowSize > 0 && (windowJctSum + windowOpen * now - windowOpenArrivals) / windowSize > cfg.jctCap;

  const admit = (jobs: readonly Job[]): void => {
    if (jobs.length === 0) return;
    for (const job of jobs) {
      if (keepHistory ? seen.has(job.id) : active.has(job.id)) {
        throw new RondoError({ code: 'E_DUPLICATE', problem: `job ${job.id} submitted twice` });
      }
      if (keepHistory) seen.add(job.id);
      const throughput = cfg.throughputOf(job, cluster);
      const back = restoring?.get(job.id);
      const rec: JobRecord = {
        id: job.id,
        index: admitted++,
        jobType: job.jobType,
        scaleFactor: job.scaleFactor,
        arrivalTime: job.arrivalTime,
        totalSteps: back?.totalSteps ?? totalStepsOf(job),
        stepsDone: back?.stepsDone ?? 0,
        finishTime: undefined,
        runSeconds: types.map(() => 0),
        roundsRun: back?.roundsRun ?? 0,
        preemptions: back?.preemptions ?? 0,
        failures: back?.failures ?? 0,
        failed: false,
        cancelled: false,
        activeJobSeconds: 0,
      };
      if (keepHistory) records.push(rec);
      if (inWindow(rec.index)) {
        windowOpen++;
        windowOpenArrivals += rec.arrivalTime;
      }
      const kk = jobKey(job.jobType, job.scaleFactor);
      let kind = kinds.get(kk);
      if (kind === undefined) kinds.set(kk, (kind = kinds.size));
      const row = { key: job.id, jobIds: [job.id], scaleFactor: job.scaleFactor, throughput };
      active.set(job.id, { job, rec, throughput, row, kind, spanFrom: spanCount });
      rowsVersion++;
      cfg.observer?.onJobArrived?.(job.id, job.arrivalTime);
    }
    ledger = addRows(ledger, jobs.map((j) => j.id), D);
    stale = true;
  };

  const recompute = async (): Promise<void> => {
    ledger = resetLedger(ledger, allocation, now, D);
    const jobs: PolicyJob[] = [];
    for (const a of orderedActive()) {
      const j = a.job;
      jobs.push(
        policyJob(j, {
          throughput: cfg.currentThroughputOf ? cfg.currentThroughputOf(j, a.rec.stepsDone, cluster) : a.throughput,
          totalSteps: a.rec.totalSteps,
          remainingSteps: Math.max(0, a.rec.totalSteps - a.rec.stepsDone),
          isolatedThroughput: a.throughput,
        }),
      );
    }
    const snapshot: PolicySnapshot = {
      now,
      cluster,
      jobs,
      ...(cfg.throughputs ? { throughputs: cfg.throughputs } : {}),
      ...(cfg.prices ? { prices: cfg.prices } : {}),
      ...(cfg.tenantWeights ? { tenantWeights: cfg.tenantWeights } : {}),
      state: policyState,
    };
    const t0 = nowSeconds();
    const res = cfg.live?.allocate ? await cfg.live.allocate(snapshot) : policy.allocate(snapshot);
    const dt = nowSeconds() - t0;
    policyCalls++;
    policySeconds += dt;
    allocation = res.allocation;
    policyState = res.state;
    stale = false;
    pairRows = pairRowsOf(allocation);
    rowsVersion++;
    // A pair enters the bookkeeping when an allocation first gives it a share, seeded like a new job (Gavel creates
    // pair entries at arrival and re-seeds them at every reset, which is the state they have here).
    ledger = addRows(ledger, pairRows.map((r) => r.row.key), D);
    cfg.observer?.onAllocation?.(now, allocation.shares.size, dt);
  };

  // Active jobs in arrival order (Map keeps insertion order = admission order).
  const orderedActive = (): Active[] => [...active.values()];
  // A round's jobs and candidate rows, rebuilt only when a job or a pair row came or went (`rowsVersion`): with
  // thousands of queued jobs, rebuilding them every round cost as much as planning it.
  let rowsVersion = 0;
  let rowsBuilt = -1;
  let roundList: Active[] = [];
  let roundRows: MechanismRow[] = [];

  // Co-located throughputs depend only on the two jobs' (type, scale factor) kinds and the GPU type: cached under a
  // number, because pair rows are rebuilt at every recompute of a space-sharing allocation.
  const kinds = new Map<string, number>();
  const colocatedCache = new Map<number, readonly [number, number] | null>();
  /** Co-located throughputs of a and b on type index k, `[a's, b's]`, from whichever direction the table stores. */
  const colocated = (k: number, a: Active, b: Active): readonly [number, number] | null => {
    const table = cfg.throughputs;
    if (!table) return null;
    const cacheKey = (a.kind * 1_048_576 + b.kind) * 64 + k;
    const hit = colocatedCache.get(cacheKey);
    if (hit !== undefined) return hit;
    const t = types[k]!;
    const ka = jobKey(a.job.jobType, a.job.scaleFactor);
    const kb = jobKey(b.job.jobType, b.job.scaleFactor);
    const ab = colocatedThroughput(table, t, ka, kb);
    const ba = ab ? undefined : colocatedThroughput(table, t, kb, ka);
    const v: readonly [number, number] | null = ab ?? (ba ? [ba[1], ba[0]] : null);
    colocatedCache.set(cacheKey, v);
    return v;
  };

  /** Pair rows of the last allocation: successive recomputes mostly hand out the same pairs again. */
  let pairRowCache = new Map<RowKey, PairRow>();
  const pairRowOf = (key: RowKey, a: Active, b: Active, next: Map<RowKey, PairRow>): PairRow => {
    const cached = pairRowCache.get(key);
    if (cached) {
      next.set(key, cached);
      return cached;
    }
    if (a.job.scaleFactor !== b.job.scaleFactor) {
      throw new RondoError({
        code: 'E_INVALID',
        problem: `policy ${policy.meta.name} pairs jobs ${a.job.id} (${a.job.scaleFactor} GPUs) and ${b.job.id} (${b.job.scaleFactor} GPUs)`,
        expected: 'space-sharing pairs of jobs with the same scale factor',
      });
    }
    const throughput = types.map((_, k) => {
      if (!(a.throughput[k]! > 0 && b.throughput[k]! > 0)) return 0;
      const c = colocated(k, a, b);
      return c && c[0] > 0 && c[1] > 0 ? c[0] + c[1] : 0;
    });
    const [early, late] = a.rec.index < b.rec.index ? [a.rec.index, b.rec.index] : [b.rec.index, a.rec.index];
    const row: PairRow = { row: { key, jobIds: rowJobs(key), scaleFactor: a.job.scaleFactor, throughput }, late, early };
    next.set(key, row);
    return row;
  };

  /**
   * Pair rows of an allocation, in the order Gavel's priority lists hold them: a pair follows the single row of its
   * later-arriving job, pairs of one job by their other job's arrival. Rows with no positive share are left out (Gavel
   * would only start them on GPUs left idle by every row with a share; see docs/architecture.md).
   */
  const pairRowsOf = (alloc: Allocation): PairRow[] => {
    const out: PairRow[] = [];
    const next = new Map<RowKey, PairRow>();
    for (const [key, share] of alloc.shares) {
      const plus = key.indexOf('+');
      if (plus < 0 || key.indexOf('+', plus + 1) >= 0 || !share.some((v) => v > 0)) continue;
      const a = active.get(key.slice(0, plus));
      const b = active.get(key.slice(plus + 1));
      if (!a || !b) continue;
      out.push(pairRowOf(pairKey(a.job.id, b.job.id), a, b, next));
    }
    pairRowCache = next;
    out.sort((x, y) => x.late - y.late || x.early - y.early);
    return out;
  };

  /** Candidate rows of a round: every active job, each followed by its pairs that are still runnable. */
  const rowsOf = (list: readonly Active[]): MechanismRow[] => {
    if (pairRows.length === 0) return list.map((a) => a.row);
    const pairs = pairRows.filter((r) => r.row.jobIds.every((j) => active.has(j)));
    pairRows = pairs;
    const rows: MechanismRow[] = [];
    let p = 0;
    for (const a of list) {
      rows.push(a.row);
      while (p < pairs.length && pairs[p]!.late === a.rec.index) rows.push(pairs[p++]!.row);
    }
    return rows;
  };

  const typeOrder = (): readonly GpuType[] => (shuffleTypes ? rng.shuffle([...types]) : types);

  /** Waiting span with active jobs and nothing running: counts toward every active job's contention. */
  const wait = async (until: number): Promise<void> => {
    const n = active.size;
    const from = now;
    await clock.sleepUntil(until, cfg.signal);
    now = Math.max(clock.now(), now);
    if (n > 0 && now > from) {
      addSpan(n * (now - from));
      if (keepHistory) timeline.push({ round: -1, start: from, end: now, activeJobs: n, runningJobs: 0, finishedJobs: finishedCount, busyGpuSeconds: types.map(() => 0) });
    }
  };

  const cancel = async (): Promise<void> => {
    if (!source.takeCancelled) return;
    const ids = await source.takeCancelled();
    const gone: string[] = [];
    for (const id of ids) {
      const act = active.get(id);
      if (!act) continue;
      act.rec.cancelled = true;
      settle(act);
      active.delete(id);
      rowsVersion++;
      gone.push(id);
      finishedCount++;
      if (windowLeft > 0 && inWindow(act.rec.index)) windowLeft--;
      closeWindowJob(act.rec);
      cfg.observer?.onJobRemoved?.(id, now, 'cancelled');
      await executor.release?.(id);
    }
    if (gone.length > 0) {
      ledger = removeJobs(ledger, gone);
      previous = previous.filter((a) => !a.jobIds.some((j) => gone.includes(j)));
      stale = true;
    }
  };

  admit(await source.poll(now));
  if (restoring) {
    // Jobs that left while the engine was down leave the ledger now.
    const gone = new Set<string>();
    for (const key of ledger.jobTime.keys()) for (const j of rowJobs(key)) if (!active.has(j)) gone.add(j);
    ledger = removeJobs(ledger, [...gone]);
    if (allocation) pairRows = pairRowsOf(allocation);
    rowsVersion++;
    restoring = undefined;
  }
  while (true) {
    await cancel();
    if (cfg.signal?.aborted) {
      stopReason = 'aborted';
      break;
    }
    if (windowLeft === 0) {
      stopReason = 'window';
      break;
    }
    if (overJctCap()) {
      stopReason = 'jctCap';
      break;
    }
    if (cfg.maxRounds !== undefined && round >= cfg.maxRounds) {
      stopReason = 'maxRounds';
      break;
    }
    if (active.size === 0) {
      // Gavel still runs a scheduling pass (one shuffle) when the last job of a round has left.
      if (ranRound) typeOrder();
      ranRound = false;
      if (stale && (now - ledger.lastReset >= minInterval || ledger.lastReset === 0)) {
        // The cluster just drained: start a new (empty) accounting period now, as Gavel does, so the interval to
        // the next recompute counts from here. No policy call is needed for zero jobs.
        ledger = resetLedger(ledger, allocation, now, D);
        allocation = { gpuTypes: types, shares: new Map() };
        stale = false;
      }
      const next = source.nextArrival();
      if (next === undefined) {
        if (source.exhausted()) break;
        await wait(now + D);
      } else {
        await wait(Math.max(now, next));
      }
      admit(await source.poll(now));
      continue;
    }
    if (executor.observe) {
      const view = await executor.observe(now);
      adopt(view.cluster);
      previous = view.running.filter((a) => a.jobIds.every((j) => active.has(j)));
      if (pause) await pause();
    }
    if (stale && (now - ledger.lastReset >= minInterval || ledger.lastReset === 0)) {
      await recompute();
      if (pause) await pause();
    }

    if (rowsBuilt !== rowsVersion) {
      roundList = orderedActive();
      roundRows = rowsOf(roundList);
      rowsBuilt = rowsVersion;
    }
    const list = roundList;
    const rows = roundRows;
    const order = typeOrder();
    const tm = nowSeconds();
    let out = planRound({
      round, now, roundDuration: D, cluster, rows, allocation, ledger, previous, typeOrder: order, skipZeroPriority, ...(index ? { index } : {}),
    });
    const noMoreArrivals = source.exhausted() && source.nextArrival() === undefined;
    if (out.plan.assignments.length === 0 && stale && (cfg.recomputeWhenIdle === true || noMoreArrivals)) {
      // Nothing can run only because the allocation predates some jobs. With no arrival left to wait for, Gavel
      // forces a recompute (its trace mode resets the accounting period); otherwise Gavel waits for the next
      // arrival, and so do we unless asked to recompute at once (see docs/fidelity.md).
      await recompute();
      if (pause) await pause();
      // Gavel gets here one loop iteration later, with a fresh shuffle.
      out = planRound({
        round, now, roundDuration: D, cluster, rows, allocation, ledger, previous, typeOrder: typeOrder(), skipZeroPriority, ...(index ? { index } : {}),
      });
    }
    mechanismSeconds += nowSeconds() - tm;
    // Preemptions: jobs that ran last round, are unfinished, and do not keep their GPUs.
    const kept = new Set<string>();
    for (const a of out.plan.assignments) if (a.leaseExtended) for (const j of a.jobIds) kept.add(j);
    for (const a of previous) for (const j of a.jobIds) {
      const act = active.get(j);
      if (act && !kept.has(j)) act.rec.preemptions++;
    }
    leaseExtensions += out.leaseExtensions;
    leaseOpportunities += out.leaseOpportunities;

    if (out.plan.assignments.length === 0) {
      previous = [];
      ranRound = false;
      const next = source.nextArrival();
      if (next === undefined && source.exhausted()) {
        const stuck = list.slice(0, 5).map((a) => a.job.id).join(', ');
        throw new RondoError({
          code: 'E_INFEASIBLE',
          problem: `${active.size} job(s) can never be scheduled (e.g. ${stuck}): the policy gives them no GPU time`,
          hint: 'check the jobs fit a GPU type with a non-zero throughput',
        });
      }
      await save();
      await wait(next === undefined ? now + D : Math.max(now + 1e-9, next));
      admit(await source.poll(now));
      continue;
    }

    const execJobs = new Map<string, ExecJob>();
    for (const a of out.plan.assignments) {
      for (const j of a.jobIds) {
        const act = active.get(j)!;
        execJobs.set(j, { job: act.job, totalSteps: act.rec.totalSteps, remainingSteps: Math.max(0, act.rec.totalSteps - act.rec.stepsDone) });
      }
    }
    if (pause) await pause();
    cfg.observer?.onPlan?.(out.plan);
    const te = nowSeconds();
    const report = await executor.runRound(out.plan, execJobs);
    executorSeconds += nowSeconds() - te;
    const end = Math.max(report.end, now);
    const nActive = active.size;
    addSpan(nActive * (end - now));

    const credits: RunCredit[] = [];
    const finished: string[] = [];
    const dropped: string[] = [];
    const busy = types.map(() => 0);
    const reported = new Map<string, JobProgress>();
    for (const p of report.progress) {
      const act = active.get(p.jobId);
      if (!act) continue;
      const k = types.indexOf(p.gpuType);
      if (k < 0) continue;
      reported.set(p.jobId, p);
      act.rec.roundsRun++;
      if (p.failed) {
        // Gavel drops a job after MAX_FAILED_ATTEMPTS consecutive failed micro-tasks; the allocation is recomputed.
        act.rec.failures++;
        stale = true;
        if (act.rec.failures >= maxFailures) {
          act.rec.failed = true;
          dropped.push(p.jobId);
        }
        continue;
      }
      act.rec.failures = 0;
      if (p.totalSteps !== undefined && p.totalSteps > 0) act.rec.totalSteps = p.totalSteps;
      act.rec.stepsDone += p.steps;
      act.rec.runSeconds[k]! += p.runTime;
      if (p.finished) {
        act.rec.finishTime = p.finishTime ?? end;
        act.rec.stepsDone = act.rec.totalSteps;
        finished.push(p.jobId);
      }
    }
    // Per gang: the row (a job or a pair) is credited once, with the longest run time of its jobs (Gavel's
    // max_execution_time), and its GPUs count as busy for that long, once even when two jobs share them.
    for (const a of out.plan.assignments) {
      let runTime = 0;
      let ran = false;
      for (const j of a.jobIds) {
        const p = reported.get(j);
        if (!p || p.failed) continue;
        ran = true;
        runTime = Math.max(runTime, p.runTime);
      }
      if (!ran) continue;
      const k = types.indexOf(a.gpuType);
      busy[k]! += runTime * a.gpus.length;
      credits.push({ row: rowKeyOf(a.jobIds), typeIndex: k, seconds: runTime });
    }
    ledger = creditRuns(ledger, credits);
    now = Math.max(end, clock.now());
    for (const j of dropped) {
      if (!finished.includes(j)) finished.push(j);
    }
    if (finished.length > 0) {
      for (const j of finished) {
        const act = active.get(j)!;
        settle(act);
        active.delete(j);
        rowsVersion++;
        finishedCount++;
        if (windowLeft > 0 && inWindow(act.rec.index)) windowLeft--;
        closeWindowJob(act.rec);
        if (act.rec.finishTime !== undefined) cfg.observer?.onJobFinished?.(j, act.rec.finishTime);
        else cfg.observer?.onJobRemoved?.(j, now, 'failed');
        await executor.release?.(j);
      }
      // Only a space-sharing policy puts pairs in the ledger; otherwise a job's row is all there is to remove.
      ledger = policy.meta.spaceSharing ? removeJobs(ledger, finished) : removeRows(ledger, finished);
      stale = true;
    }
    const done = new Set(finished);
    previous = out.plan.assignments.filter((a) => !a.jobIds.every((j) => done.has(j)));
    const info: RoundInfo = {
      round,
      start: out.plan.start,
      end: now,
      activeJobs: nActive,
      runningJobs: execJobs.size,
      finishedJobs: finishedCount,
      windowFinished: cfg.window ? cfg.window.end - cfg.window.start - windowLeft : 0,
      busyGpuSeconds: busy,
    };
    if (keepHistory) timeline.push(info);
    cfg.observer?.onRound?.(info);
    round++;
    ranRound = true;
    admit(await source.poll(now));
    await save();
  }

  for (const a of active.values()) settle(a);
  return {
    cluster,
    policy: policy.meta.name,
    roundDuration: D,
    jobs: records,
    rounds: round,
    startTime,
    endTime: now,
    timeline,
    policyCalls,
    policySeconds,
    mechanismSeconds,
    executorSeconds,
    leaseExtensions,
    leaseOpportunities,
    stopReason,
  };
}

/** Same GPU types, counts and servers: the engine keeps its cached rows. */
function sameCluster(a: ClusterSpec, b: ClusterSpec): boolean {
  if (a === b) return true;
  if (a.totalGpus !== b.totalGpus || a.gpuTypes.join('\n') !== b.gpuTypes.join('\n') || a.servers.length !== b.servers.length) return false;
  return a.servers.every((s, i) => {
    const t = b.servers[i]!;
    return s.gpuType === t.gpuType && s.gpus === t.gpus && s.firstGpu === t.firstGpu;
  });
}
