import { describe, expect, it } from 'vitest';
import { runEngine, type EngineResult, type ExecJob, type Executor, type RoundReport } from '../../src/engine/index.js';
import { makeCluster, type Job, type RoundPlan } from '../../src/model/index.js';
import { SimClock, SimExecutor, TraceSource, tableThroughputs } from '../../src/sim/index.js';
import { job, smallTable, testFifo } from '../sim/helpers.js';

/** Records every plan the engine hands the simulated executor. */
class Recording implements Executor {
  readonly plans: RoundPlan[] = [];
  constructor(private readonly inner: SimExecutor) {}
  runRound(plan: RoundPlan, jobs: ReadonlyMap<string, ExecJob>): Promise<RoundReport> {
    this.plans.push(plan);
    return this.inner.runRound(plan, jobs);
  }
}

async function run(jobs: Job[], v100: number, backfill: boolean): Promise<{ r: EngineResult; plans: RoundPlan[] }> {
  const table = smallTable();
  const cluster = makeCluster({ v100 });
  const clock = new SimClock();
  const exec = new Recording(new SimExecutor(clock, table));
  const r = await runEngine({
    cluster,
    policy: testFifo(),
    clock,
    executor: exec,
    source: new TraceSource(jobs),
    throughputOf: tableThroughputs(table, cluster),
    roundDuration: 360,
    minReallocationInterval: 0,
    backfill,
  });
  return { r, plans: exec.plans };
}

const finish = (r: EngineResult, id: string): number | undefined => r.jobs.find((j) => j.id === id)?.finishTime;

// Job type A runs 10 steps/s on a v100.
describe('engine backfill (work-conserving rounds)', () => {
  it('gives a GPU freed early to the next queued job at once, without moving the lease still running', async () => {
    const jobs = [job('a', { totalSteps: 1000 }), job('b', { totalSteps: 36000 }), job('c', { totalSteps: 3600 })];
    const off = await run(jobs, 2, false);
    const on = await run(jobs, 2, true);
    // Off: c waits for the round's end (360 s) and runs 360 s. On: it starts when a finishes (100 s).
    expect(finish(off.r, 'c')).toBeCloseTo(720, 6);
    expect(finish(on.r, 'c')).toBeCloseTo(460, 6);
    expect(finish(on.r, 'b')).toBeCloseTo(finish(off.r, 'b')!, 6);
    const partial = on.plans.find((p) => p.backfill)!;
    expect(partial.start).toBeCloseTo(100, 6);
    expect(partial.start + partial.duration).toBeCloseTo(360, 6);
    expect(partial.assignments.map((a) => a.jobIds[0])).toEqual(['c']);
    // c took a's GPU; b kept its own, and the next full round extends both leases.
    const first = on.plans[0]!;
    const gpuOf = (p: RoundPlan, id: string): readonly number[] | undefined => p.assignments.find((a) => a.jobIds[0] === id)?.gpus;
    expect(partial.assignments[0]!.gpus).toEqual(gpuOf(first, 'a'));
    const next = on.plans[on.plans.indexOf(partial) + 1]!;
    expect(next.backfill).toBeFalsy();
    expect(next.assignments.every((a) => a.leaseExtended)).toBe(true);
    expect(on.r.jobs.every((j) => j.finishTime !== undefined && j.stepsDone === j.totalSteps)).toBe(true);
  });

  it('starts a job that arrives while a GPU is idle when it arrives, not at the round end', async () => {
    const jobs = [job('a', { totalSteps: 36000 }), job('b', { totalSteps: 36000 }), job('d', { arrivalTime: 50, totalSteps: 3100 })];
    const off = await run(jobs, 3, false);
    const on = await run(jobs, 3, true);
    expect(finish(off.r, 'd')).toBeCloseTo(360 + 310, 6);
    expect(finish(on.r, 'd')).toBeCloseTo(50 + 310, 6);
  });

  it('changes nothing when off: the plans never carry the backfill mark', async () => {
    const jobs = [job('a', { totalSteps: 1000 }), job('b', { totalSteps: 36000 }), job('c', { totalSteps: 3600 })];
    const off = await run(jobs, 2, false);
    expect(off.plans.some((p) => p.backfill)).toBe(false);
  });
});
