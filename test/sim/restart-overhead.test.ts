/**
 * `--restart-overhead S`: a (re)started job holds its GPUs S seconds without progress; an extended lease pays
 * nothing. 0 must change nothing at all.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { getPolicy } from '../../src/policies/registry.js';
import { initSolver } from '../../src/solver/index.js';
import { simulate, type SimulationInput } from '../../src/sim/index.js';
import { cluster2, job, smallTable } from './helpers.js';

function input(extra: Partial<SimulationInput> = {}): SimulationInput {
  return {
    cluster: cluster2(1, 0),
    throughputs: smallTable(),
    policy: getPolicy('fifo'),
    jobs: [job('a', { totalSteps: 10 * 1000 }), job('b', { totalSteps: 10 * 100, arrivalTime: 10 })],
    seed: 1,
    roundDuration: 360,
    ...extra,
  };
}

describe('--restart-overhead', () => {
  beforeAll(async () => {
    await initSolver();
  });

  it('0 changes nothing', async () => {
    const a = await simulate(input());
    const b = await simulate(input({ restartOverhead: 0 }));
    const { policySeconds: _a, ...x } = a.metrics.summary;
    const { policySeconds: _b, ...y } = b.metrics.summary;
    expect(y).toEqual(x);
  });

  it('costs each start once: a job that keeps its GPUs pays only its first round', async () => {
    // One V100; FIFO keeps job a on it (extended leases) until it is done, then b starts.
    const plain = await simulate(input());
    const slow = await simulate(input({ restartOverhead: 60 }));
    const jct = (r: Awaited<ReturnType<typeof simulate>>, id: string): number => r.result.jobs.find((j) => j.id === id)!.finishTime! - r.result.jobs.find((j) => j.id === id)!.arrivalTime;
    // a: 1000 s of work at 10 steps/s, plus one 60 s start.
    expect(jct(plain, 'a')).toBeCloseTo(1000, 6);
    expect(jct(slow, 'a')).toBeCloseTo(1060, 6);
    // b starts once too, so its finish moves by a's overhead, its own, and the round boundary it waits for.
    expect(jct(slow, 'b')).toBeGreaterThan(jct(plain, 'b') + 60);
  });

  it('a round shorter than the overhead makes no progress for a restarted job', async () => {
    const r = await simulate(input({ restartOverhead: 400, jobs: [job('a', { totalSteps: 100 })] }));
    // First round: only the restart (360 of 400 s are lost, nothing done); second round: the lease is extended.
    const a = r.result.jobs.find((j) => j.id === 'a')!;
    expect(a.finishTime!).toBeCloseTo(360 + 10, 6);
  });
});
