/**
 * Phase: execute. The plan goes to the executor with what it must know of each placed job; the simulator resolves
 * at once with the round's progress, a live server when the round is (nearly) over.
 */
import type { RoundPlan } from '../model/index.js';
import { pause, type RunState } from './state.js';
import type { ExecJob, RoundReport } from './types.js';

export async function execute(s: RunState, plan: RoundPlan): Promise<{ readonly report: RoundReport; readonly runningJobs: number }> {
  const jobs = new Map<string, ExecJob>();
  for (const a of plan.assignments) {
    for (const j of a.jobIds) {
      const act = s.active.get(j)!;
      jobs.set(j, { job: act.job, totalSteps: act.rec.totalSteps, remainingSteps: Math.max(0, act.rec.totalSteps - act.rec.stepsDone) });
    }
  }
  await pause(s, 'the plan');
  s.cfg.observer?.onPlan?.(plan);
  const t0 = s.stopwatch();
  const report = await s.cfg.executor.runRound(plan, jobs);
  s.executorSeconds += s.stopwatch() - t0;
  return { report, runningJobs: jobs.size };
}
