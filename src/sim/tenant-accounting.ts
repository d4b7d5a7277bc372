import type { ClusterSpec, RoundPlan } from '../model/index.js';
import type { TenantTree } from '../model/tenants.js';
import type { EngineObserver, RoundInfo } from '../engine/types.js';
import type { Policy, PolicyResult, PolicySnapshot } from '../policies/types.js';
import { DEFAULT_TENANT, entitlements, tenantProblem } from '../policies/tenant-model.js';

/**
 * Per-tenant accounting of a run (docs/tenants.md, "Output"): what each leaf tenant was entitled to, what it got in
 * normalised throughput (reference-GPU equivalents of its own jobs), how often it got less than its guarantee's
 * worth while it had jobs, and the GPU-hours it borrowed and lent. Any policy can be measured, so the count-based
 * baseline and `tenant_quota` are judged by the same yardstick.
 *
 * Two hooks: `wrap(policy)` sees every snapshot (the jobs' normalised values per type and the entitlements, which
 * change only when the active jobs do, i.e. at allocations); `observer` sees every round's plan. A round is
 * credited with what its plan runs for the whole round (a job that finishes early is counted to the round's end).
 */

export interface TenantReport {
  readonly tenant: string;
  /** Time-average over rounds with demand of the entitlement (normalised units), and of what was received. */
  readonly entitlement: number;
  readonly receivedNormalizedThroughput: number;
  /** received / entitlement (null without an entitlement). */
  readonly receivedOverEntitlement: number | null;
  /** Rounds with at least one active job. */
  readonly roundsWithDemand: number;
  /** Fraction of those rounds (with an entitlement > 0) in which it received less than `threshold` x entitlement. */
  readonly fractionRoundsBelowGuarantee: number | null;
  /** Lowest received/entitled over accounting periods in which it had demand throughout (null: none). */
  readonly worstPeriodRatio: number | null;
  /** GPU-hours above its guarantee (GPU guarantees only; null otherwise), and of its guarantee used by others. */
  readonly borrowedGpuHours: number | null;
  readonly lentGpuHours: number | null;
  readonly gpuHours: Readonly<Record<string, number>>;
  readonly jobs: number;
}

export interface TenantAccountingOptions {
  /** Rounds per accounting period (default 10: one hour of 360 s rounds). */
  readonly periodRounds?: number;
  /** Fraction of the entitlement below which a round counts as below guarantee (default 0.95). */
  readonly threshold?: number;
  /** Keep every round's figures per tenant (`series()`), for benchmarks and plots of small runs. */
  readonly keepRounds?: boolean;
}

/** One round of one tenant (`TenantAccountingOptions.keepRounds`). */
export interface TenantRound {
  readonly start: number;
  readonly end: number;
  readonly tenant: string;
  readonly activeJobs: number;
  readonly gpus: readonly number[];
  readonly received: number;
  readonly entitlement: number;
}

interface PerTenant {
  active: number;
  jobs: number;
  demandRounds: number;
  guardedRounds: number;
  belowRounds: number;
  demandSeconds: number;
  eSum: number;
  uSum: number;
  borrowed: number;
  lent: number;
  gpuSeconds: number[];
  period: { rounds: number; e: number; u: number; broken: boolean };
  worst: number | null;
}

export class TenantAccounting {
  private readonly types: readonly string[];
  private readonly caps: number[];
  private readonly per = new Map<string, PerTenant>();
  private readonly value = new Map<string, Float64Array>();
  private readonly ent = new Map<string, number>();
  private readonly guaranteeGpus = new Map<string, number[]>();
  private plan: RoundPlan | undefined;
  private readonly periodRounds: number;
  private readonly threshold: number;
  private readonly kept: TenantRound[] | undefined;
  readonly observer: EngineObserver;

