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

async function run(jobs: Job[], v100: number, backfill: boolean, maxChanges?: number): Promise<{ r: EngineResult; plans: RoundPlan[] }> {
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
    ...(maxChanges !== undefined ? { maxChanges } : {}),
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

  it('with a change budget, each backfill plan starts at most N jobs, and capped plans are followed until the cluster is full', async () => {
    // 8 long jobs, 8 idle GPUs, budget 3: the first round starts 3; partial plans at the same time start 3, then 2.
    const jobs = Array.from({ length: 8 }, (_, i) => job(`j${i}`, { totalSteps: 36000 }));
    const on = await run(jobs, 8, true, 3);
    const atStart = on.plans.filter((p) => p.start === 0);
    expect(atStart.map((p) => [p.backfill === true, p.assignments.length])).toEqual([
      [false, 3],
      [true, 3],
      [true, 2],
    ]);
    // Every backfill plan of the run: only starts (no lease extended), at most the budget.
    const partials = on.plans.filter((p) => p.backfill);
    expect(partials.every((p) => p.assignments.length <= 3 && p.assignments.every((a) => !a.leaseExtended))).toBe(true);
    // The timeline counts every plan's changes, the partial ones' too: never more than the budget.
    expect(on.r.timeline.filter((x) => x.round >= 0).map((x) => x.changes).slice(0, 3)).toEqual([3, 3, 2]);
    expect(on.r.timeline.every((x) => x.round < 0 || (x.changes !== undefined && x.changes <= 3))).toBe(true);
    // The cluster is full from time 0: every job finishes after 3,600 s of work, as with no budget at all.
    const free = await run(jobs, 8, true);
    expect(free.plans.filter((p) => p.start === 0)).toHaveLength(1);
    for (const j of jobs) expect(finish(on.r, j.id)).toBeCloseTo(finish(free.r, j.id)!, 6);
    expect(finish(on.r, 'j7')).toBeCloseTo(3600, 6);
    // Without backfill the budget leaves 5 GPUs idle until the next round (nothing follows a capped round).
    const off = await run(jobs, 8, false, 3);
    expect(off.plans[0]!.assignments).toHaveLength(3);
    expect(off.plans[1]!.start).toBeCloseTo(360, 6);
    expect(finish(off.r, 'j7')).toBeGreaterThan(3600);
  });

  it('fills GPUs freed over time at most N a plan: a burst of finishes is filled over successive plans', async () => {
    // 6 GPUs: 6 short jobs (100 s) run first; 6 long ones wait. At 100 s all 6 GPUs free up at once.
    const jobs = [
      ...Array.from({ length: 6 }, (_, i) => job(`s${i}`, { totalSteps: 1000 })),
      ...Array.from({ length: 6 }, (_, i) => job(`l${i}`, { totalSteps: 36000 })),
    ];
    const on = await run(jobs, 6, true, 2);
    const at100 = on.plans.filter((p) => Math.abs(p.start - 100) < 1e-9);
    expect(at100.every((p) => p.backfill)).toBe(true);
    expect(at100.map((p) => p.assignments.length)).toEqual([2, 2, 2]);
    expect(on.plans.filter((p) => p.backfill).every((p) => p.assignments.length <= 2)).toBe(true);
    // No budget: one backfill plan starts all 6 at 100 s, and never carries the budget's mark.
    const free = await run(jobs, 6, true);
    const freeAt100 = free.plans.filter((p) => Math.abs(p.start - 100) < 1e-9);
    expect(freeAt100.map((p) => p.assignments.length)).toEqual([6]);
    expect(free.plans.some((p) => 'budgetLimited' in p)).toBe(false);
  });

  it('changes nothing when off: the plans never carry the backfill mark', async () => {
    const jobs = [job('a', { totalSteps: 1000 }), job('b', { totalSteps: 36000 }), job('c', { totalSteps: 3600 })];
    const off = await run(jobs, 2, false);
    expect(off.plans.some((p) => p.backfill)).toBe(false);
  });
});
