import { policyJob, type Allocation, type Assignment, type ClusterSpec, type Job, type RoundPlan, type Server } from '../../model/index.js';
import { shapeProblem, WhyBook } from './why.js';
import {
  runEngine,
  type ClusterView,
  type EngineConfig,
  type EnginePersistence,
  type EngineState,
  type ExecJob,
  type JobProgress,
  type JobSource,
  type RoundReport,
  type SavedJob,
} from '../../engine/index.js';
import type { Policy, PolicyJob, PolicyResult, PolicySnapshot } from '../../policies/types.js';
import type { LoadedPolicy } from './policy-source.js';
import { allocationJson, PolicyThread } from './policy-worker.js';
import { allocateGuarded, allocateGuardedSync } from './quarantine.js';
import type { JobRow, Store, WorkerRow } from './store/index.js';
import type { LiveThroughputs, TypeThroughput } from '../../estimate/index.js';

/**
 * The runtime as the engine's Clock, Executor and JobSource: the live server runs the same scheduler loop as the
 * simulator (`runEngine`, src/engine), with
 *   - a wall clock (seconds since the store's epoch) whose waits a submit or a joining worker cuts short;
 *   - a job source over the store (new submissions in arrival order; cancelled, failed or otherwise ended jobs
 *     leave through `takeCancelled`);
 *   - an executor that reports the live workers as the cluster before each plan (`observe`: one mechanism server
 *     per worker and GPU type, open attempts as what runs where), commits each plan as leases (a job that keeps its
 *     GPUs gets its lease extended, any other placed job a new attempt), and resolves a little before the round
 *     ends so the next plan, and its extensions, reach the workers in time;
 *   - the engine's state (ledger, allocation, policy state, round) saved in the store after every round, so a
 *     restarted server goes on where it stopped;
 *   - a plan that does not hold the event loop for its whole length: the policy runs on a worker thread
 *     (policy-worker.ts) and the engine yields to pending I/O between its stages (`EngineConfig.live`), so requests
 *     are served while a round over 10,000 jobs is planned. What changed meanwhile (a job cancelled or finished, an
 *     attempt ended) is checked again when the plan is committed.
 * Workers pull their leases at each heartbeat (routes/workers.ts `sync`) and stop a process when its lease ends.
 */

export interface RuntimeTiming {
  /** Round length (Gavel: 360 s). */
  readonly roundMs: number;
  /** Time a job gets between SIGTERM and SIGKILL to checkpoint and exit. */
  readonly graceMs: number;
  /** How often workers sync with the server. */
  readonly heartbeatMs: number;
  /** A worker silent for this long is lost: its GPUs leave the cluster and its jobs are requeued. */
  readonly workerTimeoutMs: number;
}

export const DEFAULT_TIMING: RuntimeTiming = { roundMs: 360_000, graceMs: 30_000, heartbeatMs: 2_000, workerTimeoutMs: 15_000 };

/** How long before a round ends the next one is planned: three heartbeats, so extensions arrive in time. */
export function planAheadMs(t: RuntimeTiming, lastPlanMs = 0): number {
  return Math.min(t.roundMs / 2, 3 * t.heartbeatMs + 100 + 2 * lastPlanMs);
}

/** Placeholder step count for jobs that never said how long they are (policies need a number). */
export const UNKNOWN_TOTAL_STEPS = 1e6;

/** A live worker's GPUs as mechanism servers: one server per (worker, GPU type). */
export interface LiveCluster {
  readonly cluster: ClusterSpec;
  /** Server index -> worker and the device index of the server's first GPU on that worker. */
  readonly servers: ReadonlyArray<{ readonly workerId: string; readonly gpuType: string; readonly firstDevice: number; readonly server: Server }>;
}

export function buildCluster(workers: readonly WorkerRow[]): LiveCluster {
  const types = [...new Set(workers.flatMap((w) => w.gpus.map((g) => g.type)))].sort();
  const gpus: Record<string, number> = Object.fromEntries(types.map((t) => [t, 0]));
  const perServer: Record<string, number> = Object.fromEntries(types.map((t) => [t, 1]));
  const out: Array<{ workerId: string; gpuType: string; firstDevice: number; server: Server }> = [];
  let next = 0;
  // Servers grouped by type (the mechanism walks them in order), workers in registration order within a type.
  for (const t of types) {
    for (const w of workers) {
      let device = 0;
      for (const g of w.gpus) {
        if (g.type === t && g.count > 0) {
          const server: Server = { id: out.length, gpuType: t, gpus: g.count, firstGpu: next };
          out.push({ workerId: w.id, gpuType: t, firstDevice: device, server });
          next += g.count;
          gpus[t]! += g.count;
          perServer[t] = Math.max(perServer[t]!, g.count);
        }
        device += g.count;
      }
    }
  }
  return {
    cluster: { gpuTypes: types, gpus, gpusPerServer: perServer, servers: out.map((s) => s.server), totalGpus: next },
    servers: out,
  };
}

