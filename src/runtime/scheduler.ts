import type { Allocation, Assignment, ClusterSpec, RoundPlan, Server } from '../model/index.js';
import {
  addRows,
  creditRuns,
  emptyLedger,
  planRound,
  removeRows,
  resetLedger,
  type MechanismRow,
  type RunCredit,
  type ShareLedger,
} from '../mechanism/index.js';
import type { PolicyJob } from '../policies/types.js';
import type { LoadedPolicy } from './policy-source.js';
import type { AttemptRow, JobRow, Store, WorkerRow } from './store.js';

/**
 * The runtime's round driver. Every round it builds a policy snapshot from the store and the live workers, asks the
 * shared policy registry for an allocation and the shared mechanism (`planRound`, src/mechanism) for a round plan,
 * and turns the plan into leases in the store: a job that keeps its GPUs gets its lease extended, any other placed
 * job gets a new attempt. Workers pull their leases (see server.ts `sync`) and stop a process when its lease ends.
 *
 * This is a minimal, wall-clock loop of its own: the shared engine loop (src/engine) had only its interfaces when this
 * was written, and it plans at the start of a round, while leases need the next round planned a little before the
 * current one ends (so an extension reaches the worker before it would stop the job). See docs/runtime.md.
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
  lastSolverMs: number;
  solverMsSum: number;
  solverCount: number;
  lastRoundGapMs: number;
  lastPlanAt: number;
}

export class Scheduler {
  private readonly lastSeen = new Map<string, number>();
  private readonly bootAt = Date.now();
  private ledger: ShareLedger = emptyLedger([]);
  private allocation: Allocation | undefined;
  private allocationKey = '';
  private policyState: unknown;
  private receivedSoFar = new Map<string, Record<string, number>>();
  private stopped = false;
  /** Something changed since the last plan (submit, worker joined): an idle round may be cut short. */
  private dirty = false;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  readonly stats: SchedulerStats = {
    rounds: 0,
    lastRound: 0,
    lastPlanMs: 0,
    lastSolverMs: 0,
    solverMsSum: 0,
    solverCount: 0,
    lastRoundGapMs: 0,
    lastPlanAt: 0,
  };
  readonly epochMs: number;

  constructor(
    private readonly store: Store,
    readonly timing: RuntimeTiming,
    private readonly policy: LoadedPolicy,
    private readonly log: (msg: string) => void = () => {},
  ) {
    const e = store.getMeta('epoch_ms');
    if (e === undefined) {
      this.epochMs = Date.now();
      store.setMeta('epoch_ms', String(this.epochMs));
    } else this.epochMs = Number(e);
  }

  get policyName(): string {
    return this.policy.name;
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

  // ---- the loop ----

  start(): void {
    if (this.loopDone) return;
    this.loopDone = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loopDone;
  }

  /** Asks the loop to look again now (a job was submitted, a worker joined). */
  poke(): void {
    this.dirty = true;
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
      const t = setTimeout(done, Math.max(0, ms));
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        // A slow plan (a large LP) starts earlier, so extensions still reach workers before their leases end.
        const ahead = planAheadMs(this.timing, this.stats.lastPlanMs);
        const now = Date.now();
        this.reap(now);
        const last = this.store.lastRoundInfo();
        const lastEnd = last ? last.start + last.duration : 0;
        const planAt = lastEnd - ahead;
        // An idle round (nothing placed) is cut short when work shows up, so a job submitted to an idle cluster does
        // not wait out a whole round.
        const idle = !last || last.assignments === 0;
        const work = idle && this.dirty && this.store.hasActiveJobs() && this.liveWorkers().length > 0;
        if (now >= planAt || work) {
          this.planNext(Math.max(now, work ? now : lastEnd));
          await new Promise<void>((r) => setImmediate(r)); // never starve the HTTP server, whatever the loop decides
          continue;
        }
        await this.sleep(Math.min(planAt - now, this.timing.heartbeatMs));
      } catch (e) {
        this.log(`scheduler error: ${(e as Error).stack ?? String(e)}`);
        await this.sleep(this.timing.heartbeatMs);
      }
    }
  }

  private nowS(ms: number): number {
    return (ms - this.epochMs) / 1000;
  }

  /** Plans the round that starts at `startMs` and commits its leases. Public for tests and `whatif`-style tools. */
  planNext(startMs: number): RoundPlan {
    const t0 = performance.now();
    this.dirty = false;
    const now = Date.now();
    const last = this.store.lastRoundInfo();
    const round = (last?.round ?? 0) + 1;
    const roundS = this.timing.roundMs / 1000;
    const endMs = startMs + this.timing.roundMs;
    const live = buildCluster(this.liveWorkers());
    const { cluster } = live;
    const jobs = this.store.activeJobs().filter((j) => !j.cancelRequested);
    const open = this.store.openAttempts();

    const policyJobs = this.policyJobs(cluster, live, jobs);
    const rows: MechanismRow[] = policyJobs.map((p) => ({ key: p.id, jobIds: [p.id], scaleFactor: p.scaleFactor, throughput: p.throughput }));

    // Recompute the allocation when the set of jobs or the cluster changed (Gavel does it on arrivals and
    // completions); the ledger starts a new accounting period with it.
    const key = JSON.stringify([cluster.gpuTypes, cluster.gpus, rows.map((r) => [r.key, r.throughput.map((x) => x > 0)])]);
    let solverMs = 0;
    const nowS = this.nowS(now);
    if (key !== this.allocationKey || !this.allocation) {
      const s0 = performance.now();
      const result =
        rows.length === 0 || cluster.totalGpus === 0
          ? { allocation: { gpuTypes: cluster.gpuTypes, shares: new Map() } as Allocation, state: this.policyState }
          : this.policy.allocate({ now: nowS, cluster, jobs: policyJobs, state: this.policyState });
      solverMs = performance.now() - s0;
      this.stats.lastSolverMs = solverMs;
      this.stats.solverMsSum += solverMs;
      this.stats.solverCount++;
      const prevAlloc = this.allocation;
      this.allocation = result.allocation;
      this.policyState = result.state;
      this.allocationKey = key;
      if (this.ledger.gpuTypes.join() !== cluster.gpuTypes.join()) this.ledger = emptyLedger(cluster.gpuTypes);
      else this.ledger = resetLedger(this.ledger, prevAlloc, nowS, roundS);
    }
    const activeIds = new Set(rows.map((r) => r.key));
    this.ledger = removeRows(this.ledger, [...this.ledger.jobTime.keys()].filter((k) => !activeIds.has(k)));
    this.ledger = addRows(this.ledger, rows.map((r) => r.key), roundS);
    this.ledger = creditRuns(this.ledger, this.newCredits(now, cluster));

    // Last round's placement, in this round's GPU ids, from the attempts still open.
    const previous: Assignment[] = [];
    for (const a of open) {
      const gpus = a.gpus.map((d) => globalGpu(live, a.workerId, a.gpuType, d));
      if (gpus.some((g) => g === undefined)) continue;
      previous.push({ jobIds: [a.jobId], gpuType: a.gpuType, gpus: gpus as number[], consolidated: true, leaseExtended: false });
    }
    const out = planRound({
      round,
      now: this.nowS(startMs),
      roundDuration: roundS,
      cluster,
      rows,
      allocation: this.allocation,
      ledger: this.ledger,
      previous,
      skipZeroPriority: this.policy.fifo,
    });

    const placed: Array<{ assignment: Assignment; workerId: string; devices: number[]; attempt: number; extended: boolean }> = [];
    this.store.tx(() => {
      const openByJob = new Map<string, AttemptRow[]>();
      for (const a of open) openByJob.set(a.jobId, [...(openByJob.get(a.jobId) ?? []), a]);
      const keep = new Set<number>();
      for (const asg of out.plan.assignments) {
        const where = asg.gpus.map((g) => locate(live, g));
        const workerId = where[0]?.workerId;
        if (!workerId || where.some((w) => !w || w.workerId !== workerId)) continue; // spread over machines: skip
        const devices = where.map((w) => w!.device).sort((a, b) => a - b);
        const jobId = asg.jobIds[0]!;
        const same = (openByJob.get(jobId) ?? []).find(
          (a) => a.workerId === workerId && a.gpuType === asg.gpuType && a.gpus.length === devices.length && a.gpus.every((d) => devices.includes(d)),
        );
        if (same) {
          this.store.extendLease(same.id, endMs, round);
          keep.add(same.id);
          placed.push({ assignment: asg, workerId, devices, attempt: same.id, extended: true });
        } else {
          const a = this.store.createAttempt({ jobId, workerId, round, gpuType: asg.gpuType, gpus: devices, notBefore: startMs, leaseEnd: endMs });
          keep.add(a.id);
          placed.push({ assignment: asg, workerId, devices, attempt: a.id, extended: false });
        }
      }
      // Leases never delivered to their worker, and not in this plan: withdraw them (a delivered one may be running).
      for (const a of open) {
        if (!keep.has(a.id) && a.state === 'leased' && a.deliveredAt === null) {
          this.store.endAttempt(a.id, 'preempted', { message: 'not placed in the next round before it was delivered' });
        }
      }
      this.store.saveRound({
        round,
        start: startMs,
        duration: this.timing.roundMs,
        plannedAt: now,
        policy: this.policy.name,
        solverMs,
        allocation: {
          gpuTypes: this.allocation?.gpuTypes ?? [],
          shares: Object.fromEntries([...(this.allocation?.shares ?? new Map<string, readonly number[]>())].map(([k, v]) => [k, [...v]])),
        },
        plan: {
          assignments: placed.map((p) => ({
            jobId: p.assignment.jobIds[0],
            workerId: p.workerId,
            gpuType: p.assignment.gpuType,
            devices: p.devices,
            attempt: p.attempt,
            leaseExtended: p.extended,
          })),
        },
      });
    });
    if (last) this.stats.lastRoundGapMs = startMs - last.start;
    this.stats.rounds++;
    this.stats.lastRound = round;
    this.stats.lastPlanAt = now;
    this.stats.lastPlanMs = performance.now() - t0;
    return { ...out.plan, assignments: placed.map((p) => p.assignment) };
  }

  /** Active jobs (not being cancelled) as the policy sees them, on this cluster. */
  policyJobs(cluster: ClusterSpec, live: LiveCluster, jobs: readonly JobRow[] = this.store.activeJobs().filter((j) => !j.cancelRequested)): PolicyJob[] {
    // Largest gang one worker can hold per type: the runtime does not launch one job across machines.
    const maxPerWorker = cluster.gpuTypes.map((t) => Math.max(0, ...live.servers.filter((s) => s.gpuType === t).map((s) => s.server.gpus)));
    const measured = this.store.activeThroughputs();
    return jobs.map((j) => this.policyJob(j, cluster, maxPerWorker, measured.get(j.id) ?? {}));
  }

  get loadedPolicy(): LoadedPolicy {
    return this.policy;
  }

  /** Time received since the last look, from the attempts table (the ledger's credits). */
  private newCredits(now: number, cluster: ClusterSpec): RunCredit[] {
    const totals = this.store.timeReceived(now);
    const credits: RunCredit[] = [];
    for (const [jobId, byType] of totals) {
      const before = this.receivedSoFar.get(jobId) ?? {};
      for (const [t, s] of Object.entries(byType)) {
        const k = cluster.gpuTypes.indexOf(t);
        const d = s - (before[t] ?? 0);
        if (k >= 0 && d > 0 && this.ledger.jobTime.has(jobId)) credits.push({ row: jobId, typeIndex: k, seconds: d });
      }
    }
    this.receivedSoFar = totals;
    return credits;
  }

  /**
   * A job as the policy sees it. Throughput per type: the job's measured steps/s where it has run; on types where
   * it has not, the mean of its measurements (or 1 when it has none), so an unmeasured job is treated as equally
   * fast everywhere until it reports. 0 where the job may not run or no single worker has enough GPUs.
   */
  private policyJob(j: JobRow, cluster: ClusterSpec, maxPerWorker: readonly number[], measured: Record<string, number>): PolicyJob {
    const values = Object.values(measured);
    const fallback = values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : 1;
    const throughput = cluster.gpuTypes.map((t, k) => {
      if (j.gpuTypes && !j.gpuTypes.includes(t)) return 0;
      if (j.scaleFactor > maxPerWorker[k]!) return 0;
      return measured[t] ?? fallback;
    });
    const total = j.reportedTotal ?? j.totalSteps ?? UNKNOWN_TOTAL_STEPS;
    const arrival = this.nowS(j.submittedAt);
    return {
      id: j.id,
      jobType: j.jobType ?? 'unknown',
      scaleFactor: j.scaleFactor,
      priorityWeight: j.priorityWeight,
      throughput,
      totalSteps: total,
      remainingSteps: Math.max(1e-9, total - j.stepsDone),
      arrivalTime: Math.max(0, arrival),
      ...(j.deadlineS !== null ? { deadline: arrival + j.deadlineS } : {}),
      tenant: j.tenant,
      ...(j.gpuTypes ? { allowedGpuTypes: j.gpuTypes } : {}),
    };
  }
}
