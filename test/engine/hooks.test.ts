import { describe, expect, it } from 'vitest';
import { runEngine } from '../../src/engine/index.js';
import type { ClusterView, EngineState, ExecJob, Executor, RoundReport } from '../../src/engine/index.js';
import { makeCluster, type Assignment, type ClusterSpec, type RoundPlan } from '../../src/model/index.js';
import { SimClock, SimExecutor, TraceSource, tableThroughputs } from '../../src/sim/index.js';
import { job, smallTable, testFifo } from '../sim/helpers.js';

/** The hooks a live server needs: a cluster that changes, state that outlives the call, plans made before a round ends. */

/** A simulated executor whose cluster follows a script by round, and which says what ran last (as a real one would). */
class ChangingCluster implements Executor {
  readonly plans: RoundPlan[] = [];
  private last: readonly Assignment[] = [];
  private rounds = 0;
  constructor(
    private readonly inner: SimExecutor,
    private readonly clusterAt: (round: number) => ClusterSpec,
  ) {}
  observe(): ClusterView {
    return { cluster: this.clusterAt(this.rounds), running: this.last };
  }
  async runRound(plan: RoundPlan, jobs: ReadonlyMap<string, ExecJob>): Promise<RoundReport> {
    this.plans.push(plan);
    this.rounds++;
    this.last = plan.assignments;
    return this.inner.runRound(plan, jobs);
  }
}

describe('engine hooks for a live cluster', () => {
  it('takes a cluster that gains a GPU type between rounds and plans only on the GPUs it has', async () => {
    const table = smallTable();
    const small = makeCluster({ v100: 1 });
    const big = makeCluster({ v100: 1, k80: 1 });
    const clock = new SimClock();
    const exec = new ChangingCluster(new SimExecutor(clock, table), (r) => (r < 2 ? small : big));
    const r = await runEngine({
      cluster: small,
      policy: testFifo(),
      clock,
      executor: exec,
      source: new TraceSource([job('a', { totalSteps: 36000 }), job('b', { totalSteps: 720 })]),
      // Throughputs on whichever cluster the engine holds now.
      throughputOf: (j, c) => tableThroughputs(table, c)(j),
      roundDuration: 360,
      minReallocationInterval: 0,
    });
    expect(r.stopReason).toBe('drained');
    // Rounds 0 and 1: one v100, so one job at a time; from round 2 on, the k80 takes the second job.
    expect(exec.plans[0]!.assignments).toHaveLength(1);
    expect(exec.plans[1]!.assignments).toHaveLength(1);
    expect(exec.plans[2]!.assignments.map((a) => a.gpuType).sort()).toEqual(['k80', 'v100']);
    for (const [i, p] of exec.plans.entries()) {
      const c = i < 2 ? small : big;
      for (const a of p.assignments) for (const g of a.gpus) expect(g).toBeLessThan(c.totalGpus);
    }
    // FIFO keeps a on the v100 it held (its lease is extended) when the k80 arrives.
    expect(exec.plans[2]!.assignments.find((a) => a.jobIds[0] === 'a')?.leaseExtended).toBe(true);
    expect(r.cluster.gpuTypes).toEqual(['v100', 'k80']);
    expect(r.jobs.every((j) => j.finishTime !== undefined)).toBe(true);
  });

  it('saves its state after each round and goes on from it in a later call', async () => {
    const table = smallTable();
    const cluster = makeCluster({ v100: 1 });
    const saves: EngineState[] = [];
    const persist = { load: () => saves.at(-1), save: (s: EngineState) => void saves.push(s) };
    // a: 7200 steps at 10 steps/s = two rounds of 360 s. The first call stops after one round.
    const first = new SimClock();
    await runEngine({
      cluster, policy: testFifo(), clock: first, executor: new SimExecutor(first, table), source: new TraceSource([job('a', { totalSteps: 7200 })]),
      throughputOf: tableThroughputs(table, cluster), roundDuration: 360, maxRounds: 1, persist,
    });
    const saved = saves.at(-1)!;
    expect(saved.round).toBe(1);
    expect(saved.jobs).toEqual([expect.objectContaining({ id: 'a', stepsDone: 3600, totalSteps: 7200, roundsRun: 1 })]);
    expect(saved.ledger.jobTime.get('a')![0]).toBeCloseTo(180 + 360, 9);

    // A restart: the source hands the job in again; the engine remembers its progress, the ledger and the round.
    const second = new SimClock(360);
    const seen: Array<{ round: number; remaining: number }> = [];
    const inner = new SimExecutor(second, table);
    const r = await runEngine({
      cluster, policy: testFifo(), clock: second,
      executor: { runRound: (plan, jobs) => (seen.push({ round: plan.round, remaining: jobs.get('a')!.remainingSteps }), inner.runRound(plan, jobs)) },
      source: new TraceSource([job('a', { totalSteps: 7200 })]),
      throughputOf: tableThroughputs(table, cluster), roundDuration: 360, persist,
    });
    expect(seen).toEqual([{ round: 1, remaining: 3600 }]);
    expect(r.jobs[0]!.finishTime).toBeCloseTo(720, 9);
    expect(saves.at(-1)!.jobs).toEqual([]);
  });

  it('plans the next round as soon as the executor reports, to start where the reported round ends', async () => {
    const cluster = makeCluster({ v100: 1 });
    const clock = new SimClock();
    const starts: number[] = [];
    const clockAtReport: number[] = [];
    // An executor that reports 10 s before each round ends (the clock never reaches the round's end).
    const early: Executor = {
      async runRound(plan) {
        starts.push(plan.start);
        await clock.sleepUntil(plan.start + 350);
        clockAtReport.push(clock.now());
        const p = plan.assignments[0]!;
        const left = starts.length === 3;
        return { end: plan.start + 360, progress: [{ jobId: p.jobIds[0]!, gpuType: p.gpuType, steps: 1000, runTime: 360, finished: left, ...(left ? { finishTime: plan.start + 360 } : {}) }] };
      },
    };
    const r = await runEngine({
      cluster, policy: testFifo(), clock, executor: early, source: new TraceSource([job('a', { totalSteps: 3000 })]),
      throughputOf: () => [10], roundDuration: 360,
    });
    expect(starts).toEqual([0, 360, 720]);
    expect(clockAtReport).toEqual([350, 710, 1070]);
    expect(r.jobs[0]!.finishTime).toBe(1080);
  });
});