/** Global GPU id -> (worker, device index). */
function locate(live: LiveCluster, gpu: number): { workerId: string; device: number } | undefined {
  for (const s of live.servers) {
    if (gpu >= s.server.firstGpu && gpu < s.server.firstGpu + s.server.gpus) {
      return { workerId: s.workerId, device: s.firstDevice + (gpu - s.server.firstGpu) };
    }
  }
  return undefined;
}

/** (worker, device) -> global GPU id in this round's cluster. */
function globalGpu(live: LiveCluster, workerId: string, gpuType: string, device: number): number | undefined {
  for (const s of live.servers) {
    if (s.workerId === workerId && s.gpuType === gpuType && device >= s.firstDevice && device < s.firstDevice + s.server.gpus) {
      return s.server.firstGpu + (device - s.firstDevice);
    }
  }
  return undefined;
}

export interface SchedulerStats {
  rounds: number;
  lastRound: number;
  lastPlanMs: number;
  /** CPU time of the last plan (it runs in one synchronous stretch): less dependent on a busy machine than `lastPlanMs`. */
  lastPlanCpuMs: number;
  lastSolverMs: number;
  /** Of the last plan: ms from its start until the plan was ready (cluster read, policy if recomputed, mechanism). */
  lastPlanReadyMs: number;
  /** Of the last plan: ms in the policy (0 when the plan kept the allocation). */
  lastPlanPolicyMs: number;
  /** Of the last plan: ms to commit it as leases (one store transaction). */
  lastCommitMs: number;
  solverMsSum: number;
  solverCount: number;
  lastRoundGapMs: number;
  lastPlanAt: number;
  /** Jobs quarantined by this process (the policy failed with them), and the last 20 of them. */
  quarantined: number;
  quarantinedJobs: ReadonlyArray<{ readonly jobId: string; readonly tenant: string }>;
}

/** Largest gang one worker can hold per type of `cluster`: the runtime does not launch one job across machines. */
const largest = new WeakMap<ClusterSpec, readonly number[]>();
function maxPerWorker(cluster: ClusterSpec): readonly number[] {
  let m = largest.get(cluster);
  if (!m) {
    m = cluster.gpuTypes.map((t) => Math.max(0, ...cluster.servers.filter((s) => s.gpuType === t).map((s) => s.gpus)));
    largest.set(cluster, m);
  }
  return m;
}

/**
 * A job's throughput per type as the runtime knows it. With a throughput table (`rondo serve --throughputs`, the
 * shipped Gavel table by default): measured steps/s where it has run, the table's row for a job type the table
 * knows, the low-rank estimate otherwise (src/estimate). Without one, as before: the mean of its measurements (or 1)
 * on types it has not run on. 0 where the job may not run or no single worker has enough GPUs.
 */
function liveThroughput(
  cluster: ClusterSpec,
  measured: Readonly<Record<string, number>>,
  job: { readonly scaleFactor: number; readonly gpuTypes?: readonly string[] | null; readonly jobType?: string | null },
  known: LiveThroughputs | undefined,
): number[] {
  if (known) return known.row(cluster.gpuTypes, maxPerWorker(cluster), job, measured);
  const values = Object.values(measured);
  const fallback = values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : 1;
  const most = maxPerWorker(cluster);
  return cluster.gpuTypes.map((t, k) => {
    if (job.gpuTypes && !job.gpuTypes.includes(t)) return 0;
    if (job.scaleFactor > most[k]!) return 0;
    return measured[t] ?? fallback;
  });
}

/**
 * Lets the event loop serve what arrived while the scheduler worked. Two hops: called from an I/O callback (the
 * policy thread's reply), one setImmediate would run before the loop polls for new I/O.
 */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** The allocation when there is no GPU or no job: nothing to divide, no solver call. */
function nothingToDivide(s: PolicySnapshot): PolicyResult | undefined {
  if (s.cluster.totalGpus !== 0 && s.jobs.length !== 0) return undefined;
  return { allocation: { gpuTypes: s.cluster.gpuTypes, shares: new Map<string, readonly number[]>() }, state: s.state };
}

/** JSON with Maps, for a policy's opaque state (some hold Maps). */
function mapsToJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Map ? { $map: [...(x as Map<unknown, unknown>)] } : x)) ?? 'null';
}
function mapsFromJson(s: string): unknown {
  return JSON.parse(s, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && '$map' in x ? new Map((x as { $map: Array<[unknown, unknown]> }).$map) : x,
  ) as unknown;
}

