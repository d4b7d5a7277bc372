import type { RoundPlan, ThroughputTable } from '../model/index.js';
import type { ExecJob, Executor, JobProgress, RoundReport } from '../engine/types.js';
import type { SimClock } from './clock.js';
import type { DynamicBatchModel } from './dynamic.js';
import { pairThroughput, placedThroughput } from './throughput.js';

export interface SimExecutorOptions {
  /** Spread multi-GPU gangs run at their `_unconsolidated` throughput (Gavel's simulator ignores placement). */
  readonly spreadPenalty?: boolean;
  /** Jobs whose batch size changes during training run at their current phase's throughput (src/sim/dynamic.ts). */
  readonly dynamic?: DynamicBatchModel;
  /**
   * Seconds a (re)started job holds its GPUs without progress (pod start, image pull, checkpoint load on
   * Kubernetes). A job whose lease is extended pays nothing. 0 (default): Gavel's simulator.
   */
  readonly restartOverhead?: number;
}

/**
 * Simulated workers, as Gavel's simulator: a job placed for a round runs floor(throughput x round) whole steps
 * (or its remaining steps if fewer) and stops when they are done, so a job that finishes inside a round finishes at
 * the exact time its last step ends. The round ends when the last job of the round stops; the clock jumps there.
 *
 * A space-sharing pair runs each job at its co-located throughput for the whole round (the order of `jobIds` picks
 * the side of the table entry). When one job of the pair finishes early, the other keeps the co-located rate until
 * its own round's steps are done, as in Gavel's simulator, which fixes both jobs' steps at dispatch. The job that
 * finished is recorded at the exact time its last step ended; Gavel records both jobs of a pair at the later of the
 * two stop times (at most one round later; docs/fidelity.md). Co-located throughputs are consolidated measurements:
 * a spread pair runs at them too, and a pair's jobs run at their initial batch size.
 */
export class SimExecutor implements Executor {
  private rounds = 0;

  constructor(
    private readonly clock: SimClock,
    private readonly table: ThroughputTable,
    private readonly opts: SimExecutorOptions = {},
  ) {}

  async runRound(plan: RoundPlan, jobs: ReadonlyMap<string, ExecJob>): Promise<RoundReport> {
    // A simulation is one long chain of microtasks; yield to the event loop now and then so that signals (Ctrl-C)
    // and timers (progress output) get a turn.
    if (++this.rounds % 256 === 0) await new Promise<void>((r) => setImmediate(r));
    const progress: JobProgress[] = [];
    let end = plan.start;
    for (const a of plan.assignments) {
      const execs = a.jobIds.map((id) => jobs.get(id));
      if (execs.some((e) => !e)) continue;
      const e0 = execs[0]!;
      // A restart costs its overhead at the start of the round; the job then runs in what is left.
      const lost = a.leaseExtended ? 0 : Math.min(this.opts.restartOverhead ?? 0, plan.duration);
      const duration = plan.duration - lost;
      if (lost > 0 && duration <= 0) {
        for (const e of execs) progress.push({ jobId: e!.job.id, gpuType: a.gpuType, steps: 0, runTime: plan.duration, finished: false });
        if (plan.start + plan.duration > end) end = plan.start + plan.duration;
        continue;
      }
      if (execs.length === 1 && this.opts.dynamic?.isDynamic(e0.job)) {
        // The throughput changes with progress: run across phase boundaries (no whole-step rounding).
        const spread = !a.consolidated && !!this.opts.spreadPenalty && e0.job.scaleFactor > 1;
        const r = this.opts.dynamic.advance(e0.job, a.gpuType, spread, e0.totalSteps - e0.remainingSteps, e0.remainingSteps, duration);
        const finished = r.steps >= e0.remainingSteps - 1e-9;
        const stop = plan.start + lost + r.time;
        if (stop > end) end = stop;
        if (r.steps <= 0 && !finished) progress.push({ jobId: e0.job.id, gpuType: a.gpuType, steps: 0, runTime: 0, finished: false, failed: true });
        else progress.push({ jobId: e0.job.id, gpuType: a.gpuType, steps: finished ? e0.remainingSteps : r.steps, runTime: lost + r.time, finished, ...(finished ? { finishTime: stop } : {}) });
        continue;
      }
      let tputs: number[];
      if (execs.length === 2) {
        const pair = pairThroughput(this.table, execs[0]!.job, execs[1]!.job, a.gpuType);
        tputs = pair ? [pair[0], pair[1]] : [0, 0];
      } else {
        tputs = [placedThroughput(this.table, execs[0]!.job, a.gpuType, a.consolidated, !!this.opts.spreadPenalty)];
      }
      execs.forEach((e, i) => {
        const tput = tputs[i]!;
        if (!(tput > 0)) {
          progress.push({ jobId: e!.job.id, gpuType: a.gpuType, steps: 0, runTime: 0, finished: false, failed: true });
          return;
        }
        const whole = Math.floor(tput * duration);
        const perRound = whole > 0 ? whole : tput * duration;
        const steps = Math.min(perRound, e!.remainingSteps);
        const runTime = lost + steps / tput;
        const finished = perRound >= e!.remainingSteps;
        const stop = plan.start + runTime;
        if (stop > end) end = stop;
        progress.push({
          jobId: e!.job.id,
          gpuType: a.gpuType,
          steps,
          runTime,
          finished,
          ...(finished ? { finishTime: stop } : {}),
        });
      });
    }
    this.clock.advanceTo(end);
    return { end, progress };
  }
}
