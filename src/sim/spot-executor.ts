/**
 * The simulated cloud (issue 23): wraps the simulated workers (SimExecutor) with capacity that comes and goes,
 * revocations, a checkpoint model and billing. docs/formats.md ("Capacity traces") and docs/architecture.md describe
 * the model; in short:
 *
 * - Before every plan the engine asks `observe(now)`: the cluster is the capacity in force at `now` (one GPU per
 *   server), and jobs that kept their GPUs are reported running on them, so their leases can be extended.
 * - When a type's capacity drops inside a round, the lost GPUs are drawn at random (seeded) among all of the type's
 *   GPUs, busy or idle, as a provider reclaims running VMs; a job on one of them stops at the notice time, and the progress since its last checkpoint is lost (reported as negative
 *   steps, which the engine subtracts). The job stays queued and runs again when the policy places it.
 * - Checkpoints: every `intervalS` of continuous run time a job writes one, pausing `costS` seconds (its throughput is
 *   scaled by intervalS / (intervalS + costS)); a planned preemption at a round end checkpoints for free, as in
 *   Gavel. Without an interval only planned preemptions checkpoint.
 * - Billing: a GPU costs the price of its type (tier and region) in force, per second, while a job runs on it.
 */
import { makeCluster, RondoError, seededRandom, type Assignment, type ClusterSpec, type GpuType, type Job, type RoundPlan } from '../model/index.js';
import type { ClusterView, ExecJob, Executor, JobProgress, JobSource, RoundReport } from '../engine/types.js';
import type { SimClock } from './clock.js';
import type { CapacitySchedule, PriceSchedule } from './capacity.js';

export interface CheckpointModel {
  /** Seconds of run time between checkpoints (Infinity: only at planned preemptions). */
  readonly intervalS: number;
  /** Seconds each checkpoint pauses training. */
  readonly costS: number;
}

/** Share of run time that makes progress under a checkpoint model. */
export function checkpointFactor(c: CheckpointModel): number {
  return Number.isFinite(c.intervalS) ? c.intervalS / (c.intervalS + c.costS) : 1;
}

export interface SpotAccounting {
  /** Dollars, all GPUs and tiers. */
  totalCost: number;
  readonly costByType: Record<GpuType, number>;
  readonly costByJob: Map<string, number>;
  /** Job stops caused by revocations. */
  revocations: number;
  /** GPU-seconds of run whose progress a revocation threw away. */
  lostGpuSeconds: number;
  /** GPU-seconds busy per type (after truncation by revocations). */
  readonly busyByType: Record<GpuType, number>;
}

/** One assignment as it ran: for the capacity checks in tests. */
export interface UsageSpan {
  readonly type: GpuType;
  readonly gpus: number;
  readonly start: number;
  readonly end: number;
}

interface Ckpt {
  /** Continuous run seconds since the job's last (re)start. */
  cont: number;
  /** Steps and seconds since the last checkpoint. */
  pendingSteps: number;
  pendingS: number;
}

interface Held {
  readonly a: Assignment;
  readonly offsets: readonly number[];
}

export class SpotExecutor implements Executor {
  readonly accounting: SpotAccounting;
  readonly usage: UsageSpan[] = [];
  private cluster: ClusterSpec | undefined;
  private held = new Map<string, Held>();
  private readonly ckpt = new Map<string, Ckpt>();
  private readonly active = new Set<string>();
  private readonly period: number;

  constructor(
    private readonly clock: SimClock,
    private readonly inner: Executor,
    private readonly capacity: CapacitySchedule,
    private readonly prices: PriceSchedule,
    checkpoint: CheckpointModel,
    private readonly keepUsage = false,
    private readonly seed = 0,
  ) {
    this.period = Number.isFinite(checkpoint.intervalS) ? checkpoint.intervalS + checkpoint.costS : Infinity;
    this.accounting = { totalCost: 0, costByType: {}, costByJob: new Map(), revocations: 0, lostGpuSeconds: 0, busyByType: {} };
    for (const t of capacity.types) {
      this.accounting.costByType[t] = 0;
      this.accounting.busyByType[t] = 0;
    }
  }

  private firstGpu(c: ClusterSpec, type: GpuType): number {
    return c.servers.find((s) => s.gpuType === type)?.firstGpu ?? 0;
  }

