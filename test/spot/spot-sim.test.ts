import { beforeAll, describe, expect, it } from 'vitest';
import { parseCapacity, parsePrices, readThroughputs } from '../../src/io/index.js';
import { getPolicy } from '../../src/policies/registry.js';
import { initSolver } from '../../src/solver/index.js';
import { simulate, type SimulationOutput } from '../../src/sim/index.js';
import { makeCluster, type Job } from '../../src/model/index.js';

const table = readThroughputs('data/gavel/simulation_throughputs.json');
const dummy = makeCluster({ v100: 1 });

const CAPACITY = `time_s,gpu_type,tier,gpus,notice_s
0,v100,on-demand,2,
0,v100,spot,8,
0,k80,spot,4,
3000,v100,spot,3,120
5000,k80,spot,0,30
9000,v100,spot,8,
12000,k80,spot,4,
20000,v100,spot,1,120
26000,v100,spot,6,
`;
const PRICES = `time_s,gpu_type,tier,usd_per_gpu_hour
0,v100,on-demand,3.06
0,v100,spot,0.92
0,k80,spot,0.27
10000,v100,spot,1.20
`;

async function run(policy: string, seed = 1, extra: Record<string, unknown> = {}): Promise<SimulationOutput> {
  return simulate({
    cluster: dummy, throughputs: table, policy: getPolicy(policy), seed,
    generate: { rate: 6, limit: 25 },
    spot: { capacity: parseCapacity(CAPACITY, 'cap.csv'), prices: parsePrices(PRICES, 'prices.csv'), loopS: 30000, keepUsage: true, sloFactors: [1.2, 2, 10], ...extra },
  });
}

/** Busy GPUs of each type never exceed the capacity in force, at every instant where usage changes. */
function checkCapacity(out: SimulationOutput): void {
  const run = out.spotRun!;
  const spans = run.usage;
  const cuts = [...new Set(spans.flatMap((s) => [s.start, s.end]))].sort((a, b) => a - b);
  for (let i = 0; i + 1 < cuts.length; i++) {
    const mid = (cuts[i]! + cuts[i + 1]!) / 2;
    const used = new Map<string, number>();
    for (const s of spans) if (s.start < mid && mid < s.end) used.set(s.type, (used.get(s.type) ?? 0) + s.gpus);
    for (const [type, n] of used) expect(n, `${type} at ${mid}`).toBeLessThanOrEqual(run.capacity.countAt(type, mid));
  }
}

