/**
 * Phase: credit. A round's report becomes progress (steps, run seconds per type, failures, finishes), received time
 * in the ledger (one credit per gang, Gavel's `_done_callback`), contention for every active job, and the round's
 * entry in the timeline.
 */
import { rowKeyOf, type RoundPlan } from '../model/index.js';
import { creditRuns, type RunCredit } from '../mechanism/index.js';
import { addSpan } from './contention.js';
import type { RunState } from './state.js';
import type { JobProgress, RoundInfo, RoundReport } from './types.js';

export interface Credited {
  /** Jobs that finished or were dropped after `maxFailures` failed rounds this round; retire.ts removes them. */
  readonly leaving: readonly string[];
  /** GPU-seconds busy per type. */
  readonly busy: readonly number[];
  /** Active jobs during the round. */
  readonly activeJobs: number;
}

export function credit(s: RunState, plan: RoundPlan, report: RoundReport): Credited {
  const end = Math.max(report.end, s.now);
  const activeJobs = s.active.size;
  addSpan(s, activeJobs * (end - s.now));

  const finished: string[] = [];
  const dropped: string[] = [];
  const busy = s.types.map(() => 0);
  const reported = new Map<string, JobProgress>();
  for (const p of report.progress) {
    const act = s.active.get(p.jobId);
    if (!act) continue;
    const k = s.types.indexOf(p.gpuType);
    if (k < 0) continue;
    reported.set(p.jobId, p);
    act.rec.roundsRun++;
    if (p.failed) {
      // Gavel drops a job after MAX_FAILED_ATTEMPTS consecutive failed micro-tasks; the allocation is recomputed.
      act.rec.failures++;
      s.stale = true;
      if (act.rec.failures >= s.maxFailures) {
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
  const credits: RunCredit[] = [];
  for (const a of plan.assignments) {
    let runTime = 0;
    let ran = false;
    for (const j of a.jobIds) {
      const p = reported.get(j);
      if (!p || p.failed) continue;
      ran = true;
      runTime = Math.max(runTime, p.runTime);
    }
    if (!ran) continue;
    const k = s.types.indexOf(a.gpuType);
    busy[k]! += runTime * a.gpus.length;
    credits.push({ row: rowKeyOf(a.jobIds), typeIndex: k, seconds: runTime });
  }
  s.ledger = creditRuns(s.ledger, credits);
  s.now = Math.max(end, s.cfg.clock.now());
  for (const j of dropped) {
    if (!finished.includes(j)) finished.push(j);
  }
  return { leaving: finished, busy, activeJobs };
}

/** Ends the round: what ran and did not leave is what the next plan may extend; the timeline and observers hear. */
export function closeRound(s: RunState, plan: RoundPlan, credited: Credited, runningJobs: number, changes?: number): void {
  const left = new Set(credited.leaving);
  s.previous = plan.assignments.filter((a) => !a.jobIds.every((j) => left.has(j)));
  const info: RoundInfo = {
    round: s.round,
    start: plan.start,
    end: s.now,
    activeJobs: credited.activeJobs,
    runningJobs,
    finishedJobs: s.finishedCount,
    windowFinished: s.cfg.stop ? s.cfg.stop.finished() : 0,
    busyGpuSeconds: credited.busy,
    ...(changes !== undefined ? { changes } : {}),
  };
  if (s.keepHistory) s.timeline.push(info);
  s.cfg.observer?.onRound?.(info);
  s.round++;
  s.ranRound = true;
}
