import { beforeAll, describe, expect, it } from 'vitest';
import { validateAllocation } from '../../src/model/index.js';
import { solveFinishTimeFairness } from '../../src/policies/finish-time-fairness.js';
import { getPolicy, initSolver, listPolicies } from '../../src/policies/index.js';
import { solveMinTotalDuration } from '../../src/policies/min-total-duration.js';
import { effective, sharesOf, snap } from './helpers.js';
import { GAVEL_SET } from './own.js';

beforeAll(async () => {
  await initSolver();
});

describe('isolated', () => {
  it("splits the cluster evenly as Gavel's IsolatedPolicy", () => {
    // v100:4, k80:2, m = 3. sf 1: [4/3, 2/3] sums to 2 -> halved to [2/3, 1/3]; sf 2: [2/3, 1/3] (sum 1, kept).
    const s = snap({ v100: 4, k80: 2 }, [{ t: [1, 1] }, { t: [1, 1], sf: 2 }, { t: [1, 0] }]);
    const r = getPolicy('isolated').allocate(s);
    expect(sharesOf(r, 'j0000')).toEqual([2 / 3, 1 / 3]);
    expect(sharesOf(r, 'j0001')).toEqual([2 / 3, 1 / 3]);
    // No throughput on k80: that cell is 0.
    expect(sharesOf(r, 'j0002')).toEqual([2 / 3, 0]);
  });
});

describe('max_sum_throughput', () => {
  it('maximises total throughput, and throughput per dollar with prices', () => {
    // A = [4, 2], B = [2.5, 1] on 1 v100 + 1 k80. Sum: A on v100 + B on k80 = 5 beats 2 + 2.5 = 4.5.
    const s = snap({ v100: 1, k80: 1 }, [{ t: [4, 2] }, { t: [2.5, 1] }]);
    const r = getPolicy('max_sum_throughput_perf').allocate(s);
    expect(sharesOf(r, 'j0000')[0]).toBeCloseTo(1, 5);
    expect(sharesOf(r, 'j0001')[1]).toBeCloseTo(1, 5);
    // Prices v100 $2, k80 $1: A on v100 + B on k80 = 4/2 + 1/1 = 3; A on k80 + B on v100 = 2/1 + 2.5/2 = 3.25.
    const c = getPolicy('min-cost').allocate({ ...s, prices: { v100: 2, k80: 1 } });
    expect(sharesOf(c, 'j0000')[1]).toBeCloseTo(1, 5);
    expect(sharesOf(c, 'j0001')[0]).toBeCloseTo(1, 5);
    // A type without a price is a usage error.
    expect(() => getPolicy('min-cost').allocate(snap({ a100: 1 }, [{ t: [1] }]))).toThrow(/price/);
  });

  it('meets SLOs when it can and drops them when it cannot', () => {
    // 1 GPU, two equal jobs: any split maximises the sum. B must do 100 steps in 200 s: rate 0.5 -> x_B >= 0.5.
    const s = snap({ v100: 1 }, [{ t: [1] }, { t: [1], rem: 100, deadline: 200 }]);
    const r = getPolicy('max_sum_throughput_normalized_by_cost_perf_SLOs').allocate(s);
    expect(sharesOf(r, 'j0001')[0]).toBeGreaterThanOrEqual(0.5 - 1e-6);
    expect(sharesOf(r, 'j0000')[0]! + sharesOf(r, 'j0001')[0]!).toBeCloseTo(1, 5);
    // 400 steps in 200 s needs rate 2 > 1: infeasible, solved without SLOs.
    const s2 = snap({ v100: 1 }, [{ t: [1] }, { t: [1], rem: 400, deadline: 200 }]);
    const r2 = getPolicy('cost-slo').allocate(s2);
    validateAllocation(r2.allocation, s2.cluster, () => 1);
    expect(sharesOf(r2, 'j0000')[0]! + sharesOf(r2, 'j0001')[0]!).toBeCloseTo(1, 5);
  });
});