  observe(now: number): ClusterView {
    const counts = this.capacity.countsAt(now);
    const cluster = makeCluster(this.capacity.types.map((t) => [t, counts[t]!] as [string, number]), 1);
    this.cluster = cluster;
    const running: Assignment[] = [];
    for (const h of new Set(this.held.values())) {
      if (h.offsets.some((o) => o >= (counts[h.a.gpuType] ?? 0))) continue;
      const first = this.firstGpu(cluster, h.a.gpuType);
      running.push({ ...h.a, gpus: h.offsets.map((o) => first + o), leaseExtended: true });
    }
    return { cluster, running };
  }

  /**
   * Which assignments lose GPUs, and when, over (start, end): at each drop of a type from N to M GPUs, N - M of its
   * N slots are revoked, drawn uniformly (seeded by the run seed, the type and the time): a provider reclaims running
   * VMs, not the ones a scheduler happens to leave idle. Survivors are renumbered into 0..M-1; returns each
   * assignment's revocation time (absent: not revoked) and its slots at the end.
   */
  private revocations(plan: RoundPlan, offsetsOf: ReadonlyMap<Assignment, number[]>, end: number): { at: Map<Assignment, number>; slots: Map<Assignment, number[]> } {
    const at = new Map<Assignment, number>();
    const slots = new Map<Assignment, number[]>([...offsetsOf].map(([a, o]) => [a, [...o]]));
    for (let c = this.capacity.nextChangeAfter(plan.start); c !== undefined && c < end; c = this.capacity.nextChangeAfter(c)) {
      for (const type of this.capacity.types) {
        const n = this.capacity.countAt(type, c - 1e-6);
        const m = this.capacity.countAt(type, c);
        if (m >= n) continue;
        const rng = seededRandom((this.seed * 2654435761 + hashType(type) + Math.round(c * 1000)) >>> 0);
        // Partial Fisher-Yates: n - m distinct victims among slots 0..n-1.
        const pool = Array.from({ length: n }, (_, i) => i);
        for (let i = 0; i < n - m; i++) {
          const j = i + Math.floor(rng() * (n - i));
          [pool[i], pool[j]] = [pool[j]!, pool[i]!];
        }
        const victims = pool.slice(0, n - m).sort((x, y) => x - y);
        const below = (slot: number): number => {
          let k = 0;
          while (k < victims.length && victims[k]! < slot) k++;
          return k;
        };
        for (const [a, list] of slots) {
          if (a.gpuType !== type || at.has(a)) continue;
          if (list.some((o) => victims.includes(o) || o >= n)) at.set(a, c);
          else slots.set(a, list.map((o) => o - below(o)));
        }
      }
    }
    return { at, slots };
  }

  async runRound(plan: RoundPlan, jobs: ReadonlyMap<string, ExecJob>): Promise<RoundReport> {
    const cluster = this.cluster;
    if (!cluster) throw new RondoError({ code: 'E_INVALID', problem: 'spot executor: runRound before observe' });
    const inPlan = new Set<string>();
    for (const a of plan.assignments) {
      for (const id of a.jobIds) {
        inPlan.add(id);
        // A (re)started job resumes from the checkpoint its planned preemption wrote.
        if (!a.leaseExtended || !this.ckpt.has(id)) this.ckpt.set(id, { cont: 0, pendingSteps: 0, pendingS: 0 });
      }
    }
    for (const id of [...this.ckpt.keys()]) if (!inPlan.has(id)) this.ckpt.delete(id);
    const report = await this.inner.runRound(plan, jobs);
    const byJob = new Map(report.progress.map((p) => [p.jobId, p] as const));
    const progress: JobProgress[] = [];
    const held = new Map<string, Held>();
    let end = plan.start;
    const offsetsOf = new Map<Assignment, number[]>();
    let roundEnd = plan.start;
    for (const a of plan.assignments) {
      const first = this.firstGpu(cluster, a.gpuType);
      offsetsOf.set(a, a.gpus.map((g) => g - first));
      for (const id of a.jobIds) {
        const p = byJob.get(id);
        if (p && !p.failed) roundEnd = Math.max(roundEnd, plan.start + p.runTime);
      }
    }
    const rev = this.revocations(plan, offsetsOf, roundEnd);
    for (const a of plan.assignments) {
      const offsets = rev.slots.get(a)!;
      const stops = a.jobIds.map((id) => byJob.get(id)).map((p) => (p && !p.failed ? plan.start + p.runTime : plan.start));
      const runEnd = Math.max(plan.start, ...stops);
      const at = rev.at.get(a);
      const revoked = at !== undefined && at < runEnd ? at : undefined;
      let spanEnd = plan.start;
      for (const id of a.jobIds) {
        const p = byJob.get(id);
        if (!p) continue;
        if (p.failed) {
          progress.push(p);
          continue;
        }
        const stop = plan.start + p.runTime;
        const ck = this.ckpt.get(id)!;
        if (revoked !== undefined && revoked < stop) {
          const runTime = revoked - plan.start;
          const steps = p.runTime > 0 ? (p.steps * runTime) / p.runTime : 0;
          this.advance(ck, runTime, steps);
          this.accounting.revocations++;
          this.accounting.lostGpuSeconds += ck.pendingS * a.gpus.length;
          progress.push({ jobId: id, gpuType: a.gpuType, steps: steps - ck.pendingSteps, runTime, finished: false });
          this.ckpt.delete(id);
          spanEnd = Math.max(spanEnd, revoked);
        } else {
          this.advance(ck, p.runTime, p.steps);
          progress.push(p);
          spanEnd = Math.max(spanEnd, stop);
          if (p.finished) this.ckpt.delete(id);
        }
      }
      this.bill(a, plan.start, spanEnd);
      end = Math.max(end, spanEnd);
      const survivors = a.jobIds.filter((id) => {
        const p = progress.find((q) => q.jobId === id);
        return p && !p.failed && !p.finished && this.ckpt.has(id);
      });
      if (survivors.length === a.jobIds.length) for (const id of a.jobIds) held.set(id, { a, offsets });
    }
    this.held = held;
    this.clock.advanceTo(end);
    return { end, progress };
  }