/**
 * The engine's state as stored: Maps as entry lists, written without a replacer function (one per value would cost
 * more than the rest of a round with 10,000 jobs). Produced in pieces of at most `STATE_CHUNK` entries, each a few
 * milliseconds with 10,000 jobs, so a server can write it between requests (`encodeStateSliced`); the pieces joined
 * are the JSON of one object.
 */
function* stateParts(policy: string, st: EngineState): Generator<string> {
  const { ledger, allocation } = st;
  const j = (v: unknown): string => JSON.stringify(v);
  yield `{"policy":${j(policy)},"round":${j(st.round)},"stale":${j(st.stale)},"jobs":`;
  // Each job as [id, stepsDone, totalSteps, roundsRun, preemptions, failures]: a third of the bytes of objects.
  yield* arrayParts(st.jobs.map((x) => [x.id, x.stepsDone, x.totalSteps, x.roundsRun, x.preemptions, x.failures]));
  yield `,"ledger":{"gpuTypes":${j(ledger.gpuTypes)},"jobTime":`;
  yield* arrayParts([...ledger.jobTime]);
  yield `,"workerTime":${j(ledger.workerTime)},"deficits":`;
  yield* arrayParts([...ledger.deficits]);
  yield `,"lastReset":${j(ledger.lastReset)}},"allocation":`;
  if (allocation) {
    yield `{"gpuTypes":${j(allocation.gpuTypes)},"shares":`;
    yield* arrayParts([...allocation.shares]);
    yield '}';
  } else yield 'null';
  yield `,"policyState":${j(mapsToJson(st.policyState))}}`;
}

const STATE_CHUNK = 2500;

/** The JSON of an array, `STATE_CHUNK` entries at a time. */
function* arrayParts(xs: readonly unknown[]): Generator<string> {
  if (xs.length === 0) yield '[]';
  for (let i = 0; i < xs.length; i += STATE_CHUNK) {
    const inner = JSON.stringify(xs.slice(i, i + STATE_CHUNK)).slice(1, -1);
    yield `${i === 0 ? '[' : ','}${inner}${i + STATE_CHUNK >= xs.length ? ']' : ''}`;
  }
}

export function encodeState(policy: string, st: EngineState): string {
  return [...stateParts(policy, st)].join('');
}

