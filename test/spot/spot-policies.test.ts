import { beforeAll, describe, expect, it } from 'vitest';
import { parseCapacity, parsePrices, readThroughputs } from '../../src/io/index.js';
import { deadlineRule, getPolicy, initSolver, revocationDiscount, type PolicyJob, type PolicySnapshot } from '../../src/policies/index.js';
import { simulate, type SimulationOutput } from '../../src/sim/index.js';
import { makeCluster } from '../../src/model/index.js';

/** The spot and cost policies as registered policies (src/policies/spot-tiers.ts, revocation.ts). */

const table = readThroughputs('data/gavel/simulation_throughputs.json');
const CAPACITY = `time_s,gpu_type,tier,gpus,notice_s
0,v100,on-demand,3,
0,v100,spot,6,
4000,v100,spot,2,120
9000,v100,spot,6,
`;
const PRICES = `time_s,gpu_type,tier,usd_per_gpu_hour
0,v100,on-demand,3.06
0,v100,spot,0.92
`;

async function run(policy: string, strategy?: 'deadline'): Promise<SimulationOutput> {
  return simulate({
    cluster: makeCluster({ v100: 1 }), throughputs: table, policy: getPolicy(policy), seed: 2,
    generate: { rate: 6, limit: 14 },
    spot: { capacity: parseCapacity(CAPACITY, 'cap.csv'), prices: parsePrices(PRICES, 'prices.csv'), loopS: 12000, sloFactors: [1.2, 2, 10], checkpoint: { intervalS: 1800, costS: 30 }, ...(strategy ? { strategy } : {}) },
  });
}

const tierHours = (o: SimulationOutput, spot: boolean): number =>
  Object.entries(o.spot!.busyGpuHoursByType).filter(([t]) => t.endsWith('-spot') === spot).reduce((a, [, v]) => a + v, 0);

function pj(id: string, throughput: number[], extra: Partial<PolicyJob> = {}): PolicyJob {
  return { id, jobType: 'ResNet-18 (batch size 64)', scaleFactor: 1, priorityWeight: 1, throughput, totalSteps: 1000, remainingSteps: 1000, arrivalTime: 0, ...extra };
}

describe('spot policies in the simulator', () => {
  beforeAll(async () => {
    await initSolver();
  });

  it('each finishes every job once and uses the tiers it says', async () => {
    const out: Record<string, SimulationOutput> = {};
    for (const p of ['on_demand_only', 'spot_only', 'greedy_cheapest', 'spot_deadline']) {
      const o = await run(p);
      out[p] = o;
      const ids = o.result.jobs.map((j) => j.id);
      expect(new Set(ids).size, p).toBe(14);
      expect(o.spot!.completedJobs, p).toBe(14);
    }
    expect(tierHours(out['on_demand_only']!, true)).toBe(0);
    expect(tierHours(out['spot_only']!, false)).toBe(0);
    expect(out['spot_only']!.spot!.revocations).toBeGreaterThan(0);
    // Spot costs 30% of on-demand here: the greedy policy fills spot first, and both spot users pay less.
    expect(tierHours(out['greedy_cheapest']!, true)).toBeGreaterThan(tierHours(out['greedy_cheapest']!, false));
    for (const p of ['greedy_cheapest', 'spot_deadline']) expect(out[p]!.spot!.totalCost, p).toBeLessThan(out['on_demand_only']!.spot!.totalCost);
    // --spot-strategy deadline over LAS-aware is the registered spot_deadline policy, bit for bit.
    const alias = await run('max_min_fairness_perf', 'deadline');
    expect(alias.spot).toEqual(out['spot_deadline']!.spot);
    expect(alias.result.jobs.map((j) => j.finishTime)).toEqual(out['spot_deadline']!.result.jobs.map((j) => j.finishTime));
  }, 180_000);
});

