import { describe, expect, it } from 'vitest';
import { runEngine, type EngineResult } from '../../src/engine/index.js';
import { SimClock, SimExecutor, TraceSource, simulate, tableThroughputs } from '../../src/sim/index.js';
import { makeCluster, type Allocation, type Job, type RoundPlan, type ThroughputTable } from '../../src/model/index.js';
import { getPolicy } from '../../src/policies/index.js';
import type { Policy, PolicySnapshot } from '../../src/policies/types.js';
import { job, pairTable } from '../sim/helpers.js';

/** A hand-made space-sharing policy: fixed shares per row key, for the rows whose jobs are all active. */
function fixedPairs(shares: Record<string, number>): Policy {
  return {
    meta: { name: 'pairs_test', aliases: [], description: 'test pairs', heterogeneityAware: true, spaceSharing: true, needsPrices: false, usesSlos: false },
    allocate(s: PolicySnapshot) {
      const ids = new Set(s.jobs.map((j) => j.id));
      const out = new Map<string, number[]>();
      for (const [key, x] of Object.entries(shares)) if (key.split('+').every((j) => ids.has(j))) out.set(key, [x]);
      // A job whose pair is gone gets the whole GPU alone.
      for (const j of s.jobs) if (![...out.keys()].some((k) => k.split('+').includes(j.id))) out.set(j.id, [1]);
      const allocation: Allocation = { gpuTypes: s.cluster.gpuTypes, shares: out };
      return { allocation };
    },
  };
}

async function run(jobs: Job[], policy: Policy, table: ThroughputTable, opts: { maxRounds?: number; plans?: RoundPlan[] } = {}): Promise<EngineResult> {
  const cluster = makeCluster({ v100: 1 }, 1);
  const clock = new SimClock();
  return runEngine({
    cluster,
    policy,
    clock,
    executor: new SimExecutor(clock, table),
    source: new TraceSource(jobs),
    throughputOf: tableThroughputs(table, cluster),
    throughputs: table,
    roundDuration: 360,
    minReallocationInterval: 0,
    ...(opts.maxRounds !== undefined ? { maxRounds: opts.maxRounds } : {}),
    ...(opts.plans ? { observer: { onPlan: (p: RoundPlan) => opts.plans!.push(p) } } : {}),
  });
}

