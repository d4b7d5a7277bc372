import { equalShareThroughput } from '../../metrics/index.js';
import { runEngine, type ExecJob, type Executor, type RoundReport } from '../../engine/index.js';
import { jobKey, type Job, type RoundPlan, type ThroughputEntry, type ThroughputTable } from '../../model/index.js';
import type { Policy } from '../../policies/types.js';
import { SimClock, SimExecutor, TraceSource } from '../../sim/index.js';
import type { LoadedPolicy } from './policy-source.js';
import { buildCluster, type Scheduler } from './scheduler.js';
import type { Store } from './store/index.js';

/**
 * "What if": runs the shared engine loop with the simulator's clock and executor forward from the live state (live
 * workers as the cluster, active jobs with their remaining steps and measured throughputs, the server's policy and
 * round length), optionally with one more hypothetical job arriving now. Gives each job's estimated start (first
 * round it runs from now) and finish. Estimates assume no further arrivals and today's throughput estimates.
 */

export interface HypotheticalJob {
  readonly scaleFactor: number;
  /** Steps to do, at `stepsPerSecond` on every allowed type; or `durationS` seconds alone on a GPU. */
  readonly totalSteps?: number;
  readonly stepsPerSecond?: number;
  readonly durationS?: number;
  readonly gpuTypes?: readonly string[];
  readonly priorityWeight?: number;
}

export interface WhatIfJob {
  readonly id: string;
  readonly remainingSteps: number;
  /** Unix ms; null when the job would never run (no GPU type fits it). */
  readonly estimatedStart: number | null;
  readonly estimatedFinish: number | null;
  /** The job never said how long it is: its estimate uses a placeholder length. */
  readonly lengthUnknown: boolean;
}

/** The hypothetical job's finish-time fairness (Themis): its time from now to finish over its time on a 1/n share. */
export interface WhatIfFairness {
  /** Seconds its steps take on an equal 1/n share of the live cluster, n = the active jobs and it; null when no type fits. */
  readonly fairSeconds: number | null;
  /** (estimated finish − now) ÷ fairSeconds; ≤ 1: at least as good as an equal split. Null without a finish. */
  readonly rho: number | null;
}

export interface WhatIfResult {
  readonly now: number;
  readonly policy: string;
  readonly roundS: number;
  readonly jobs: readonly WhatIfJob[];
  readonly hypothetical?: WhatIfJob & WhatIfFairness;
  readonly simulatedRounds: number;
  /** The simulation stopped at its round or time limit before every job finished: jobs without an estimate start later than that. */
  readonly truncated: boolean;
}

/** Bounds on the forward simulation, for callers that must answer fast (the dashboard) rather than exactly. */
export interface WhatIfLimits {
  /** Rounds to simulate at most (default 50,000). */
  readonly maxRounds?: number;
  /** Wall-clock milliseconds after which the simulation stops at the end of the current round. */
  readonly budgetMs?: number;
}

export const HYPOTHETICAL_ID = 'whatif-new-job';

/** Records the first round in which each job is placed. */
class FirstRun implements Executor {
  readonly first = new Map<string, number>();
  constructor(private readonly inner: Executor) {}
  runRound(plan: RoundPlan, jobs: ReadonlyMap<string, ExecJob>): Promise<RoundReport> {
    for (const a of plan.assignments) for (const id of a.jobIds) if (!this.first.has(id)) this.first.set(id, plan.start);
    return this.inner.runRound(plan, jobs);
  }
}

/** The server's policy with its own metadata, so the engine treats it as live (e.g. the type shuffle of agnostic policies). */
function asPolicy(p: LoadedPolicy): Policy {
  return { meta: p.meta, allocate: p.allocate };
}