describe('min_total_duration', () => {
  it('finds the makespan by bisection to a 1.05 bracket', () => {
    // 1 GPU, 1000 and 3000 steps at 1 step/s: x_A >= 1000/T, x_B >= 3000/T, x_A + x_B <= 1 -> T >= 4000.
    const s = snap({ v100: 1 }, [{ t: [1], rem: 1000 }, { t: [1], rem: 3000 }]);
    const r = solveMinTotalDuration(s, { aware: true });
    expect(r.makespan).toBeGreaterThanOrEqual(4000 - 1e-6);
    expect(r.makespan).toBeLessThanOrEqual(4000 * 1.05);
    expect(r.shares[0]![0]! * r.makespan).toBeGreaterThanOrEqual(1000 - 1e-3);
    expect(r.shares[1]![0]! * r.makespan).toBeGreaterThanOrEqual(3000 - 1e-3);
    const a = getPolicy('makespan-aware').allocate(s);
    validateAllocation(a.allocation, s.cluster, () => 1);
  });

  it('agnostic variant assumes v100 speed on every type', () => {
    // A = [2, 1] with 4000 steps on 1 v100 + 1 k80. Agnostic sees [2, 2]: 2 (x_v + x_k) >= 4000 / T with
    // x_v + x_k <= 1 -> T >= 2000. Aware: 2 x_v + x_k <= 2 -> the same 2000 (all on v100).
    const s = snap({ v100: 1, k80: 1 }, [{ t: [2, 1], rem: 4000 }]);
    expect(solveMinTotalDuration(s, { aware: false }).makespan).toBeLessThanOrEqual(2000 * 1.05);
    expect(solveMinTotalDuration(s, { aware: false }).makespan).toBeGreaterThanOrEqual(2000 - 1e-6);
  });
});

describe('finish_time_fairness', () => {
  it('equalises rho on a hand-solved instance and carries isolated time in its state', () => {
    // 1 GPU, now = 100. A arrived at 0 with 100 steps left, B at 100 with 300, both 1 step/s. m = 2, so the
    // isolated share is 1/2: iso = 0.5, denominators 200 and 600. rho_A = (100 + 100/x)/200,
    // rho_B = (300/(1-x))/600; equal when x^2 + x - 1 = 0: x = 0.618034, rho = 1.309017.
    const s = { ...snap({ v100: 1 }, [{ t: [1], rem: 100, arrival: 0 }, { t: [1], rem: 300, arrival: 100 }]), now: 100 };
    const r = solveFinishTimeFairness(s, { aware: true });
    expect(r.rho).toBeCloseTo(1.309017, 4);
    expect(r.shares[0]![0]).toBeCloseTo(0.618034, 3);
    // Next call: A did 50 steps at iso throughput 0.5 -> 100 s of isolated time accumulated.
    const s2 = { ...snap({ v100: 1 }, [{ t: [1], rem: 50, arrival: 0 }, { t: [1], rem: 300, arrival: 100 }]), now: 200, state: r.state };
    const r2 = solveFinishTimeFairness(s2, { aware: true });
    expect(r2.state.jobs[0]![1]).toBeCloseTo(100, 9);
    expect(r2.state.jobs[1]![1]).toBeCloseTo(0, 9);
    const p = getPolicy('finish_time_fairness_perf').allocate(s2);
    validateAllocation(p.allocation, s2.cluster, () => 1);
    expect(p.state).toBeDefined();
  });
});

describe('finish_time_fairness (agnostic)', () => {
  it("uses the job's v100 throughput on every type", () => {
    // One job, 1 v100 + 1 k80, T = [2, 1], 100 steps, now = arrival. Isolated share (m = 1): [1, 1] halved to
    // [0.5, 0.5]. Agnostic row [2, 2]: iso = 2, denominator 50, best thr 2 -> rho = (100/2)/50 = 1. Aware row:
    // iso = 1.5, denominator 66.67, best thr 2 (all v100) -> rho = 50/66.67 = 0.75.
    const s = snap({ v100: 1, k80: 1 }, [{ t: [2, 1], rem: 100, arrival: 0 }]);
    expect(solveFinishTimeFairness(s, { aware: false }).rho).toBeCloseTo(1, 5);
    const aware = solveFinishTimeFairness(s, { aware: true });
    expect(aware.rho).toBeCloseTo(0.75, 5);
    expect(aware.shares[0]![0]).toBeCloseTo(1, 4);
  });
});

