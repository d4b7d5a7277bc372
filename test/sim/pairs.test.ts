import { describe, expect, it } from 'vitest';
import { SimClock, SimExecutor } from '../../src/sim/index.js';
import type { ExecJob } from '../../src/engine/index.js';
import type { Job, RoundPlan, ThroughputTable } from '../../src/model/index.js';
import { job, pairTable } from './helpers.js';

function exec(j: Job, remaining: number): ExecJob {
  return { job: j, totalSteps: j.totalSteps!, remainingSteps: remaining };
}

function runPair(jobIds: string[], table: ThroughputTable, remaining: Record<string, number>) {
  const clock = new SimClock(1000);
  const ex = new SimExecutor(clock, table);
  const a = job('a', { jobType: 'A', totalSteps: 1e6 });
  const b = job('b', { jobType: 'B', totalSteps: 1e6 });
  const plan: RoundPlan = {
    round: 0,
    start: 1000,
    duration: 360,
    assignments: [{ jobIds, gpuType: 'v100', gpus: [0], consolidated: true, leaseExtended: false }],
  };
  const jobs = new Map([
    ['a', exec(a, remaining.a!)],
    ['b', exec(b, remaining.b!)],
  ]);
  return ex.runRound(plan, jobs).then((r) => ({ ...r, clock }));
}

describe('simulated pair execution', () => {
  it('runs each job of a pair at its own co-located throughput, whatever the order of the ids', async () => {
    for (const ids of [['a', 'b'], ['b', 'a']]) {
      const r = await runPair(ids, pairTable(), { a: 1e6, b: 1e6 });
      const a = r.progress.find((p) => p.jobId === 'a')!;
      const b = r.progress.find((p) => p.jobId === 'b')!;
      expect(a).toMatchObject({ steps: 6 * 360, runTime: 360, finished: false });
      expect(b).toMatchObject({ steps: 3 * 360, runTime: 360, finished: false });
      expect(r.end).toBe(1360);
    }
  });

  it('reads a pair stored under one job key only', async () => {
    const r = await runPair(['b', 'a'], pairTable(true), { a: 1e6, b: 1e6 });
    expect(r.progress.find((p) => p.jobId === 'b')!.steps).toBe(3 * 360);
    expect(r.progress.find((p) => p.jobId === 'a')!.steps).toBe(6 * 360);
  });

  it('one job finishing mid-round stops at its exact time; the other keeps the co-located rate to round end', async () => {
    // b has 300 steps left at 3 steps/s: done 100 s in. a runs its full round at 6 steps/s (Gavel fixes both jobs'
    // steps when the pair is dispatched).
    const r = await runPair(['a', 'b'], pairTable(), { a: 1e6, b: 300 });
    const a = r.progress.find((p) => p.jobId === 'a')!;
    const b = r.progress.find((p) => p.jobId === 'b')!;
    expect(b).toMatchObject({ steps: 300, finished: true, finishTime: 1100 });
    expect(b.runTime).toBeCloseTo(100, 12);
    expect(a).toMatchObject({ steps: 2160, runTime: 360, finished: false });
    expect(r.end).toBe(1360);
    expect(r.clock.now()).toBe(1360);
  });

  it('a pair both of whose jobs finish early ends the round at the later finish', async () => {
    const r = await runPair(['a', 'b'], pairTable(), { a: 600, b: 150 });
    expect(r.progress.find((p) => p.jobId === 'a')!).toMatchObject({ finished: true, finishTime: 1100 });
    expect(r.progress.find((p) => p.jobId === 'b')!).toMatchObject({ finished: true, finishTime: 1050 });
    expect(r.end).toBe(1100);
  });

  it('an unmeasured pair fails both jobs without progress', async () => {
    const table: ThroughputTable = { ...pairTable(), consolidated: { v100: { 'A|1': { isolated: 10, colocated: {} }, 'B|1': { isolated: 5, colocated: {} } } } };
    const r = await runPair(['a', 'b'], table, { a: 100, b: 100 });
    expect(r.progress.every((p) => p.failed && p.steps === 0)).toBe(true);
  });
});