  constructor(
    private readonly tree: TenantTree | undefined,
    cluster: ClusterSpec,
    private readonly tenantOf: (jobId: string) => string | undefined,
    opts: TenantAccountingOptions = {},
  ) {
    this.types = cluster.gpuTypes;
    this.caps = cluster.gpuTypes.map((t) => cluster.gpus[t] ?? 0);
    this.periodRounds = opts.periodRounds ?? 10;
    this.threshold = opts.threshold ?? 0.95;
    this.kept = opts.keepRounds ? [] : undefined;
    const walk = (nodes: TenantTree['roots']): void => {
      for (const n of nodes) {
        if (n.children.length === 0) {
          this.get(n.name);
          if (n.guarantee?.kind === 'gpus') {
            const g = n.guarantee.gpus;
            this.guaranteeGpus.set(n.name, this.types.map((t) => g[t] ?? 0));
          }
        } else walk(n.children);
      }
    };
    if (tree) walk(tree.roots);
    this.observer = {
      onJobArrived: (id) => {
        const p = this.get(this.tenant(id));
        p.active++;
        p.jobs++;
      },
      onJobFinished: (id) => this.leave(id),
      onJobRemoved: (id) => this.leave(id),
      onPlan: (plan) => {
        this.plan = plan;
      },
      onRound: (info) => this.round(info),
    };
  }

  /** The policy, recording each snapshot's normalised job values and entitlements on the way. */
  wrap(policy: Policy): Policy {
    return {
      meta: policy.meta,
      allocate: (snapshot: PolicySnapshot): PolicyResult => {
        this.record(snapshot);
        return policy.allocate(snapshot);
      },
    };
  }

  private tenant(id: string): string {
    return this.tenantOf(id) ?? DEFAULT_TENANT;
  }

  private get(t: string): PerTenant {
    let p = this.per.get(t);
    if (!p) {
      p = { active: 0, jobs: 0, demandRounds: 0, guardedRounds: 0, belowRounds: 0, demandSeconds: 0, eSum: 0, uSum: 0, borrowed: 0, lent: 0, gpuSeconds: this.types.map(() => 0), period: { rounds: 0, e: 0, u: 0, broken: false }, worst: null };
      this.per.set(t, p);
    }
    return p;
  }

  private leave(id: string): void {
    const p = this.get(this.tenant(id));
    p.active = Math.max(0, p.active - 1);
  }

  private record(snapshot: PolicySnapshot): void {
    const tp = tenantProblem(snapshot, this.tree);
    const e = entitlements(tp, 'tenant accounting');
    this.ent.clear();
    tp.flat.nodes.forEach((n, i) => {
      if (n.children.length === 0) this.ent.set(n.name, e[i]!);
    });
    for (let j = 0; j < tp.p.jobs.length; j++) this.value.set(tp.p.jobs[j]!.id, tp.value[j]!);
  }