describe('spot policies, pure', () => {
  beforeAll(async () => {
    await initSolver();
  });
  const cluster = makeCluster({ v100: 2, 'v100-spot': 2 });
  const prices = { v100: 3, 'v100-spot': 1 };
  const snap = (jobs: PolicyJob[], extra: Partial<PolicySnapshot> = {}): PolicySnapshot => ({ now: 0, cluster, jobs, prices, ...extra });
  const row = (s: PolicySnapshot, policy: string, id: string): readonly number[] => getPolicy(policy).allocate(s).allocation.shares.get(id)!;

  it('discounts a spot type by its revocations: 1 / (1 + s r L / 3600)', () => {
    const rev = { ratePerGpuHour: { 'v100-spot': 0.5 }, lossS: 1800 };
    expect(revocationDiscount({ revocation: rev }, 'v100-spot')).toBeCloseTo(0.8, 12);
    expect(revocationDiscount({ revocation: rev }, 'v100-spot', 2)).toBeCloseTo(2 / 3, 12);
    expect(revocationDiscount({ revocation: rev }, 'v100')).toBe(1);
    expect(revocationDiscount({}, 'v100-spot')).toBe(1);
  });

  it('greedy cheapest: spot first while it is cheaper per expected step, on-demand once revocations make it dearer', () => {
    const jobs = ['a', 'b', 'c'].map((id, i) => pj(id, [10, 10], { arrivalTime: i }));
    const plain = snap(jobs);
    expect(row(plain, 'greedy_cheapest', 'a')).toEqual([0, 1]);
    expect(row(plain, 'greedy_cheapest', 'b')).toEqual([0, 1]);
    expect(row(plain, 'greedy_cheapest', 'c')).toEqual([1, 0]);
    // 3 revocations an hour losing an hour each: a spot step costs 4 x 1 > 3.
    const risky = snap(jobs, { revocation: { ratePerGpuHour: { 'v100-spot': 3 }, lossS: 3600 } });
    expect(row(risky, 'greedy_cheapest', 'a')).toEqual([1, 0]);
    expect(row(risky, 'greedy_cheapest', 'c')).toEqual([0, 1]);
  });

  it("Gavel's min-cost moves work off spot when its revocations make it dearer per expected step", () => {
    const jobs = [pj('a', [10, 10])];
    const cheap = row(snap(jobs), 'min-cost', 'a');
    expect(cheap[1]).toBeGreaterThan(0.99);
    const risky = row(snap(jobs, { revocation: { ratePerGpuHour: { 'v100-spot': 3 }, lossS: 3600 } }), 'min-cost', 'a');
    expect(risky[0]).toBeGreaterThan(0.99);
  });

  it('the deadline rule: spot while the deadline is safe there with 25% slack, on-demand otherwise', () => {
    const spot = [false, true];
    const rev = { ratePerGpuHour: { 'v100-spot': 0.5 }, lossS: 1800 };
    // 1000 steps at 10 steps/s x 0.8 = 125 s on spot, x 1.25 slack = 156.25 s.
    expect(deadlineRule(pj('a', [10, 10], { deadline: 157 }), snap([], { revocation: rev }), spot)).toBe('spot');
    expect(deadlineRule(pj('a', [10, 10], { deadline: 156 }), snap([], { revocation: rev }), spot)).toBe('on-demand');
    expect(deadlineRule(pj('a', [10, 10]), snap([], { revocation: rev }), spot)).toBe('spot');
    expect(deadlineRule(pj('a', [10, 0], { deadline: 1e9 }), snap([]), spot)).toBe('on-demand');
  });

  it('tier baselines keep each job on its tier, and act as LAS-aware on a cluster without tiers', () => {
    const jobs = [pj('a', [10, 10]), pj('b', [5, 5])];
    expect(row(snap(jobs), 'on_demand_only', 'a')[1]).toBe(0);
    expect(row(snap(jobs), 'spot_only', 'a')[0]).toBe(0);
    expect(getPolicy('spot_only').meta.onlyAllocatedRowsRun).toBe(true);
    const plain: PolicySnapshot = { now: 0, cluster: makeCluster({ v100: 1, k80: 1 }), jobs };
    const las = getPolicy('max_min_fairness_perf').allocate(plain).allocation.shares;
    for (const p of ['on_demand_only', 'spot_only', 'spot_deadline']) expect(getPolicy(p).allocate(plain).allocation.shares, p).toEqual(las);
  });
});
