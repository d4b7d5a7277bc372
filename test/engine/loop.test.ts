import { describe, expect, it } from 'vitest';
import { runEngine } from '../../src/engine/index.js';
import type { Clock, Executor, JobSource } from '../../src/engine/index.js';
import { SimClock, SimExecutor, TraceSource, WindowStop, tableThroughputs } from '../../src/sim/index.js';
import type { Job, RoundPlan } from '../../src/model/index.js';
import { cluster2, equalShare, job, smallTable, testFifo } from '../sim/helpers.js';

function run(
  jobs: Job[],
  opts: { policy?: ReturnType<typeof testFifo>; v100?: number; k80?: number; perServer?: number; window?: { start: number; end: number }; stopwatch?: () => number } = {},
) {
  const cluster = cluster2(opts.v100 ?? 2, opts.k80 ?? 2, opts.perServer ?? 1);
  const table = smallTable();
  const clock = new SimClock();
  return runEngine({
    cluster,
    policy: opts.policy ?? testFifo(),
    clock,
    executor: new SimExecutor(clock, table),
    source: new TraceSource(jobs),
    throughputOf: tableThroughputs(table, cluster),
    roundDuration: 360,
    ...(opts.window ? { stop: new WindowStop(opts.window) } : {}),
    ...(opts.stopwatch ? { stopwatch: opts.stopwatch } : {}),
  });
}

