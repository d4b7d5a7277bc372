import { policyJob, type Assignment, type ClusterSpec, type Job, type RoundPlan } from '../../model/index.js';
import { shapeProblem, WhyBook } from './why.js';
import { changeBudgetNow, runEngine, type ClusterView, type EngineConfig, type EnginePersistence, type ExecJob, type RoundReport } from '../../engine/index.js';
import type { PolicyJob, PolicySnapshot } from '../../policies/types.js';
import type { LoadedPolicy } from './policy-source.js';
import { PolicyRunner } from './policy-runner.js';
import { commitPlan, planProgress } from './executor.js';
import type { JobRow, Store, WorkerRow } from './store/index.js';
import type { LiveThroughputs, TypeThroughput } from '../../estimate/index.js';
import { SavedEngineState } from './engine-state.js';
import { recordUse } from './use-history.js';
import { engineJob, namedJob, StoreJobSource } from './job-source.js';
import { buildCluster, globalGpu, liveThroughput, type LiveCluster } from './live-cluster.js';
import { backfillGapMs, planAheadMs, turn, type RuntimeTiming } from './timing.js';
import type { SchedulerStats } from './scheduler-stats.js';
import type { LivePrices } from './prices.js';
import { loopSections } from './loop-sections.js';

// The scheduler's public API as before the split into the sibling files above.
export { buildCluster, type LiveCluster } from './live-cluster.js';
export { decodeState, encodeState, encodeStateSliced } from './engine-state.js';
export type { SchedulerStats } from './scheduler-stats.js';
export { DEFAULT_TIMING, planAheadMs, UNKNOWN_TOTAL_STEPS, type RuntimeTiming } from './timing.js';

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
 * The pieces live beside this file: timing.ts, live-cluster.ts, job-source.ts, executor.ts (lease commit, progress),
 * engine-state.ts (saved state), scheduler-stats.ts, policy-runner.ts (calling the policy); this class wires them into
 * `runEngine`.
 */