export async function whatIf(store: Store, scheduler: Scheduler, extra?: HypotheticalJob, limits: WhatIfLimits = {}): Promise<WhatIfResult> {
  const policy: LoadedPolicy = scheduler.loadedPolicy;
  const now = Date.now();
  const live = buildCluster(scheduler.liveWorkers());
  const { cluster } = live;
  const snapshotJobs = scheduler.policyJobs(cluster);
  const rows = new Map<string, readonly number[]>();
  const jobs: Job[] = [];
  const unknown = new Set<string>();
  for (const p of snapshotJobs) {
    const j = store.getJob(p.id)!;
    if ((j.reportedTotal ?? j.totalSteps) === null) unknown.add(p.id);
    rows.set(p.id, p.throughput);
    jobs.push({ id: p.id, jobType: `rt:${p.id}`, scaleFactor: p.scaleFactor, arrivalTime: 0, totalSteps: p.remainingSteps, priorityWeight: p.priorityWeight });
  }
  if (extra) {
    const maxPerWorker = cluster.gpuTypes.map((t) => Math.max(0, ...live.servers.filter((s) => s.gpuType === t).map((s) => s.server.gpus)));
    const rate = extra.stepsPerSecond ?? 1;
    rows.set(
      HYPOTHETICAL_ID,
      cluster.gpuTypes.map((t, k) => ((extra.gpuTypes && !extra.gpuTypes.includes(t)) || extra.scaleFactor > maxPerWorker[k]! ? 0 : rate)),
    );
    const steps = extra.totalSteps ?? (extra.durationS ?? 3600) * rate;
    jobs.push({ id: HYPOTHETICAL_ID, jobType: `rt:${HYPOTHETICAL_ID}`, scaleFactor: extra.scaleFactor, arrivalTime: 0, totalSteps: steps, priorityWeight: extra.priorityWeight ?? 1 });
  }
  // A throughput table with one synthetic row per job: the simulated executor looks throughputs up there.
  const consolidated: Record<string, Record<string, ThroughputEntry>> = Object.fromEntries(cluster.gpuTypes.map((t) => [t, {}]));
  for (const j of jobs) {
    cluster.gpuTypes.forEach((t, k) => {
      consolidated[t]![jobKey(j.jobType, j.scaleFactor)] = { isolated: rows.get(j.id)![k]!, colocated: {} };
    });
  }
  const table: ThroughputTable = { gpuTypes: cluster.gpuTypes, consolidated, unconsolidated: {} };
  const roundS = scheduler.timing.roundMs / 1000;
  // Jobs no type can run are left out of the simulation (the engine would count them as failing forever).
  const runnable = jobs.filter((j) => rows.get(j.id)!.some((x) => x > 0));
  const clock = new SimClock(0);
  const exec = new FirstRun(new SimExecutor(clock, table));
  // The simulated clock never yields to timers, so a time budget is checked after each round, not by a timer.
  const abort = new AbortController();
  const budgetEnd = limits.budgetMs === undefined ? Infinity : performance.now() + limits.budgetMs;
  const result =
    runnable.length === 0 || cluster.totalGpus === 0
      ? undefined
      : await runEngine({
          cluster,
          policy: asPolicy(policy),
          clock,
          executor: exec,
          source: new TraceSource(runnable),
          roundDuration: roundS,
          throughputOf: (j) => rows.get(j.id)!,
          minReallocationInterval: 0,
          maxRounds: limits.maxRounds ?? 50_000,
          signal: abort.signal,
          observer: { onRound: () => (performance.now() > budgetEnd ? abort.abort() : undefined) },
        });
  const finish = new Map((result?.jobs ?? []).map((r) => [r.id, r.finishTime]));
  // The simulation starts its first round now; the live cluster starts its next one when the current round ends
  // (jobs running now keep running until then). Shift by that wait: an approximation of at most one round.
  const last = store.lastRoundInfo();
  const wait = last ? Math.max(0, last.start + last.duration - now) : 0;
  const runningNow = new Set(store.openAttempts().filter((a) => a.state === 'running').map((a) => a.jobId));
  const view = (j: Job): WhatIfJob => {
    const f = finish.get(j.id);
    const s = exec.first.get(j.id);
    return {
      id: j.id,
      remainingSteps: j.totalSteps!,
      estimatedStart: runningNow.has(j.id) ? now : s === undefined ? null : Math.round(now + wait + s * 1000),
      estimatedFinish: f === undefined ? null : Math.round(now + wait + f * 1000),
      lengthUnknown: unknown.has(j.id),
    };
  };
  const hyp = jobs.find((j) => j.id === HYPOTHETICAL_ID);
  const fairness = (j: Job, v: WhatIfJob): WhatIfFairness => {
    // As the fairness view computes ρ for live jobs (routes/dashboard.ts), with the new job counted among the n.
    const t = equalShareThroughput(cluster, rows.get(j.id)!, j.scaleFactor, jobs.length);
    const fairSeconds = t > 0 ? j.totalSteps! / t : null;
    return { fairSeconds, rho: fairSeconds !== null && v.estimatedFinish !== null ? (v.estimatedFinish - now) / 1000 / fairSeconds : null };
  };
  return {
    now,
    policy: policy.name,
    roundS,
    jobs: jobs.filter((j) => j.id !== HYPOTHETICAL_ID).map(view),
    ...(hyp ? { hypothetical: { ...view(hyp), ...fairness(hyp, view(hyp)) } } : {}),
    simulatedRounds: result?.rounds ?? 0,
    truncated: result !== undefined && result.stopReason !== 'drained',
  };
}

