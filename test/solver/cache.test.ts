import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clearSolveCache, configureSolveCache, initSolver, LpBuilder, solveCacheStats } from '../../src/solver/index.js';

beforeAll(async () => {
  await initSolver();
});

afterEach(() => {
  configureSolveCache({ maxBytes: 64 * 1024 * 1024 });
  clearSolveCache();
});

/** max x + y, x + y <= cap, x <= 0.7: a degenerate face, so IPM's central answer is a sensitive probe. */
function model(cap: number, names = true): LpBuilder {
  const lp = new LpBuilder('max');
  const x = lp.addVar(names ? { name: 'x', cost: 1 } : { cost: 1 });
  const y = lp.addVar(names ? { name: 'y', cost: 1 } : { cost: 1 });
  lp.addRow(-Infinity, cap, [x, y], [1, 1]);
  lp.addRow(-Infinity, 0.7, [x], [1]);
  return lp;
}

describe('solve cache', () => {
  it('answers an identical model from the cache with the same bits, and a changed one with a new solve', () => {
    clearSolveCache();
    const first = model(1).solve({ method: 'ipm' });
    expect(solveCacheStats()).toMatchObject({ hits: 0, misses: 1, entries: 1 });
    const again = model(1).solve({ method: 'ipm' });
    expect(solveCacheStats().hits).toBe(1);
    expect(Array.from(again.x)).toEqual(Array.from(first.x));
    expect(again.objective).toBe(first.objective);
    expect(again.value('y')).toBe(first.value('y'));

    // One bound changed: a miss, and the new optimum.
    const other = model(0.5).solve({ method: 'ipm' });
    expect(solveCacheStats().hits).toBe(1);
    expect(other.objective).toBeCloseTo(0.5, 6);
    // Another method is another key (simplex returns a vertex of the same face).
    model(1).solve({ method: 'simplex' });
    expect(solveCacheStats().hits).toBe(1);
  });

  it('gives callers their own arrays', () => {
    clearSolveCache();
    const a = model(1).solve({ method: 'ipm' });
    a.x[0] = 42;
    const b = model(1).solve({ method: 'ipm' });
    expect(b.x[0]).not.toBe(42);
    b.x[1] = 43;
    expect(model(1).solve({ method: 'ipm' }).x[1]).not.toBe(43);
  });

  it('names columns by the model asked, not the one stored', () => {
    clearSolveCache();
    model(1, false).solve({ method: 'ipm' });
    const named = model(1, true).solve({ method: 'ipm' });
    expect(solveCacheStats().hits).toBe(1);
    expect(named.value('x') + named.value('y')).toBeCloseTo(1, 6);
    expect(() => model(1, false).solve({ method: 'ipm' }).value('x')).toThrow(/no column named x/);
  });

  it('never stores solves with a time limit, a warm start, a failed status, or when told not to', () => {
    clearSolveCache();
    model(1).solve({ method: 'ipm', timeLimit: 10 });
    model(1).solve({ method: 'ipm', cache: false });
    const base = model(1).solve({ method: 'simplex', cache: false });
    model(1).solve({ method: 'simplex', warmStart: base.warmStart! });
    const inf = new LpBuilder('min');
    const a = inf.addVar({ ub: 1 });
    inf.addRow(2, Infinity, [a], [1]);
    expect(inf.solve().status).toBe('infeasible');
    expect(inf.solve().status).toBe('infeasible');
    expect(solveCacheStats()).toMatchObject({ hits: 0, entries: 0 });
  });

  it('keys a solve that starts from a basis alone by that basis', () => {
    clearSolveCache();
    const base = model(1).solve({ method: 'simplex', cache: false });
    const b = base.warmStart!;
    const basis = { colStatus: b.colStatus!, rowStatus: b.rowStatus! };
    model(1).solve({ method: 'simplex', warmStart: basis });
    const again = model(1).solve({ method: 'simplex', warmStart: { colStatus: basis.colStatus.slice(), rowStatus: basis.rowStatus.slice() } });
    expect(solveCacheStats()).toMatchObject({ hits: 1, entries: 1 });
    expect(again.objective).toBeCloseTo(base.objective, 9);
    // Another basis is another key; no basis at all is another key again.
    model(1).solve({ method: 'simplex', warmStart: { colStatus: new Int32Array(basis.colStatus.length), rowStatus: new Int32Array(basis.rowStatus.length).fill(1) } });
    model(1).solve({ method: 'simplex' });
    expect(solveCacheStats()).toMatchObject({ hits: 1, entries: 3 });
  });

  it('is off at 0 bytes and evicts the least recently used entry when full', () => {
    configureSolveCache({ maxBytes: 0 });
    model(1).solve({ method: 'ipm' });
    model(1).solve({ method: 'ipm' });
    expect(solveCacheStats()).toMatchObject({ hits: 0, entries: 0 });

    configureSolveCache({ maxBytes: 64 * 1024 * 1024 });
    clearSolveCache();
    model(1).solve({ method: 'ipm' });
    const one = solveCacheStats().bytes;
    // Room for two entries of this size: a third evicts the least recently used.
    configureSolveCache({ maxBytes: 2 * one + 1 });
    model(0.9).solve({ method: 'ipm' });
    model(1).solve({ method: 'ipm' }); // hit: model(1) is now the most recent
    model(0.8).solve({ method: 'ipm' }); // evicts model(0.9)
    expect(solveCacheStats().entries).toBe(2);
    const before = solveCacheStats().hits;
    model(1).solve({ method: 'ipm' });
    expect(solveCacheStats().hits).toBe(before + 1);
    model(0.9).solve({ method: 'ipm' });
    expect(solveCacheStats().hits).toBe(before + 1);
  });
});
