import { beforeAll, describe, expect, it } from 'vitest';
import { validateAllocation } from '../../src/model/index.js';
import { getPolicy, initSolver } from '../../src/policies/index.js';
import { solveLas } from '../../src/policies/las.js';
import { effective, sharesOf, snap } from './helpers.js';

beforeAll(async () => {
  await initSolver();
});

describe('max_min_fairness_perf (LAS, heterogeneity-aware)', () => {
  it('equalises normalised throughput on a hand-solved instance', () => {
    // 1 v100 + 1 k80 (G = 2). A = [4, 1] has equal-share throughput (4 + 1) / 2 = 2.5; B = C = [1, 1] have 1.
    // A takes a of the v100; B and C split the rest and the k80: u_B = u_C = (1 - a) / 2 + 1 / 2 = 1 - a / 2,
    // u_A = 4a / 2.5 = 1.6a. Equal at 2.1a = 1: a = 10/21, level 16/21.
    const s = snap({ v100: 1, k80: 1 }, [{ t: [4, 1] }, { t: [1, 1] }, { t: [1, 1] }]);
    const r = getPolicy('max_min_fairness_perf').allocate(s);
    validateAllocation(r.allocation, s.cluster, () => 1);
    const eff = effective(s, r);
    expect(eff[0]! / 2.5).toBeCloseTo(16 / 21, 5);
    expect(eff[1]!).toBeCloseTo(16 / 21, 5);
    expect(sharesOf(r, 'j0000')[0]).toBeCloseTo(10 / 21, 4);
    // Identical jobs get identical shares.
    expect(sharesOf(r, 'j0001')[0]).toBeCloseTo(sharesOf(r, 'j0002')[0]!, 9);
    expect(sharesOf(r, 'j0001')[1]).toBeCloseTo(sharesOf(r, 'j0002')[1]!, 9);
    const lvl = solveLas(s, { aware: true }, 'x').level;
    expect(lvl).toBeCloseTo(16 / 21, 6);
  });

  it('weights and scale factors enter as scale / weight', () => {
    // One type, 3 GPUs, two jobs of throughput 1. A has weight 2: maximise min(x_A / 2, x_B), x_A + x_B <= 3,
    // x <= 1: x_B = 1 and x_A = 1 (row limit) -> level 0.5; with 1 GPU: x_A + x_B <= 1 -> x_A = 2/3, x_B = 1/3.
    const s = snap({ v100: 1 }, [{ t: [1], w: 2 }, { t: [1] }]);
    const r = getPolicy('las-aware').allocate(s);
    expect(sharesOf(r, 'j0000')[0]).toBeCloseTo(2 / 3, 5);
    expect(sharesOf(r, 'j0001')[0]).toBeCloseTo(1 / 3, 5);
    // A 2-GPU job gets half the time of a 1-GPU job on 2 GPUs: 2 x_A + x_B <= 2, 2 x_A = x_B -> x_A = 1/2, x_B = 1.
    const s2 = snap({ v100: 2 }, [{ t: [1], sf: 2 }, { t: [1] }]);
    const r2 = getPolicy('max_min_fairness_perf').allocate(s2);
    expect(sharesOf(r2, 'j0000')[0]).toBeCloseTo(0.5, 5);
    expect(sharesOf(r2, 'j0001')[0]).toBeCloseTo(1, 5);
  });
});

describe('max_min_fairness (agnostic)', () => {
  it('gives equal time shares regardless of throughput', () => {
    // Same cluster as above: 2 GPUs for 3 jobs -> 2/3 of wall time each.
    const s = snap({ v100: 1, k80: 1 }, [{ t: [4, 1] }, { t: [1, 1] }, { t: [1, 1] }]);
    const r = getPolicy('max_min_fairness').allocate(s);
    for (const id of ['j0000', 'j0001', 'j0002']) {
      const x = sharesOf(r, id);
      expect(x[0]! + x[1]!).toBeCloseTo(2 / 3, 5);
    }
    expect(solveLas(s, { aware: false }, 'x').level).toBeCloseTo(2 / 3, 6);
  });
});

describe('degenerate input', () => {
  it('handles no jobs, zero throughput, a type with no GPUs and jobs larger than the cluster', () => {
    const p = getPolicy('max_min_fairness_perf');
    expect(p.allocate(snap({ v100: 2 }, [])).allocation.shares.size).toBe(0);
    const s = snap({ v100: 2, k80: 0 }, [{ t: [0, 0] }, { t: [1, 5] }, { t: [1, 1], sf: 4 }, { t: [2, 1], allowed: ['k80'] }]);
    const r = p.allocate(s);
    for (const row of r.allocation.shares.values()) for (const v of row) expect(Number.isFinite(v)).toBe(true);
    expect(sharesOf(r, 'j0000')).toEqual([0, 0]);
    expect(sharesOf(r, 'j0001')[1]).toBe(0);
    expect(sharesOf(r, 'j0001')[0]).toBeCloseTo(1, 5);
    expect(sharesOf(r, 'j0002')).toEqual([0, 0]);
    expect(sharesOf(r, 'j0003')).toEqual([0, 0]);
  });

  it('rejects malformed snapshots and unknown names', () => {
    expect(() => getPolicy('las').allocate(snap({ v100: 1 }, [{ t: [1, 2] }]))).toThrow(/throughputs/);
    expect(() => getPolicy('no_such_policy')).toThrow(/max_min_fairness_perf/);
  });
});