/** `encodeState` with a turn of the event loop between pieces. The state is immutable, so it may be read over time. */
export async function encodeStateSliced(policy: string, st: EngineState): Promise<string> {
  const out: string[] = [];
  for (const piece of stateParts(policy, st)) {
    out.push(piece);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return out.join('');
}

export function decodeState(raw: string): { policy: string; state: EngineState } {
  const o = JSON.parse(raw) as {
    policy: string;
    round: number;
    stale: boolean;
    /** Arrays (the compact encoding); a state saved by an older server holds objects (`SavedJob`). */
    jobs: Array<SavedJob | [string, number, number, number, number, number]>;
    ledger: { gpuTypes: string[]; jobTime: Array<[string, number[]]>; workerTime: number[]; deficits: Array<[string, number[]]>; lastReset: number };
    allocation: { gpuTypes: string[]; shares: Array<[string, number[]]> } | null;
    policyState: string;
  };
  return {
    policy: o.policy,
    state: {
      round: o.round,
      stale: o.stale,
      jobs: o.jobs.map((j) =>
        Array.isArray(j) ? { id: j[0], stepsDone: j[1], totalSteps: j[2], roundsRun: j[3], preemptions: j[4], failures: j[5] } : j,
      ),
      ledger: { ...o.ledger, jobTime: new Map(o.ledger.jobTime), deficits: new Map(o.ledger.deficits) },
      allocation: o.allocation ? { gpuTypes: o.allocation.gpuTypes, shares: new Map(o.allocation.shares) } : undefined,
      policyState: mapsFromJson(o.policyState),
    },
  };
}

const ENGINE_STATE_KEY = 'engine_state';

/** Live submissions from the store, in arrival order. */
class StoreJobSource implements JobSource {
  private lastSeq = 0;
  /** Jobs handed to the engine and not yet seen to leave. */
  private readonly held = new Set<string>();
  constructor(
    private readonly store: Store,
    private readonly toJob: (j: JobRow) => Job,
  ) {}

  async poll(): Promise<readonly Job[]> {
    await turn();
    const rows = this.store.schedulableJobsAfter(this.lastSeq);
    for (const r of rows) {
      this.lastSeq = Math.max(this.lastSeq, r.seq);
      this.held.add(r.id);
    }
    return rows.map(this.toJob);
  }

  nextArrival(): undefined {
    return undefined;
  }

  exhausted(): boolean {
    return false;
  }

  /** Jobs that stopped being schedulable: cancelled, failed, or finished outside a round the engine saw. */
  async takeCancelled(): Promise<readonly string[]> {
    await turn();
    // A job never becomes schedulable again once it left (terminal states and cancel requests are final), and every
    // schedulable job up to `lastSeq` is held: when as many are schedulable as are held, none left.
    if (this.store.countSchedulable(this.lastSeq) === this.held.size) return [];
    const live = this.store.schedulableJobIds(this.lastSeq);
    const gone = [...this.held].filter((id) => !live.has(id));
    for (const id of gone) this.held.delete(id);
    return gone;
  }
}

export class Scheduler {
  private readonly lastSeen = new Map<string, number>();
  private readonly bootAt = Date.now();
  private stopped = false;
  private readonly abort = new AbortController();
  /** Something changed since the engine last looked (submit, worker joined): its next wait for work ends at once. */
  private dirty = false;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  private reaper: NodeJS.Timeout | undefined;
  /** The cluster as of the engine's last look (`observe`), to turn its GPU ids back into workers and devices. */
  private live: LiveCluster = buildCluster([]);
  /** Measured throughputs of the active jobs as of the last look. */
  private measured = new Map<string, Record<string, number>>();
  /** Seconds each job had received (all types) at the last round report: each report credits the difference. */
  private received = new Map<string, number>();
  private planStartedAt = 0;
  private planPolicyMs = 0;
  private planCpuAt: NodeJS.CpuUsage = { user: 0, system: 0 };
  private lastAllocation: Allocation | undefined;
  /** Allocations as the rounds table records them, encoded once per allocation (most rounds keep the last one). */
  private readonly allocationJson = new WeakMap<Allocation, string>();
  /** The policy's thread while the loop runs; undefined when running from TypeScript sources (tests). */
  private thread: PolicyThread | undefined;
  /** The engine's latest state not yet written, and when it was last written (writes are at most one a heartbeat). */
  private unsaved: EngineState | undefined;
  private savedAt = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  /** Counts writes of the state, so a sliced write that a later write overtook does not store an older state. */
  private saveGen = 0;
  readonly stats: SchedulerStats = {
    rounds: 0,
    lastRound: 0,
    lastPlanMs: 0,
    lastPlanCpuMs: 0,
    lastSolverMs: 0,
    lastPlanReadyMs: 0,
    lastPlanPolicyMs: 0,
    lastCommitMs: 0,
    solverMsSum: 0,
    solverCount: 0,
    lastRoundGapMs: 0,
    lastPlanAt: 0,
    quarantined: 0,
    quarantinedJobs: [],
  };
  readonly epochMs: number;
  /** The planner's latest reason per waiting job and each job's last preemption (served to the job page). */
  readonly why = new WhyBook();

  constructor(
    private readonly store: Store,
    readonly timing: RuntimeTiming,
    private readonly policy: LoadedPolicy,
    private readonly log: (msg: string) => void = () => {},
    /** Known job types' throughputs and estimates for the rest; without it, unmeasured types count as equally fast. */
    private readonly throughputs?: LiveThroughputs,
  ) {
    const e = store.getMeta('epoch_ms');
    if (e === undefined) {
      this.epochMs = Date.now();
      store.setMeta('epoch_ms', String(this.epochMs));
    } else this.epochMs = Number(e);
  }

  /** An engine job with the job type as submitted (`toJob` names an untyped job 'unknown'). */
  private named(job: Job): { scaleFactor: number; gpuTypes?: readonly string[]; jobType: string | null } {
    return { scaleFactor: job.scaleFactor, jobType: job.jobType === 'unknown' ? null : job.jobType, ...(job.gpuTypes ? { gpuTypes: job.gpuTypes } : {}) };
  }

  /**
   * A job's throughput per GPU type of the live cluster (and any type it measured): value, source (table, measured,
   * estimated, default) and confidence, for the API and the dashboard.
   */
  throughputView(j: JobRow): TypeThroughput[] {
    const measured = this.store.throughputsOf(j.id);
    const types = [...new Set([...buildCluster(this.liveWorkers()).cluster.gpuTypes, ...Object.keys(measured)])].sort();
    if (this.throughputs) return this.throughputs.view(types, j, measured);
    const got = Object.values(measured);
    const mean = got.length > 0 ? got.reduce((a, b) => a + b, 0) / got.length : 1;
    return types.map((t) =>
      measured[t] !== undefined
        ? { gpuType: t, value: measured[t], source: 'measured', confidence: 1, uncertainty: 0 }
        : { gpuType: t, value: mean, source: 'default', confidence: 0, uncertainty: 0 },
    );
  }

  get policyName(): string {
    return this.policy.name;
  }

  get loadedPolicy(): LoadedPolicy {
    return this.policy;
  }

  // ---- worker liveness (in memory: a restart gives every known worker a fresh timeout) ----

  touch(workerId: string): void {
    this.lastSeen.set(workerId, Date.now());
  }

  isAlive(workerId: string): boolean {
    const seen = this.lastSeen.get(workerId) ?? this.bootAt;
    return Date.now() - seen <= this.timing.workerTimeoutMs;
  }

  liveWorkers(): WorkerRow[] {
    return this.store.listWorkers().filter((w) => w.state === 'alive' && this.isAlive(w.id));
  }

  /** Marks silent workers gone and closes attempts nobody will report on. Returns the number of attempts closed. */
  reap(now = Date.now()): number {
    let closed = 0;
    for (const w of this.store.listWorkers()) {
      if (w.state !== 'alive' || this.isAlive(w.id)) continue;
      this.store.tx(() => {
        this.store.setWorkerState(w.id, 'gone');
        this.store.event('worker.lost', { workerId: w.id });
        for (const a of this.store.openAttemptsOfWorker(w.id)) {
          this.store.endAttempt(a.id, 'lost', { at: now, message: `worker ${w.id} stopped syncing` });
          closed++;
        }
      });
      this.log(`worker ${w.id} lost; its jobs are requeued`);
    }
    for (const a of this.store.openAttempts()) {
      // The worker kills a process by lease end + grace; past that plus a timeout, nobody will report it. After a
      // restart of this server, workers first get a timeout to report what ended while it was down.
      if (now > Math.max(a.leaseEnd + this.timing.graceMs, this.bootAt) + this.timing.workerTimeoutMs) {
        this.store.endAttempt(a.id, 'lost', { at: now, message: 'no end report after the lease expired' });
        closed++;
      }
    }
    return closed;
  }

  /** A worker came back after being marked gone (e.g. a network partition healed). */
  revive(workerId: string): void {
    const w = this.store.getWorker(workerId);
    if (w && w.state === 'gone') {
      this.store.setWorkerState(workerId, 'alive');
      this.store.event('worker.back', { workerId });
    }
  }

  // ---- the loop: the shared engine ----

  start(): void {
    if (this.loopDone) return;
    // Worker loss is noticed every heartbeat, not once a round: the lost jobs are placed again by the next round.
    this.reaper = setInterval(() => {
      try {
        this.reap();
      } catch (e) {
        this.log(`scheduler error: ${(e as Error).stack ?? String(e)}`);
      }
    }, this.timing.heartbeatMs);
    this.thread = PolicyThread.start(this.policy.name);
    this.loopDone = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.reaper);
    this.abort.abort();
    this.wake?.();
    await this.loopDone;
    await this.thread?.close();
    this.writeState();
  }

  /**
   * Asks the loop to look again now (a job was submitted, a worker joined). Without a live worker nothing could be
   * placed, so a submit to an empty cluster does not wake it (a registering worker pokes when it is already live).
   */
  poke(): void {
    if (this.wake && this.liveWorkers().length === 0) return;
    this.dirty = true;
    this.wake?.();
  }

  /** Sleeps until `untilMs`. A poke cuts short a `pokable` sleep (the engine waiting for work); stopping ends any. */
  private sleepUntilMs(untilMs: number, pokable: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (pokable && this.dirty) {
      this.dirty = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.abort.signal.removeEventListener('abort', done);
        if (this.wake === done) this.wake = undefined;
        if (pokable) this.dirty = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, untilMs - Date.now()));
      this.abort.signal.addEventListener('abort', done);
      if (pokable) this.wake = done;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        this.writeState(); // a restarted engine loads what the last one saved
        await runEngine(this.engineConfig());
      } catch (e) {
        if (this.stopped) break;
        // The engine resumes from the state it saved after its last round.
        this.log(`scheduler error: ${(e as Error).stack ?? String(e)}`);
      }
      if (!this.stopped) await this.sleepUntilMs(Date.now() + this.timing.heartbeatMs, false);
    }
  }

  private nowS(ms: number): number {
    return (ms - this.epochMs) / 1000;
  }

  private engineConfig(): EngineConfig {
    this.live = buildCluster(this.liveWorkers());
    this.measured = this.store.activeThroughputs();
    this.received = this.receivedTotals(Date.now());
    return {
      cluster: this.live.cluster,
      policy: this.enginePolicy(),
      clock: { now: () => this.nowS(Date.now()), sleepUntil: (t) => this.sleepUntilMs(this.epochMs + t * 1000, true) },
      // Each read of the store by the engine (new jobs, jobs that left, the cluster) starts a turn of its own.
      executor: {
        observe: async () => {
          await turn();
          return this.observe();
        },
        runRound: (plan, jobs) => this.runRound(plan, jobs),
        release: (id) => this.why.forget(id),
      },
      source: new StoreJobSource(this.store, (j) => this.toJob(j)),
      roundDuration: this.timing.roundMs / 1000,
      throughputOf: (job, cluster) => liveThroughput(cluster, this.measured.get(job.id) ?? {}, this.named(job), this.throughputs),
      currentThroughputOf: (job, _steps, cluster) => liveThroughput(cluster, this.measured.get(job.id) ?? {}, this.named(job), this.throughputs),
      // Recompute on every arrival, completion and change of the cluster (no minimum interval) as the runtime did.
      minReallocationInterval: 0,
      recomputeWhenIdle: true,
      keepHistory: false,
      persist: this.persistence(),
      signal: this.abort.signal,
      stopwatch: () => performance.now() / 1000,
      live: {
        // Requests that arrived during a stage are served before the next one.
        pause: turn,
        ...(this.thread ? { allocate: (s: PolicySnapshot) => this.allocateOnThread(s) } : {}),
      },
      observer: {
        onAllocation: (_t, _rows, seconds) => {
          this.stats.lastSolverMs = seconds * 1000;
          this.stats.solverMsSum += seconds * 1000;
          this.stats.solverCount++;
          this.planPolicyMs += seconds * 1000;
        },
        onPlan: () => {
          this.stats.lastPlanReadyMs = performance.now() - this.planStartedAt;
          this.stats.lastPlanPolicyMs = this.planPolicyMs;
        },
      },
    };
  }

  /** The server's policy for the engine; with no live GPU or no job there is nothing to divide and no solver call. */
  private enginePolicy(): Policy {
    const loaded = this.policy;
    return {
      meta: loaded.meta,
      allocate: (s) => {
        const r = allocateGuardedSync(s, (p) => nothingToDivide(p) ?? loaded.allocate(p), (job, error) => this.quarantine(job.id, error));
        this.lastAllocation = r.allocation;
        return r;
      },
    };
  }

  /** The same as `enginePolicy().allocate`, computed on the policy's thread. */
  private async allocateOnThread(s: PolicySnapshot): Promise<PolicyResult> {
    const empty = nothingToDivide(s);
    if (empty) {
      this.lastAllocation = empty.allocation;
      return empty;
    }
    // The engine built the snapshot (10,000 jobs) in this turn; sending it (a structured clone) gets a turn of its own.
    await turn();
    const r = await allocateGuarded(
      s,
      async (p) => {
        const none = nothingToDivide(p);
        if (none) return none;
        const t = await this.thread!.allocate(p);
        this.allocationJson.set(t.allocation, t.allocationJson);
        return t.state === undefined ? { allocation: t.allocation } : { allocation: t.allocation, state: t.state };
      },
      (job, error) => this.quarantine(job.id, error),
    );
    this.lastAllocation = r.allocation;
    return r;
  }

  /**
   * The policy fails with this job (quarantine.ts found it): the job is failed with the reason, the log and /metrics
   * name it, and the round goes on without it.
   */
  private quarantine(jobId: string, error: string): void {
    const reason = `quarantined: the ${this.policy.name} policy fails with this job (${error}); it was removed so the other jobs keep being scheduled`;
    const job = this.store.quarantineJob(jobId, reason);
    this.stats.quarantined++;
    this.stats.quarantinedJobs = [...this.stats.quarantinedJobs.slice(-19), { jobId, tenant: job?.tenant ?? '' }];
    this.log(`quarantined ${jobId} (tenant ${job?.tenant ?? '?'}): the ${this.policy.name} policy fails with it: ${error}`);
  }

  private persistence(): EnginePersistence {
    return {
      load: () => {
        const raw = this.store.getMeta(ENGINE_STATE_KEY);
        if (raw === undefined) return undefined;
        try {
          const saved = decodeState(raw);
          // Another policy's state and allocation mean nothing to this one: keep only the ledger and the round.
          const state: EngineState =
            saved.policy === this.policy.name ? saved.state : { ...saved.state, allocation: undefined, policyState: undefined, stale: true };
          this.lastAllocation = state.allocation;
          return state;
        } catch (e) {
          this.log(`ignoring the saved scheduler state: ${(e as Error).message}`);
          return undefined;
        }
      },
      save: (state) => {
        this.unsaved = state;
        if (this.saveTimer) return;
        this.saveTimer = setTimeout(() => void this.writeStateSliced(), Math.max(0, this.savedAt + this.timing.heartbeatMs - Date.now()));
      },
    };
  }

  /** Writes the engine's latest state (a crash loses at most the last heartbeat's bookkeeping, never a job). */
  /**
   * `writeState` for the save timer: the state (tens of milliseconds of JSON with 10,000 jobs) is encoded a field at
   * a time between requests. A write that starts meanwhile (stop, a restart of the engine) supersedes this one.
   */
  private async writeStateSliced(): Promise<void> {
    this.saveTimer = undefined;
    const st = this.unsaved;
    if (!st) return;
    const gen = ++this.saveGen;
    try {
      const json = await encodeStateSliced(this.policy.name, st);
      if (gen !== this.saveGen) return;
      this.store.setMeta(ENGINE_STATE_KEY, json);
      if (this.unsaved === st) this.unsaved = undefined;
      this.savedAt = Date.now();
    } catch (e) {
      this.log(`scheduler error: ${(e as Error).stack ?? String(e)}`);
    }
  }

  private writeState(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.saveGen++;
    if (!this.unsaved) return;
    this.store.setMeta(ENGINE_STATE_KEY, encodeState(this.policy.name, this.unsaved));
    this.unsaved = undefined;
    this.savedAt = Date.now();
  }

  private toJob(j: JobRow): Job {
    return {
      id: j.id,
      jobType: j.jobType ?? 'unknown',
      scaleFactor: j.scaleFactor,
      arrivalTime: Math.max(0, this.nowS(j.submittedAt)),
      totalSteps: j.reportedTotal ?? j.totalSteps ?? UNKNOWN_TOTAL_STEPS,
      priorityWeight: j.priorityWeight,
      tenant: j.tenant,
      ...(j.deadlineS !== null ? { deadlineS: j.deadlineS } : {}),
      ...(j.sloFactor !== null ? { sloFactor: j.sloFactor } : {}),
      ...(j.gpuTypes ? { gpuTypes: j.gpuTypes } : {}),
    };
  }

  /** Seconds each queued or running job has held GPUs over all its attempts, up to `nowMs`. */
  private receivedTotals(nowMs: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, byType] of this.store.timeReceived(nowMs, 'active')) out.set(id, Object.values(byType).reduce((a, b) => a + b, 0));
    return out;
  }

  /** Executor.observe: the live workers as the cluster, open attempts as what runs where (in this cluster's GPU ids). */
  private observe(): ClusterView {
    this.planStartedAt = performance.now();
    this.planPolicyMs = 0;
    this.planCpuAt = process.cpuUsage();
    this.live = buildCluster(this.liveWorkers());
    this.measured = this.store.activeThroughputs();
    const running: Assignment[] = [];
    for (const a of this.store.openAttempts()) {
      const gpus = a.gpus.map((d) => globalGpu(this.live, a.workerId, a.gpuType, d));
      if (gpus.some((g) => g === undefined)) continue;
      running.push({ jobIds: [a.jobId], gpuType: a.gpuType, gpus: gpus as number[], consolidated: true, leaseExtended: false });
    }
    return { cluster: this.live.cluster, running };
  }

  /**
   * Executor.runRound: commits the plan as leases in one transaction, then waits until the next round must be
   * planned (`planAheadMs` before this one ends) and reports the progress and run time the store has seen.
   */
  private async runRound(plan: RoundPlan, jobs: ReadonlyMap<string, ExecJob>): Promise<RoundReport> {
    const now = Date.now();
    const last = this.store.lastRoundInfo();
    const round = (last?.round ?? 0) + 1;
    this.why.record(plan, round, now, (id) => {
      const j = this.store.getJob(id);
      return j ? shapeProblem(j, this.liveWorkers()) : null;
    });
    // After a restart the engine plans at once; the round still starts when the one before the restart ends.
    const startMs = Math.round(Math.max(this.epochMs + plan.start * 1000, last ? last.start + last.duration : 0));
    const endMs = startMs + this.timing.roundMs;
    const live = this.live;
    const open = this.store.openAttempts();
    const placed: Array<{ jobId: string; gpuType: string; workerId: string; devices: number[]; attempt: number; extended: boolean }> = [];
    const commitAt = performance.now();
    this.store.tx(() => {
      const openByJob = new Map<string, typeof open>();
      for (const a of open) openByJob.set(a.jobId, [...(openByJob.get(a.jobId) ?? []), a]);
      const keep = new Set<number>();
      for (const asg of plan.assignments) {
        const where = asg.gpus.map((g) => locate(live, g));
        const workerId = where[0]?.workerId;
        if (!workerId || where.some((w) => !w || w.workerId !== workerId)) continue; // spread over machines: skip
        const devices = where.map((w) => w!.device).sort((a, b) => a - b);
        const jobId = asg.jobIds[0]!;
        // The plan was made over a few turns of the event loop: a job that finished or was cancelled meanwhile is
        // not started.
        if (!this.store.isSchedulable(jobId)) continue;
        const same = (openByJob.get(jobId) ?? []).find(
          (a) => a.workerId === workerId && a.gpuType === asg.gpuType && a.gpus.length === devices.length && a.gpus.every((d) => devices.includes(d)),
        );
        if (same) {
          this.store.extendLease(same.id, endMs, round);
          keep.add(same.id);
          placed.push({ jobId, gpuType: asg.gpuType, workerId, devices, attempt: same.id, extended: true });
        } else {
          const a = this.store.createAttempt({ jobId, workerId, round, gpuType: asg.gpuType, gpus: devices, notBefore: startMs, leaseEnd: endMs });
          keep.add(a.id);
          placed.push({ jobId, gpuType: asg.gpuType, workerId, devices, attempt: a.id, extended: false });
        }
      }
      // Leases never delivered to their worker, and not in this plan: withdraw them (a delivered one may be running).
      for (const a of open) {
        if (!keep.has(a.id) && a.state === 'leased' && a.deliveredAt === null) {
          this.store.endAttempt(a.id, 'preempted', { message: 'not placed in the next round before it was delivered' });
        }
      }
      const alloc = this.lastAllocation;
      let allocJson = alloc && this.allocationJson.get(alloc);
      if (allocJson === undefined) {
        allocJson = allocationJson(alloc);
        if (alloc) this.allocationJson.set(alloc, allocJson);
      }
      this.store.saveRound({
        round,
        start: startMs,
        duration: this.timing.roundMs,
        plannedAt: now,
        policy: this.policy.name,
        solverMs: this.stats.lastSolverMs,
        allocationJson: allocJson,
        plan: { assignments: placed.map((p) => ({ jobId: p.jobId, workerId: p.workerId, gpuType: p.gpuType, devices: p.devices, attempt: p.attempt, leaseExtended: p.extended })) },
      });
    });
    this.stats.lastCommitMs = performance.now() - commitAt;
    if (last) this.stats.lastRoundGapMs = startMs - last.start;
    this.stats.rounds++;
    this.stats.lastRound = round;
    this.stats.lastPlanAt = now;
    this.stats.lastPlanMs = performance.now() - this.planStartedAt;
    const cpu = process.cpuUsage(this.planCpuAt);
    this.stats.lastPlanCpuMs = (cpu.user + cpu.system) / 1000;
    // A slow plan (a large LP) starts earlier next time, so extensions still reach workers before their leases end.
    await this.sleepUntilMs(endMs - planAheadMs(this.timing, this.stats.lastPlanMs), false);
    return this.report(plan, jobs, endMs);
  }

  /** Steps and run time of the plan's jobs since the last report, from the store (workers report into it). */
  private report(plan: RoundPlan, jobs: ReadonlyMap<string, ExecJob>, endMs: number): RoundReport {
    const nowMs = Date.now();
    const totals = this.receivedTotals(nowMs);
    const progress: JobProgress[] = [];
    for (const a of plan.assignments) {
      for (const id of a.jobIds) {
        const e = jobs.get(id);
        const row = this.store.jobProgress(id);
        if (!e || !row) continue;
        const finished = row.state === 'completed';
        const total = row.reportedTotal ?? row.totalSteps;
        progress.push({
          jobId: id,
          gpuType: a.gpuType,
          steps: Math.max(0, row.stepsDone - (e.totalSteps - e.remainingSteps)),
          runTime: Math.max(0, (totals.get(id) ?? 0) - (this.received.get(id) ?? 0)),
          finished,
          ...(finished ? { finishTime: this.nowS(row.finishedAt ?? nowMs) } : {}),
          ...(total !== null && total !== e.totalSteps ? { totalSteps: total } : {}),
        });
      }
    }
    this.received = totals;
    return { end: this.nowS(endMs), progress };
  }

  /** Active jobs (not being cancelled) as the policy sees them, on this cluster (for `whatif`). */
  policyJobs(cluster: ClusterSpec, jobs: readonly JobRow[] = this.store.activeJobs().filter((j) => !j.cancelRequested)): PolicyJob[] {
    const measured = this.store.activeThroughputs();
    return jobs.map((j) => {
      // The job as the engine admits it (toJob), so what-if and the fairness view see the deadlines the live rounds do.
      const job = this.toJob(j);
      const total = job.totalSteps!;
      return policyJob(job, {
        throughput: liveThroughput(cluster, measured.get(j.id) ?? {}, j, this.throughputs),
        totalSteps: total,
        remainingSteps: Math.max(1e-9, total - j.stepsDone),
      });
    });
  }
}
