import type { RoundPlan } from '../../model/index.js';
import type { ExecJob, JobProgress } from '../../engine/index.js';
import { locate, type LiveCluster } from './live-cluster.js';
import type { AttemptRow, Store } from './store/index.js';

/** The runtime's Executor, the store side: a plan committed as leases, and the progress a round's jobs made. */

/** The round a plan is committed as: its number, lease window and what the rounds table records of it. */
export interface CommitRound {
  readonly round: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly plannedAt: number;
  readonly durationMs: number;
  readonly policy: string;
  readonly solverMs: number;
  /** The allocation as the rounds table stores it; called inside the transaction. */
  readonly allocationJson: () => string;
}

/**
 * Executor commit: a plan as leases, in one store transaction. A job that keeps its GPUs gets its lease extended, any
 * other placed job a new attempt; leases never delivered and not in this plan are withdrawn; the round is recorded.
 * `open` are the attempts open when the round was planned.
 */
export function commitPlan(store: Store, live: LiveCluster, plan: RoundPlan, open: readonly AttemptRow[], r: CommitRound): void {
  const { round, startMs, endMs } = r;
  const placed: Array<{ jobId: string; gpuType: string; workerId: string; devices: number[]; attempt: number; extended: boolean }> = [];
  store.tx(() => {
    const openByJob = new Map<string, AttemptRow[]>();
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
      if (!store.isSchedulable(jobId)) continue;
      const same = (openByJob.get(jobId) ?? []).find(
        (a) => a.workerId === workerId && a.gpuType === asg.gpuType && a.gpus.length === devices.length && a.gpus.every((d) => devices.includes(d)),
      );
      if (same && !plan.backfill) {
        store.extendLease(same.id, endMs, round);
        keep.add(same.id);
        placed.push({ jobId, gpuType: asg.gpuType, workerId, devices, attempt: same.id, extended: true });
      } else {
        const a = store.createAttempt({ jobId, workerId, round, gpuType: asg.gpuType, gpus: devices, notBefore: startMs, leaseEnd: endMs });
        keep.add(a.id);
        placed.push({ jobId, gpuType: asg.gpuType, workerId, devices, attempt: a.id, extended: false });
      }
    }
    // Leases never delivered to their worker, and not in this plan: withdraw them (a delivered one may be running).
    for (const a of open) {
      if (!plan.backfill && !keep.has(a.id) && a.state === 'leased' && a.deliveredAt === null) {
        store.endAttempt(a.id, 'preempted', { message: 'not placed in the next round before it was delivered' });
      }
    }
    store.saveRound({
      round,
      start: startMs,
      duration: r.durationMs,
      plannedAt: r.plannedAt,
      policy: r.policy,
      solverMs: r.solverMs,
      allocationJson: r.allocationJson(),
      plan: { assignments: placed.map((p) => ({ jobId: p.jobId, workerId: p.workerId, gpuType: p.gpuType, devices: p.devices, attempt: p.attempt, leaseExtended: p.extended })) },
    });
  });
}

/**
 * Steps and run time of the plan's jobs since the last report, from the store (workers report into it). `totals` and
 * `received`: seconds each job has held GPUs now and at the last report; `nowS`: a store time (now when null) in
 * engine seconds.
 */
export function planProgress(
  store: Store,
  plan: RoundPlan,
  jobs: ReadonlyMap<string, ExecJob>,
  totals: ReadonlyMap<string, number>,
  received: ReadonlyMap<string, number>,
  nowS: (ms: number | null) => number,
): JobProgress[] {
  const progress: JobProgress[] = [];
  for (const a of plan.assignments) {
    for (const id of a.jobIds) {
      const e = jobs.get(id);
      const row = store.jobProgress(id);
      if (!e || !row) continue;
      const finished = row.state === 'completed';
      const total = row.reportedTotal ?? row.totalSteps;
      progress.push({
        jobId: id,
        gpuType: a.gpuType,
        steps: Math.max(0, row.stepsDone - (e.totalSteps - e.remainingSteps)),
        runTime: Math.max(0, (totals.get(id) ?? 0) - (received.get(id) ?? 0)),
        finished,
        ...(finished ? { finishTime: nowS(row.finishedAt) } : {}),
        ...(total !== null && total !== e.totalSteps ? { totalSteps: total } : {}),
      });
    }
  }
  return progress;
}