describe('engine with space-sharing pairs', () => {
  it('runs a pair on one GPU at co-located rates, extends its lease, and counts the GPU once', async () => {
    // a (A): 3600 steps at 6/s together; b (B): 1500 steps at 3/s together. Round 0: 2160 + 1080 steps. Round 1
    // (lease extended): b's last 420 steps end at 360 + 140 = 500 s, a's last 1440 at 360 + 240 = 600 s.
    const jobs = [job('a', { jobType: 'A', totalSteps: 3600 }), job('b', { jobType: 'B', totalSteps: 1500 })];
    const r = await run(jobs, fixedPairs({ 'a+b': 1 }), pairTable());
    const [a, b] = r.jobs;
    expect(b!.finishTime).toBeCloseTo(500, 9);
    expect(a!.finishTime).toBeCloseTo(600, 9);
    expect(r.rounds).toBe(2);
    expect(r.leaseExtensions).toBe(1);
    expect(a!.preemptions + b!.preemptions).toBe(0);
    // One GPU busy for 360 + 240 s (not the sum of the two jobs' run times).
    expect(r.timeline.map((t) => t.busyGpuSeconds[0])).toEqual([360, 240]);
    expect(a!.runSeconds[0]).toBeCloseTo(600, 9);
    expect(b!.runSeconds[0]).toBeCloseTo(500, 9);
  });

  it('a job left alone by its partner runs alone at its isolated rate, restarted (a preemption)', async () => {
    // Round 0: b's 900 steps at 3/s end at 300 s; a does 2160 at 6/s. Round 1: a alone at 10/s: 1440 steps, 144 s.
    const jobs = [job('a', { jobType: 'A', totalSteps: 3600 }), job('b', { jobType: 'B', totalSteps: 900 })];
    const r = await run(jobs, fixedPairs({ 'a+b': 1 }), pairTable());
    const [a, b] = r.jobs;
    expect(b!.finishTime).toBeCloseTo(300, 9);
    expect(a!.finishTime).toBeCloseTo(360 + 144, 9);
    expect(a!.preemptions).toBe(1);
  });

  it('credits the pair row, not its jobs: a pair and a single with equal shares alternate', async () => {
    // Shares a+b 0.5, c 0.5 on one GPU. Round 0 is a tie (row order puts the pair first); after the pair ran, c has
    // the higher priority; then they tie again, and so on. Were a and b credited instead, the pair would run twice.
    const jobs = [job('a', { jobType: 'A', totalSteps: 1e6 }), job('b', { jobType: 'B', totalSteps: 1e6 }), job('c', { jobType: 'A', totalSteps: 1e6 })];
    const plans: RoundPlan[] = [];
    await run(jobs, fixedPairs({ 'a+b': 0.5, c: 0.5 }), pairTable(), { maxRounds: 6, plans });
    expect(plans.map((p) => p.assignments.map((x) => x.jobIds.join('+')).join(','))).toEqual(['a+b', 'c', 'a+b', 'c', 'a+b', 'c']);
  });

  it('rejects a pair of jobs with different scale factors', async () => {
    const jobs = [job('a', { jobType: 'A', totalSteps: 100 }), job('b', { jobType: 'B', scaleFactor: 2, totalSteps: 100 })];
    const table = pairTable();
    const t2: ThroughputTable = { ...table, consolidated: { v100: { ...table.consolidated['v100']!, 'B|2': { isolated: 8, colocated: {} } } } };
    const cluster = makeCluster({ v100: 2 }, 1);
    const clock = new SimClock();
    await expect(
      runEngine({ cluster, policy: fixedPairs({ 'a+b': 1 }), clock, executor: new SimExecutor(clock, t2), source: new TraceSource(jobs), throughputOf: tableThroughputs(t2, cluster), throughputs: t2 }),
    ).rejects.toThrow(/same scale factor/);
  });

  it('gandiva packs good pairs on an oversubscribed cluster; every job finishes with all its steps', async () => {
    const table: ThroughputTable = {
      gpuTypes: ['v100'],
      consolidated: {
        v100: {
          'A|1': { isolated: 10, colocated: { 'A|1': [6, 6], 'B|1': [6, 3] } },
          'B|1': { isolated: 5, colocated: { 'A|1': [3, 6], 'B|1': [3, 3] } },
        },
      },
      unconsolidated: {},
    };
    const jobs = Array.from({ length: 6 }, (_, i) => job(`j${i}`, { jobType: i % 2 ? 'B' : 'A', totalSteps: 5000 + 700 * i, arrivalTime: 10 * i }));
    const plans: RoundPlan[] = [];
    const out = await simulate({
      cluster: makeCluster({ v100: 2 }, 2),
      throughputs: table,
      policy: getPolicy('gandiva_packing'),
      jobs,
      observer: { onPlan: (p) => plans.push(p) },
    });
    expect(out.result.jobs.every((j) => j.finishTime !== undefined && j.stepsDone === j.totalSteps)).toBe(true);
    const pairs = plans.flatMap((p) => p.assignments).filter((a) => a.jobIds.length === 2);
    expect(pairs.length).toBeGreaterThan(0);
    for (const p of plans) {
      const ids = p.assignments.flatMap((a) => a.jobIds);
      expect(new Set(ids).size).toBe(ids.length);
      const gpus = p.assignments.flatMap((a) => a.gpus);
      expect(new Set(gpus).size).toBe(gpus.length);
    }
    // GPUs are counted once: busy time never exceeds the cluster's capacity in a round.
    for (const t of out.result.timeline) expect(t.busyGpuSeconds[0]!).toBeLessThanOrEqual(2 * (t.end - t.start) + 1e-6);
    expect(out.metrics.summary.utilization).toBeLessThanOrEqual(1 + 1e-9);
  });
});