  private round(info: RoundInfo): void {
    const dur = info.end - info.start;
    const K = this.types.length;
    const used = new Map<string, number[]>();
    const u = new Map<string, number>();
    for (const a of this.plan?.assignments ?? []) {
      const k = this.types.indexOf(a.gpuType);
      if (k < 0) continue;
      const part = 1 / a.jobIds.length;
      for (const id of a.jobIds) {
        const t = this.tenant(id);
        let row = used.get(t);
        if (!row) used.set(t, (row = new Array<number>(K).fill(0)));
        row[k] = row[k]! + a.gpus.length * part;
        u.set(t, (u.get(t) ?? 0) + (this.value.get(id)?.[k] ?? 0) * part);
      }
    }
    this.plan = undefined;
    // Borrowing beyond the GPUs nobody is guaranteed is attributed to the lenders in proportion to what they left unused.
    const borrowedOn = new Array<number>(K).fill(0);
    const unusedOn = new Array<number>(K).fill(0);
    const guaranteedOn = new Array<number>(K).fill(0);
    for (const [t, g] of this.guaranteeGpus) {
      const row = used.get(t) ?? new Array<number>(K).fill(0);
      for (let k = 0; k < K; k++) {
        guaranteedOn[k] = guaranteedOn[k]! + g[k]!;
        borrowedOn[k] = borrowedOn[k]! + Math.max(0, row[k]! - g[k]!);
        unusedOn[k] = unusedOn[k]! + Math.max(0, g[k]! - row[k]!);
      }
    }
    for (const [t, p] of this.per) {
      const row = used.get(t) ?? new Array<number>(K).fill(0);
      for (let k = 0; k < K; k++) p.gpuSeconds[k] = p.gpuSeconds[k]! + row[k]! * dur;
      const g = this.guaranteeGpus.get(t);
      if (g) {
        for (let k = 0; k < K; k++) {
          p.borrowed += Math.max(0, row[k]! - g[k]!) * dur;
          const fromLenders = Math.max(0, borrowedOn[k]! - Math.max(0, this.caps[k]! - guaranteedOn[k]!));
          const unused = Math.max(0, g[k]! - row[k]!);
          if (unusedOn[k]! > 0) p.lent += (unused * Math.min(1, fromLenders / unusedOn[k]!)) * dur;
        }
      }
      this.kept?.push({ start: info.start, end: info.end, tenant: t, activeJobs: p.active, gpus: row, received: u.get(t) ?? 0, entitlement: p.active > 0 ? (this.ent.get(t) ?? 0) : 0 });
      if (p.active === 0) {
        if (p.period.rounds > 0) p.period.broken = true;
        this.closePeriod(p);
        continue;
      }
      const e = this.ent.get(t) ?? 0;
      const got = u.get(t) ?? 0;
      p.demandRounds++;
      p.demandSeconds += dur;
      p.eSum += e * dur;
      p.uSum += got * dur;
      if (e > 1e-9) {
        p.guardedRounds++;
        if (got < this.threshold * e) p.belowRounds++;
      }
      p.period.rounds++;
      p.period.e += e * dur;
      p.period.u += got * dur;
      if (p.period.rounds >= this.periodRounds) this.closePeriod(p);
    }
  }

  private closePeriod(p: PerTenant): void {
    const q = p.period;
    if (q.rounds >= this.periodRounds && !q.broken && q.e > 1e-9) {
      const r = q.u / q.e;
      p.worst = p.worst === null ? r : Math.min(p.worst, r);
    }
    p.period = { rounds: 0, e: 0, u: 0, broken: false };
  }

  /** Every round's figures (empty unless `keepRounds`). */
  series(): readonly TenantRound[] {
    return this.kept ?? [];
  }

  /** One report per tenant, sorted by name. */
  reports(): TenantReport[] {
    return [...this.per.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([tenant, p]) => {
        const e = p.demandSeconds > 0 ? p.eSum / p.demandSeconds : 0;
        const got = p.demandSeconds > 0 ? p.uSum / p.demandSeconds : 0;
        const g = this.guaranteeGpus.has(tenant);
        return {
          tenant,
          entitlement: e,
          receivedNormalizedThroughput: got,
          receivedOverEntitlement: e > 1e-9 ? got / e : null,
          roundsWithDemand: p.demandRounds,
          fractionRoundsBelowGuarantee: p.guardedRounds > 0 ? p.belowRounds / p.guardedRounds : null,
          worstPeriodRatio: p.worst,
          borrowedGpuHours: g ? p.borrowed / 3600 : null,
          lentGpuHours: g ? p.lent / 3600 : null,
          gpuHours: Object.fromEntries(this.types.map((t, k) => [t, p.gpuSeconds[k]! / 3600])),
          jobs: p.jobs,
        };
      });
  }
}

/** Calls every observer's hooks in turn. */
export function combineObservers(...list: readonly (EngineObserver | undefined)[]): EngineObserver {
  const obs = list.filter((o): o is EngineObserver => o !== undefined);
  return {
    onPlan: (plan) => obs.forEach((o) => o.onPlan?.(plan)),
    onRound: (info) => obs.forEach((o) => o.onRound?.(info)),
    onJobArrived: (id, t) => obs.forEach((o) => o.onJobArrived?.(id, t)),
    onJobFinished: (id, t) => obs.forEach((o) => o.onJobFinished?.(id, t)),
    onJobRemoved: (id, t, why) => obs.forEach((o) => o.onJobRemoved?.(id, t, why)),
    onAllocation: (t, rows, s) => obs.forEach((o) => o.onAllocation?.(t, rows, s)),
  };
}