/** A fixed change budget, or one read at each plan (EngineConfig.maxChanges). */
export type MaxChanges = NonNullable<EngineConfig['maxChanges']>;

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
  /** The policy's calls: on its thread or inline, quarantine, the latest allocation (policy-runner.ts). */
  private readonly runner: PolicyRunner;
  /** The engine's state in the store, written at most once a heartbeat. */
  private readonly saved: SavedEngineState;
  /** When the engine last resumed after yielding to the event loop (undefined while it waits): see `yielded`. */
  private resumedAt: number | undefined;
  readonly stats: SchedulerStats = {
    rounds: 0,
    lastRound: 0,
    lastPlanMs: 0,
    lastPlanCpuMs: 0,
    lastSolverMs: 0,
    lastPlanReadyMs: 0,
    lastPlanPolicyMs: 0,
    lastCommitMs: 0,
    lastWhyMs: 0,
    solverMsSum: 0,
    solverCount: 0,
    lastRoundGapMs: 0,
    lastPlanAt: 0,
    quarantined: 0,
    quarantinedJobs: [],
    changeBudget: null,
  };
  readonly epochMs: number;
  /** The planner's latest reason per waiting job and each job's last preemption (served to the job page). */
  readonly why = new WhyBook((id) => {
    const j = this.store.getJob(id);
    return j ? shapeProblem(j, this.liveWorkers()) : null;
  });
  /** `serve --prices`/`--prices-url` (prices.ts): the policy's prices; a move past the threshold re-solves. */
  livePrices: LivePrices | undefined;
  /** More gauges for /metrics from parts beside the scheduler (the Kubernetes driver's write rate). */
  readonly gauges: Array<() => ReadonlyArray<{ readonly name: string; readonly help: string; readonly value: number }>> = [];

  constructor(
    private readonly store: Store,
    readonly timing: RuntimeTiming,
    private readonly policy: LoadedPolicy,
    private readonly log: (msg: string) => void = () => {},
    /** Known job types' throughputs and estimates for the rest; without it, unmeasured types count as equally fast. */
    private readonly throughputs?: LiveThroughputs,
    /**
     * Work-conserving rounds (engine's backfill phase): a job that arrives while GPUs are idle, or a GPU freed early
     * (finish, failure, cancel), is used at once instead of at the next round. `rondo serve --no-backfill` turns it off.
     */
    private readonly backfill = true,
    /**
     * Change budget per round (`rondo serve --max-changes`, EngineConfig.maxChanges): a number, or a function read
     * at each plan (`serve --kube`'s automatic budget, src/kube/change-budget.ts); undefined: no limit.
     */
    private readonly maxChanges?: MaxChanges,
  ) {
    const e = store.getMeta('epoch_ms');
    if (e === undefined) {
      this.epochMs = Date.now();
      store.setMeta('epoch_ms', String(this.epochMs));
    } else this.epochMs = Number(e);
    this.saved = new SavedEngineState(store, policy, timing.heartbeatMs, log);
    this.runner = new PolicyRunner(policy, (jobId, error) => this.quarantine(jobId, error), {
      yielded: (at) => this.yielded(at),
      resumed: () => this.resumed(),
    });
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
    if (w && w.state === 'gone' && w.replacedBy === null) {
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
        loopSections.time('scheduler: reap', () => this.reap());
      } catch (e) {
        this.log(`scheduler error: ${(e as Error).stack ?? String(e)}`);
      }
    }, this.timing.heartbeatMs);
    this.runner.startThread();
    this.loopDone = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.reaper);
    this.abort.abort();
    this.wake?.();
    await this.loopDone;
    await this.runner.closeThread();
    this.saved.flush();
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
        this.saved.flush(); // a restarted engine loads what the last one saved
        await runEngine(this.engineConfig());
      } catch (e) {
        if (this.stopped) break;
        // The engine resumes from the state it saved after its last round.
        this.log(`scheduler error: ${(e as Error).stack ?? String(e)}`);
      }
      if (!this.stopped) await this.sleepUntilMs(Date.now() + this.timing.heartbeatMs, false);
    }
  }

  /** The budget for a plan made now, kept in the stats for /metrics. */
  private changeBudget(): number | undefined {
    const b = changeBudgetNow({ maxChanges: this.maxChanges });
    this.stats.changeBudget = b ?? null;
    return b;
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
      policy: this.runner.inline(),
      clock: {
        now: () => this.nowS(Date.now()),
        sleepUntil: async (t) => {
          this.yielded('sleep');
          await this.sleepUntilMs(this.epochMs + t * 1000, true);
          this.resumed();
        },
      },
      // Each read of the store by the engine (new jobs, jobs that left, the cluster) starts a turn of its own.
      executor: {
        observe: async () => {
          await this.yieldTurn('observe');
          return loopSections.time('scheduler: observe (store reads)', () => this.observe());
        },
        runRound: (plan, jobs) => this.runRound(plan, jobs),
        release: (id) => this.why.forget(id),
      },
      source: new StoreJobSource(
        this.store,
        (j) => this.toJob(j),
        async (before) => {
          await this.yieldTurn(before);
        },
      ),
      roundDuration: this.timing.roundMs / 1000,
      throughputOf: (job, cluster) => liveThroughput(cluster, this.measured.get(job.id) ?? {}, namedJob(job), this.throughputs),
      currentThroughputOf: (job, _steps, cluster) => liveThroughput(cluster, this.measured.get(job.id) ?? {}, namedJob(job), this.throughputs),
      // Recompute on every arrival, completion and change of the cluster (no minimum interval) as the runtime did.
      minReallocationInterval: 0,
      recomputeWhenIdle: true,
      backfill: this.backfill,
      ...(this.maxChanges !== undefined ? { maxChanges: () => this.changeBudget() } : {}),
      keepHistory: false,
      persist: this.persistence(),
      ...(this.livePrices ? { priceFeed: this.livePrices.feed() } : {}),
      signal: this.abort.signal,
      stopwatch: () => performance.now() / 1000,
      live: {
        // Requests that arrived during a stage are served before the next one.
        pause: async (after: string) => {
          await this.yieldTurn(`pause after ${after}`);
        },
        ...(this.runner.hasThread
          ? {
              allocate: async (s: PolicySnapshot) => {
                this.yielded('policy');
                const r = await this.runner.onThread(s);
                this.resumed();
                return r;
              },
            }
          : {}),
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
        onRound: (info) => this.policy.tenants?.onRound(this.store, this.stats.lastRound, this.epochMs + info.start * 1000, info.end - info.start),
      },
    };
  }

  /**
   * The engine's work since it last resumed, up to a point where it yields to the event loop (`at`), is one
   * section of the loop (loop-sections.ts), named after that point: e.g. "before pause after the plan" is the plan.
   */
  private yielded(at: string): void {
    if (this.resumedAt !== undefined) loopSections.add(`engine: work before ${at}`, performance.now() - this.resumedAt);
    this.resumedAt = undefined;
  }

  private resumed(): void {
    this.resumedAt ??= performance.now();
  }

  /** A turn of the event loop for requests that arrived, with the work since the last one timed as `engine: work before <at>`. */
  private async yieldTurn(at: string): Promise<void> {
    this.yielded(at);
    await turn();
    this.resumed();
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
        const state = this.saved.load();
        if (state) this.runner.restore(state.allocation);
        return state;
      },
      save: (state) => this.saved.save(state),
    };
  }

  private toJob(j: JobRow): Job {
    return engineJob(j, this.epochMs);
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
    // A backfill plan places rows on free GPUs only: its reasons would describe that partial view, so the round's stand.
    // The reasons are recorded in slices with a turn between them; lastWhyMs is the longest slice.
    let longestWhy = 0;
    if (!plan.backfill) {
      let sliceAt = performance.now();
      const endSlice = (): void => {
        const ms = performance.now() - sliceAt;
        loopSections.add('round: why record (a slice)', ms);
        longestWhy = Math.max(longestWhy, ms);
      };
      await this.why.recordSliced(plan, round, now, async () => {
        endSlice();
        await this.yieldTurn('a slice of the why record');
        sliceAt = performance.now();
      });
      endSlice();
    }
    this.stats.lastWhyMs = longestWhy;
    // After a restart the engine plans at once; the round still starts when the one before the restart ends. A
    // backfill plan starts now, on GPUs no lease holds, and ends with the current round.
    const startMs = plan.backfill ? now : Math.round(Math.max(this.epochMs + plan.start * 1000, last ? last.start + last.duration : 0));
    const endMs = plan.backfill ? Math.round(this.epochMs + (plan.start + plan.duration) * 1000) : startMs + this.timing.roundMs;
    if (plan.backfill && plan.assignments.length === 0) return this.awaitRound(plan, jobs, endMs, false);
    // The record, the commit and the use history each get a turn of their own (requests are served between them);
    // the commit reads the open attempts in its own turn, and checks each job again as it places it.
    if (!plan.backfill) await this.yieldTurn('the why record');
    const commitAt = performance.now();
    const open = this.store.openAttempts();
    commitPlan(this.store, this.live, plan, open, {
      round,
      startMs,
      endMs,
      plannedAt: now,
      // A backfill row lasts until the round's end, not a round length: the next round starts at the last row's end.
      durationMs: endMs - startMs,
      policy: this.policy.name,
      solverMs: this.stats.lastSolverMs,
      allocationJson: () => this.runner.lastJson(),
    });
    this.stats.lastCommitMs = performance.now() - commitAt;
    loopSections.add(plan.backfill ? 'round: commit (backfill)' : 'round: commit', this.stats.lastCommitMs);
    await this.yieldTurn('the commit');
    // GPU use as planned, kept for the heterogeneity view (use-history.ts).
    loopSections.time('round: use history', () =>
      recordUse(this.store, this.live, { round, startMs, endMs }, { measured: this.measured, known: this.throughputs }, this.log),
    );
    if (last) this.stats.lastRoundGapMs = startMs - last.start;
    this.stats.rounds++;
    this.stats.lastRound = round;
    this.stats.lastPlanAt = now;
    this.stats.lastPlanMs = performance.now() - this.planStartedAt;
    const cpu = process.cpuUsage(this.planCpuAt);
    this.stats.lastPlanCpuMs = (cpu.user + cpu.system) / 1000;
    // The change budget cut this plan while GPUs stay free: another backfill pass follows after the gap (not only at
    // the next poke), so free GPUs fill at N starts a pass rather than waiting for the next round.
    return this.awaitRound(plan, jobs, endMs, this.backfill && plan.budgetLimited === true);
  }

  /**
   * Waits until the next round must be planned and reports. A slow plan (a large LP) starts earlier next time, so
   * extensions still reach workers before their leases end. With backfill, a poke (a submit, an attempt that ended)
   * ends the wait early: the report then says the round goes on (`backfillUntil`) so the engine can fill idle GPUs.
   * `followUp` (a plan the change budget cut while GPUs stay free) ends it after the backfill gap without a poke.
   * Either way passes come at most one a gap, and none once the next round must be planned (`planAt`).
   */
  private async awaitRound(plan: RoundPlan, jobs: ReadonlyMap<string, ExecJob>, endMs: number, followUp: boolean): Promise<RoundReport> {
    const planAt = endMs - planAheadMs(this.timing, this.stats.lastPlanMs);
    this.yielded('the round wait');
    const waitFrom = Date.now();
    if (!followUp) await this.sleepUntilMs(planAt, this.backfill);
    // Poked early (a GPU freed, a job submitted): the next backfill pass comes a little after this one at the soonest.
    const gapEnd = Math.min(planAt, waitFrom + backfillGapMs(this.timing));
    if (this.backfill && !this.stopped && Date.now() < gapEnd) await this.sleepUntilMs(gapEnd, false);
    // The follow-up pass looks at everything after this point: a poke before it asks for nothing more.
    if (followUp) this.dirty = false;
    this.resumed();
    const early = this.backfill && !this.stopped && Date.now() < planAt;
    return loopSections.time('scheduler: round report (store reads)', () => this.report(plan, jobs, endMs, early));
  }

  /** Steps and run time of the plan's jobs since the last report, from the store (workers report into it). */
  private report(plan: RoundPlan, jobs: ReadonlyMap<string, ExecJob>, endMs: number, early = false): RoundReport {
    const nowMs = Date.now();
    const totals = this.receivedTotals(nowMs);
    const progress = planProgress(this.store, plan, jobs, totals, this.received, (ms) => this.nowS(ms ?? nowMs));
    // A backfill plan reports only its own jobs: the others' time since the last report is credited when they are next
    // reported.
    if (plan.backfill) for (const p of progress) this.received.set(p.jobId, totals.get(p.jobId) ?? 0);
    else this.received = totals;
    return early ? { end: this.nowS(nowMs), progress, backfillUntil: this.nowS(endMs) } : { end: this.nowS(endMs), progress };
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