describe('engine with the simulated clock and executor', () => {
  it('finishes a lone job at the exact time its steps are done', async () => {
    // A on v100 runs 10 steps/s: 3600 steps = 360 s = exactly one round; 5000 steps finish 140 s into round 2.
    const r = await run([job('a', { totalSteps: 5000, arrivalTime: 100 })]);
    const a = r.jobs[0]!;
    expect(a.finishTime).toBeCloseTo(100 + 500, 9);
    expect(r.rounds).toBe(2);
    expect(r.stopReason).toBe('drained');
  });

  it('skips idle time: jumps to the next arrival when nothing can run', async () => {
    const r = await run([job('a', { arrivalTime: 0 }), job('b', { arrivalTime: 1e6 })]);
    expect(r.jobs[1]!.finishTime).toBeCloseTo(1e6 + 360, 6);
    expect(r.rounds).toBe(2);
  });

  it('frees the GPUs of a job that finishes inside a round for the next round', async () => {
    // One v100: a (10 s of work) then b. The round ends when a stops, so b starts at 10 s, not 360 s.
    const r = await run([job('a', { totalSteps: 100 }), job('b', { totalSteps: 100, arrivalTime: 0 })], { v100: 1, k80: 0 });
    const [a, b] = r.jobs;
    expect(a!.finishTime).toBeCloseTo(10, 9);
    expect(b!.finishTime).toBeCloseTo(20, 9);
  });

  it('times its phases only with the stopwatch it is given, and plans the same without one', async () => {
    const jobs = [job('a'), job('b', { arrivalTime: 5000 }), job('c', { totalSteps: 9000, arrivalTime: 200 })];
    // A fake stopwatch advancing 1 s per reading: every timed stretch is whole readings apart.
    let t = 0;
    const timed = await run(jobs, { stopwatch: () => t++ });
    const untimed = await run(jobs);
    expect(t).toBeGreaterThan(0);
    expect(timed.policySeconds).toBe(timed.policyCalls);
    expect(timed.executorSeconds).toBe(timed.rounds);
    expect(timed.mechanismSeconds).toBeGreaterThanOrEqual(timed.rounds);
    expect([untimed.policySeconds, untimed.mechanismSeconds, untimed.executorSeconds]).toEqual([0, 0, 0]);
    expect(untimed.jobs).toEqual(timed.jobs);
    expect(untimed.timeline).toEqual(timed.timeline);
  });

  it('keeps policy state between calls and passes it back', async () => {
    const seen: unknown[] = [];
    const base = testFifo();
    const policy = { ...base, allocate: (s: Parameters<typeof base.allocate>[0]) => (seen.push(s.state), base.allocate(s)) };
    await run([job('a'), job('b', { arrivalTime: 5000 })], { policy });
    expect(seen[0]).toBeUndefined();
    expect(seen.slice(1).every((s, i) => s === i + 1)).toBe(true);
    expect(seen.length).toBeGreaterThanOrEqual(2);
  });

  it('stops once the window jobs are done and reports window progress', async () => {
    const jobs = Array.from({ length: 6 }, (_, i) => job(`j${i}`, { arrivalTime: i * 100, totalSteps: 36000 }));
    const r = await run(jobs, { window: { start: 1, end: 3 } });
    expect(r.stopReason).toBe('window');
    expect(r.jobs[1]!.finishTime).toBeDefined();
    expect(r.jobs[2]!.finishTime).toBeDefined();
    // The rule stopped the run early: later jobs are still unfinished, and the last round reports the window done.
    expect(r.jobs[5]!.finishTime).toBeUndefined();
    expect(r.timeline.filter((t) => t.round >= 0).at(-1)!.windowFinished).toBe(2);
  });

  it('gives every job about its share over many rounds (equal share, agnostic: types shuffled per round)', async () => {
    // Four B jobs (2 steps/s everywhere) on 2 v100 + 2 k80: each runs every round, all finish together.
    const jobs = Array.from({ length: 4 }, (_, i) => job(`b${i}`, { jobType: 'B', totalSteps: 7200 }));
    const r = await run(jobs, { policy: equalShare(false) });
    for (const j of r.jobs) expect(j.finishTime).toBeCloseTo(3600, 6);
  });

  it('is deterministic', async () => {
    const jobs = Array.from({ length: 30 }, (_, i) => job(`j${i}`, { jobType: i % 2 ? 'A' : 'B', scaleFactor: [1, 2, 1, 4][i % 4]!, arrivalTime: i * 137, totalSteps: 5000 + i * 997 }));
    const a = await run(jobs, { policy: equalShare(false), v100: 4, k80: 4 });
    const b = await run(jobs, { policy: equalShare(false), v100: 4, k80: 4 });
    expect(a.jobs.map((j) => j.finishTime)).toEqual(b.jobs.map((j) => j.finishTime));
    expect(a.jobs.every((j) => j.finishTime !== undefined)).toBe(true);
  });

  it('drops a job after 5 consecutive failed rounds and carries on', async () => {
    const cluster = cluster2();
    const table = smallTable();
    const clock = new SimClock();
    const sim = new SimExecutor(clock, table);
    const executor: Executor = {
      async runRound(plan, jobs) {
        const r = await sim.runRound(plan, jobs);
        if (r.end === plan.start) clock.advanceTo(plan.start + plan.duration);
        return {
          end: Math.max(r.end, plan.start + (r.progress.some((p) => p.jobId !== 'bad') ? 0 : plan.duration)),
          progress: r.progress.map((p) => (p.jobId === 'bad' ? { jobId: 'bad', gpuType: p.gpuType, steps: 0, runTime: 0, finished: false, failed: true } : p)),
        };
      },
    };
    const r = await runEngine({
      cluster, policy: testFifo(), clock, executor, source: new TraceSource([job('bad', { totalSteps: 1e9 }), job('ok', { totalSteps: 36000 })]),
      throughputOf: tableThroughputs(table, cluster), roundDuration: 360,
    });
    const bad = r.jobs.find((j) => j.id === 'bad')!;
    expect(bad.failed).toBe(true);
    expect(bad.finishTime).toBeUndefined();
    expect(bad.roundsRun).toBe(5);
    expect(r.jobs.find((j) => j.id === 'ok')!.finishTime).toBeCloseTo(3600, 6);
  });

  it('removes cancelled jobs before the next round and releases them', async () => {
    const cluster = cluster2();
    const table = smallTable();
    const clock = new SimClock();
    const trace = new TraceSource([job('x', { totalSteps: 1e7 }), job('y', { totalSteps: 3600 })]);
    let calls = 0;
    const source: JobSource = {
      poll: (t) => trace.poll(t),
      nextArrival: () => trace.nextArrival(),
      exhausted: () => trace.exhausted(),
      takeCancelled: () => (++calls === 3 ? ['x'] : []),
    };
    const released: string[] = [];
    const removed: string[] = [];
    const sim = new SimExecutor(clock, table);
    const executor: Executor = { runRound: (p, j) => sim.runRound(p, j), release: (id) => void released.push(id) };
    const r = await runEngine({
      cluster, policy: testFifo(), clock, executor, source, throughputOf: tableThroughputs(table, cluster), roundDuration: 360,
      observer: { onJobRemoved: (id, _t, why) => void removed.push(`${id}:${why}`) },
    });
    const x = r.jobs.find((j) => j.id === 'x')!;
    expect(x.cancelled).toBe(true);
    expect(x.finishTime).toBeUndefined();
    expect(x.roundsRun).toBe(2);
    expect(removed).toEqual(['x:cancelled']);
    expect(released.sort()).toEqual(['x', 'y']);
    expect(r.stopReason).toBe('drained');
  });

  it('drives any Clock/Executor/JobSource implementation (async, no simulation assumptions)', async () => {
    // A fake "real" runtime: async executor that ends every round after the full duration.
    let t = 0;
    const clock: Clock = { now: () => t, sleepUntil: async (x) => void (t = Math.max(t, x)) };
    const plans: RoundPlan[] = [];
    const executor: Executor = {
      async runRound(plan, jobs) {
        plans.push(plan);
        await new Promise((r) => setTimeout(r, 0));
        t = plan.start + plan.duration;
        return {
          end: t,
          progress: plan.assignments.map((a) => {
            const e = jobs.get(a.jobIds[0]!)!;
            const steps = Math.min(e.remainingSteps, 1000);
            return { jobId: e.job.id, gpuType: a.gpuType, steps, runTime: plan.duration, finished: steps >= e.remainingSteps, finishTime: t };
          }),
        };
      },
    };
    let given = false;
    const source: JobSource = { poll: async () => (given ? [] : ((given = true), [job('x', { totalSteps: 2500 })])), nextArrival: () => undefined, exhausted: () => given };
    const cluster = cluster2();
    const r = await runEngine({ cluster, policy: testFifo(), clock, executor, source, throughputOf: tableThroughputs(smallTable(), cluster), roundDuration: 60 });
    expect(r.jobs[0]!.finishTime).toBe(180);
    expect(plans.map((p) => p.assignments[0]!.leaseExtended)).toEqual([false, true, true]);
  });
});
