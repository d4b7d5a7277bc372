import { beforeAll, describe, expect, it } from 'vitest';
import { initSolver, LpBuilder } from '../../src/solver/index.js';
import { solveSifting, type SiftingStats } from '../../src/solver/sifting.js';
import { seededRandom } from '../../src/model/index.js';

beforeAll(async () => {
  await initSolver();
});

/** A random packing LP: `n` columns in [0, 1], `m` knapsack rows, one row a lower bound (cover). */
function randomLp(seed: number, sense: 'max' | 'min', n: number, m: number, cover: number): LpBuilder {
  const rnd = seededRandom(seed);
  const lp = new LpBuilder(sense);
  for (let j = 0; j < n; j++) lp.addVar({ lb: 0, ub: 1, cost: sense === 'max' ? rnd() : 1 + rnd() });
  for (let i = 0; i < m; i++) {
    const idx: number[] = [];
    const val: number[] = [];
    for (let j = 0; j < n; j++) {
      if (rnd() < 0.3) {
        idx.push(j);
        val.push(0.1 + rnd());
      }
    }
    lp.addRow(-Infinity, 2 + rnd() * 5, idx, val);
  }
  lp.addRow(cover, Infinity, [...Array(n).keys()], Array(n).fill(1));
  return lp;
}

describe('solveSifting', () => {
  it('reaches the whole LP optimum from a few columns, in both senses', () => {
    for (const sense of ['max', 'min'] as const) {
      for (const seed of [1, 2, 3]) {
        const lp = randomLp(seed, sense, 400, 12, 3);
        const whole = lp.solve({ method: 'simplex', cache: false });
        const first = new Uint8Array(400);
        for (let j = 0; j < 400; j += 10) first[j] = 1;
        let stats: SiftingStats | undefined;
        const r = solveSifting(lp, first, { method: 'simplex', cache: false, onStats: (s) => (stats = s) });
        expect(r.status).toBe('optimal');
        expect(r.objective).toBeCloseTo(whole.objective, 7);
        expect(r.x.length).toBe(400);
        expect(stats!.fullSolves).toBe(0);
        expect(stats!.columns).toBeLessThan(400);
        // The solution is feasible for the whole LP.
        const { starts, indices, values, rowLower, rowUpper } = lp.arrays();
        for (let i = 0; i < lp.numRows; i++) {
          let a = 0;
          for (let p = starts[i]!; p < starts[i + 1]!; p++) a += values[p]! * r.x[indices[p]!]!;
          expect(a).toBeGreaterThanOrEqual(rowLower[i]! - 1e-7);
          expect(a).toBeLessThanOrEqual(rowUpper[i]! + 1e-7);
        }
      }
    }
  });

  it('solves the whole LP when the working set cannot meet a row', () => {
    const lp = randomLp(4, 'max', 200, 8, 1);
    // Only column 0 in the set: the row that only column 199 can meet makes the restricted LP infeasible.
    lp.addRow(0.5, Infinity, [199], [1]);
    let stats: SiftingStats | undefined;
    const first = new Uint8Array(200);
    first[0] = 1;
    const r = solveSifting(lp, first, { method: 'simplex', cache: false, onStats: (s) => (stats = s) });
    expect(r.status).toBe('optimal');
    expect(r.objective).toBeCloseTo(lp.solve({ method: 'simplex', cache: false }).objective, 7);
    expect(stats!.fullSolves).toBe(1);
  });

  it('keeps column names', () => {
    const lp = new LpBuilder('max');
    const a = lp.addVar({ ub: 1, cost: 1, name: 'a' });
    const b = lp.addVar({ ub: 1, cost: 2, name: 'b' });
    lp.addRow(-Infinity, 1.5, [a, b], [1, 1]);
    const first = new Uint8Array(2);
    first[a] = 1;
    const r = solveSifting(lp, first, { cache: false });
    expect(r.value('b')).toBeCloseTo(1, 9);
    expect(r.value('a')).toBeCloseTo(0.5, 9);
    expect(() => r.value('c')).toThrow(/no column named c/);
  });

  it('refuses MILPs and interior-point solves', () => {
    const lp = new LpBuilder('max');
    lp.addVar({ ub: 1, cost: 1, integer: true });
    expect(() => solveSifting(lp, new Uint8Array(1))).toThrow(/integer/);
    const lp2 = new LpBuilder('max');
    lp2.addVar({ ub: 1, cost: 1 });
    expect(() => solveSifting(lp2, new Uint8Array(1), { method: 'ipm' })).toThrow(/simplex/);
  });
});