  /** Moves a job's checkpoint state over `runTime` seconds that made `steps` steps. */
  private advance(ck: Ckpt, runTime: number, steps: number): void {
    const before = ck.cont;
    ck.cont += runTime;
    const lastCkpt = Number.isFinite(this.period) ? Math.floor(ck.cont / this.period) * this.period : 0;
    if (lastCkpt > before) {
      const after = ck.cont - lastCkpt;
      ck.pendingS = after;
      ck.pendingSteps = runTime > 0 ? (steps * after) / runTime : 0;
    } else {
      ck.pendingS += runTime;
      ck.pendingSteps += steps;
    }
  }

  private bill(a: Assignment, start: number, end: number): void {
    if (end <= start) return;
    const usd = this.prices.cost(a.gpuType, a.gpus.length, start, end);
    const acc = this.accounting;
    acc.totalCost += usd;
    acc.costByType[a.gpuType] = (acc.costByType[a.gpuType] ?? 0) + usd;
    acc.busyByType[a.gpuType] = (acc.busyByType[a.gpuType] ?? 0) + (end - start) * a.gpus.length;
    for (const id of a.jobIds) acc.costByJob.set(id, (acc.costByJob.get(id) ?? 0) + usd / a.jobIds.length);
    if (this.keepUsage) this.usage.push({ type: a.gpuType, gpus: a.gpus.length, start, end });
  }

  admitted(jobs: readonly Job[]): void {
    for (const j of jobs) this.active.add(j.id);
  }

  release(jobId: string): void {
    this.active.delete(jobId);
    this.held.delete(jobId);
    this.ckpt.delete(jobId);
    this.inner.release?.(jobId);
  }

  /** The next capacity change while jobs are active, else undefined. */
  nextCapacityChange(now: number): number | undefined {
    return this.active.size > 0 ? this.capacity.nextChangeAfter(now) : undefined;
  }

  /** True while jobs wait and capacity will still change (an outage may end). */
  waitingForCapacity(now: number): boolean {
    return this.active.size > 0 && this.capacity.nextChangeAfter(now) !== undefined;
  }
}

/**
 * A job source that is not exhausted while jobs wait for capacity to come back: the engine would otherwise call a
 * full outage after the last arrival infeasible.
 */
export class CapacityAwareSource implements JobSource {
  constructor(
    private readonly inner: JobSource,
    private readonly executor: SpotExecutor,
    private readonly clock: SimClock,
  ) {}

  async poll(now: number): Promise<readonly Job[]> {
    const jobs = await this.inner.poll(now);
    this.executor.admitted(jobs);
    return jobs;
  }

  /** The next arrival, or sooner the next capacity change while jobs wait, so an outage ends on time. */
  nextArrival(): number | undefined {
    const a = this.inner.nextArrival();
    const c = this.executor.nextCapacityChange(this.clock.now());
    return a === undefined ? c : c === undefined ? a : Math.min(a, c);
  }

  exhausted(): boolean {
    return this.inner.exhausted() && !this.executor.waitingForCapacity(this.clock.now());
  }
}

function hashType(t: string): number {
  let h = 2166136261;
  for (let i = 0; i < t.length; i++) h = Math.imul(h ^ t.charCodeAt(i), 16777619);
  return h >>> 0;
}