describe('spot simulation', () => {
  beforeAll(async () => {
    await initSolver();
  });

  for (const policy of ['max_min_fairness_perf', 'fifo_perf', 'min-cost']) {
    it(`${policy}: every job finishes exactly once, capacity is respected, cost accrues`, async () => {
      const out = await run(policy);
      const ids = out.result.jobs.map((j) => j.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe(25);
      for (const j of out.result.jobs) {
        expect(j.finishTime, j.id).toBeDefined();
        expect(j.stepsDone).toBe(j.totalSteps);
      }
      checkCapacity(out);
      const s = out.spot!;
      expect(s.completedJobs).toBe(25);
      expect(s.totalCost).toBeGreaterThan(0);
      expect(s.costPerCompletedJob).toBeCloseTo(s.totalCost / 25, 9);
      expect(Object.values(s.costByType).reduce((a, b) => a + b, 0)).toBeCloseTo(s.totalCost, 6);
      expect(s.jobsWithSlo).toBe(25);
    }, 60_000);
  }

  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await run('max_min_fairness_perf', 7);
    const b = await run('max_min_fairness_perf', 7);
    const c = await run('max_min_fairness_perf', 8);
    expect(a.spot!.revocations).toBeGreaterThan(0);
    expect(a.spot!.lostGpuHours).toBeGreaterThan(0);
    expect(JSON.stringify(b.spot)).toBe(JSON.stringify(a.spot));
    expect(b.result.jobs.map((j) => j.finishTime)).toEqual(a.result.jobs.map((j) => j.finishTime));
    expect(JSON.stringify(c.spot)).not.toBe(JSON.stringify(a.spot));
  }, 60_000);

  it('a revocation stops the job at the notice time and loses the work since its last checkpoint', async () => {
    // One job alone on one spot GPU; the GPU goes at 1000 s with 100 s notice and comes back at 2000 s.
    const cap = 'time_s,gpu_type,tier,gpus,notice_s\n0,v100,spot,1,\n1000,v100,spot,0,100\n2000,v100,spot,1,\n';
    const prices = 'time_s,gpu_type,tier,usd_per_gpu_hour\n0,v100,spot,1.8\n';
    const jobType = 'ResNet-18 (batch size 64)';
    const tput = table.consolidated['v100']![`${jobType}|1`]!.isolated;
    const job: Job = { id: 'j0', jobType, scaleFactor: 1, arrivalTime: 0, totalSteps: Math.round(tput * 3000), priorityWeight: 1 };
    const go = (ckpt?: { intervalS: number; costS: number }): Promise<SimulationOutput> =>
      simulate({
        cluster: dummy, throughputs: table, policy: getPolicy('fifo_perf'), jobs: [job],
        spot: { capacity: parseCapacity(cap), prices: parsePrices(prices), ...(ckpt ? { checkpoint: ckpt } : {}) },
      });
    const plain = await go();
    expect(plain.spot!.revocations).toBe(1);
    expect(plain.spot!.lostGpuHours).toBeCloseTo(900 / 3600, 6);
    // 900 s run then lost, the whole job (3000 s) again from 2000 s.
    expect(plain.result.jobs[0]!.finishTime!).toBeCloseTo(5000, 0);
    // Billed for 900 + 3000 GPU-seconds at $1.8/h.
    expect(plain.spot!.totalCost).toBeCloseTo((3900 / 3600) * 1.8, 2);
    const ck = await go({ intervalS: 300, costS: 0 });
    // Checkpoints at 300, 600, 900: nothing lost, resumes at 2000 with 2100 s left.
    expect(ck.spot!.lostGpuHours).toBeCloseTo(0, 6);
    expect(ck.result.jobs[0]!.finishTime!).toBeCloseTo(4100, 0);
    const costly = await go({ intervalS: 400, costS: 100 });
    // Checkpoints every 500 s of run (400 useful): at 500 a checkpoint, 400 s lost after it; the rest runs slower.
    expect(costly.spot!.lostGpuHours).toBeCloseTo(400 / 3600, 6);
    expect(costly.result.jobs[0]!.finishTime!).toBeGreaterThan(ck.result.jobs[0]!.finishTime!);
  }, 60_000);

  it('refuses a cluster type without a price', async () => {
    const cap = 'time_s,gpu_type,tier,gpus\n0,v100,spot,1\n0,k80,on-demand,1\n';
    const prices = 'time_s,gpu_type,tier,usd_per_gpu_hour\n0,v100,spot,1\n';
    await expect(
      simulate({ cluster: dummy, throughputs: table, policy: getPolicy('fifo_perf'), generate: { rate: 1, limit: 1 }, spot: { capacity: parseCapacity(cap), prices: parsePrices(prices, 'p.csv') } }),
    ).rejects.toThrow(/no price for k80/);
  });
});

describe('tier strategies', () => {
  beforeAll(async () => {
    await initSolver();
  });

  it('on-demand and spot baselines use only their tier; deadline uses both and costs less than on-demand', async () => {
    const by: Record<string, SimulationOutput> = {};
    for (const strategy of ['on-demand', 'spot', 'deadline'] as const) by[strategy] = await run('max_min_fairness_perf', 3, { strategy });
    const used = (o: SimulationOutput, spot: boolean): number =>
      Object.entries(o.spot!.busyGpuHoursByType).filter(([t]) => t.endsWith('-spot') === spot).reduce((a, [, v]) => a + v, 0);
    expect(used(by['on-demand']!, true)).toBe(0);
    expect(used(by['on-demand']!, false)).toBeGreaterThan(0);
    expect(used(by['spot']!, false)).toBe(0);
    expect(by['spot']!.spot!.revocations).toBeGreaterThan(0);
    expect(used(by['deadline']!, true)).toBeGreaterThan(0);
    expect(by['deadline']!.spot!.totalCost).toBeLessThan(by['on-demand']!.spot!.totalCost);
    for (const o of Object.values(by)) {
      expect(o.spot!.completedJobs).toBe(25);
      checkCapacity(o);
    }
  }, 120_000);
});