describe('water-filling', () => {
  it('gives leftover capacity to jobs that LAS leaves at the common level', () => {
    // A and B run only on the v100, C only on the k80 (agnostic: equal-share throughput 0.5 each, u = 2 x).
    // LAS: A, B get 1/2 of the v100 (u = 1); any C share in [1/2, 1] is optimal. Water-filling then raises C to 1.
    const s = snap({ v100: 1, k80: 1 }, [{ t: [1, 0] }, { t: [1, 0] }, { t: [0, 1] }]);
    const r = getPolicy('max_min_fairness_water_filling').allocate(s);
    expect(sharesOf(r, 'j0000')[0]).toBeCloseTo(0.5, 4);
    expect(sharesOf(r, 'j0001')[0]).toBeCloseTo(0.5, 4);
    expect(sharesOf(r, 'j0002')[1]).toBeCloseTo(1, 4);
    const rp = getPolicy('max_min_fairness_water_filling_perf').allocate(s);
    expect(sharesOf(rp, 'j0002')[1]).toBeCloseTo(1, 4);
  });

  it('hierarchical: tenants share equally, then fairness or FIFO inside each tenant', () => {
    // 1 GPU. Tenant X has A and B, tenant Y has C (weights 1). Fairness: A, B weigh 1/2 each, C 1:
    // 2 x_A = 2 x_B = x_C, sum 1 -> x_A = x_B = 1/4, x_C = 1/2.
    const jobs = [{ t: [1], tenant: 'X' }, { t: [1], tenant: 'X' }, { t: [1], tenant: 'Y' }];
    const s = snap({ v100: 1 }, jobs);
    const f = getPolicy('max_min_fairness_hierarchical').allocate(s);
    expect(sharesOf(f, 'j0000')[0]).toBeCloseTo(0.25, 4);
    expect(sharesOf(f, 'j0001')[0]).toBeCloseTo(0.25, 4);
    expect(sharesOf(f, 'j0002')[0]).toBeCloseTo(0.5, 4);
    // FIFO inside X: A (oldest) gets X's whole weight, B nothing until A is done.
    const q = getPolicy('fifo_hierarchical').allocate(s);
    expect(sharesOf(q, 'j0000')[0]).toBeCloseTo(0.5, 4);
    expect(sharesOf(q, 'j0001')[0]).toBeCloseTo(0, 4);
    expect(sharesOf(q, 'j0002')[0]).toBeCloseTo(0.5, 4);
    // Tenant weights: Y weighs 3 -> x_C = 3 x_A + ... : 2 x_A = 2 x_B = x_C / 3 -> x_A = x_B = 1/8, x_C = 3/4.
    const w = getPolicy('hierarchical').allocate({ ...s, tenantWeights: { Y: 3 } });
    expect(sharesOf(w, 'j0002')[0]).toBeCloseTo(0.75, 4);
    expect(sharesOf(w, 'j0000')[0]).toBeCloseTo(0.125, 4);
  });
});

describe('shortest_job_first', () => {
  it('starts the shortest remaining jobs first on their fastest free type', () => {
    // Remaining time alone: A 1000 s, B 10 s, C 100 / 2 = 50 s -> order B, C, A. B takes the v100, C the k80.
    const s = snap({ v100: 1, k80: 1 }, [{ t: [1, 1], rem: 1000 }, { t: [1, 0.5], rem: 10 }, { t: [2, 1], rem: 100 }]);
    const r = getPolicy('sjf').allocate(s);
    expect(sharesOf(r, 'j0001')).toEqual([1, 0]);
    expect(sharesOf(r, 'j0002')).toEqual([0, 1]);
    expect(sharesOf(r, 'j0000')).toEqual([0, 0]);
  });
});

describe('registry', () => {
  it('has every Gavel name and resolves aliases', () => {
    const names = listPolicies().map((m) => m.name);
    for (const n of GAVEL_SET) expect(names).toContain(n);
    expect(getPolicy('las').meta.name).toBe('max_min_fairness');
    expect(getPolicy('LAS-aware').meta.name).toBe('max_min_fairness_perf');
    expect(getPolicy('ftf').meta.name).toBe('finish_time_fairness');
    expect(getPolicy('makespan').meta.name).toBe('min_total_duration');
    expect(getPolicy('sjf').meta.name).toBe('shortest_job_first');
    expect(getPolicy('min-cost').meta.needsPrices).toBe(true);
    expect(() => getPolicy('las2')).toThrow(/unknown policy.*max_min_fairness/);
  });

  it('every policy handles an empty snapshot and a degenerate one without NaN', () => {
    for (const name of GAVEL_SET) {
      const p = getPolicy(name);
      expect(p.allocate(snap({ v100: 2, p100: 0 }, [])).allocation.shares.size).toBe(0);
      const s = snap({ v100: 2, p100: 0 }, [{ t: [0, 0] }, { t: [1, 1], sf: 4 }, { t: [2, 1], rem: 10, deadline: 50 }, { t: [1, 3] }]);
      const r = p.allocate(s);
      for (const row of r.allocation.shares.values()) for (const v of row) expect(Number.isFinite(v)).toBe(true);
      validateAllocation(r.allocation, s.cluster, (id) => (id === 'j0001' ? 4 : 1));
      expect(sharesOf(r, 'j0000')).toEqual([0, 0]);
      expect(sharesOf(r, 'j0001')).toEqual([0, 0]);
      expect(effective(s, r)[2]).toBeGreaterThan(0);
    }
  });
});
