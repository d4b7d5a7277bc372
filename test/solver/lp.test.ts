import { beforeAll, describe, expect, it } from 'vitest';
import { defaultSolver, initSolver, LpBuilder, Solver } from '../../src/solver/index.js';

beforeAll(async () => {
  await initSolver();
});

describe('LpBuilder', () => {
  it('solves the chairs/tables LP with simplex and interior point', () => {
    // max 30c + 50t, c + 2t <= 40, 2c + t <= 50 -> vertex c = 20, t = 10 (both rows tight), objective 1100.
    const lp = new LpBuilder('max');
    const c = lp.addVar({ name: 'chairs', cost: 30 });
    const t = lp.addVar({ name: 'tables', cost: 50 });
    lp.addRow(-Infinity, 40, [c, t], [1, 2]);
    lp.addRow(-Infinity, 50, [c, t], [2, 1]);
    for (const method of ['simplex', 'ipm', 'choose'] as const) {
      const r = lp.solve({ method });
      expect(r.status).toBe('optimal');
      expect(r.objective).toBeCloseTo(1100, 5);
      expect(r.value('chairs')).toBeCloseTo(20, 5);
      expect(r.value('tables')).toBeCloseTo(10, 5);
    }
  });

  it('reports infeasible and unbounded models', () => {
    const inf = new LpBuilder('min');
    const a = inf.addVar({ ub: 1 });
    inf.addRow(2, Infinity, [a], [1]);
    expect(inf.solve().status).toBe('infeasible');
    expect(Number.isNaN(inf.solve().objective)).toBe(true);

    const unb = new LpBuilder('max');
    const b = unb.addVar({ cost: 1 });
    unb.addRow(0, Infinity, [b], [1]);
    expect(unb.solve().status).toBe('unbounded');
  });

  it('returns a central point of a degenerate optimal face with IPM and no crossover', () => {
    // max x + y subject to x + y <= 1: every point of the segment is optimal. Simplex returns an end point; the
    // interior point without crossover returns (near) the middle (0.5, 0.5).
    const lp = new LpBuilder('max');
    const x = lp.addVar({ cost: 1, ub: 1 });
    const y = lp.addVar({ cost: 1, ub: 1 });
    lp.addRow(-Infinity, 1, [x, y], [1, 1]);
    const v = lp.solve({ method: 'simplex' });
    expect(Math.min(v.x[0]!, v.x[1]!)).toBeCloseTo(0, 6);
    const c = lp.solve({ method: 'ipm', crossover: false });
    expect(c.objective).toBeCloseTo(1, 6);
    expect(c.x[0]!).toBeCloseTo(0.5, 3);
    expect(c.x[1]!).toBeCloseTo(0.5, 3);
  });

  it('solves a small MILP and warm-starts a re-solve', () => {
    // max x + y, 2x + 2y <= 3, x, y integer -> 1 (LP relaxation 1.5).
    const lp = new LpBuilder('max');
    const x = lp.addVar({ cost: 1, integer: true, ub: 10 });
    const y = lp.addVar({ cost: 1, integer: true, ub: 10 });
    lp.addRow(-Infinity, 3, [x, y], [2, 2]);
    const r = lp.solve();
    expect(r.status).toBe('optimal');
    expect(r.objective).toBeCloseTo(1, 9);

    const l2 = new LpBuilder('max');
    const u = l2.addVar({ cost: 2 });
    const w = l2.addVar({ cost: 3 });
    l2.addRow(-Infinity, 4, [u, w], [1, 1]);
    l2.addRow(-Infinity, 6, [u, w], [1, 3]);
    const first = l2.solve();
    const again = l2.solve({ warmStart: first.warmStart! });
    expect(again.status).toBe('optimal');
    expect(again.objective).toBeCloseTo(first.objective, 9);
  });

  it('carries nothing from one solve to the next in the reused native model (options, integrality, solution)', () => {
    // A central IPM answer, then a MIP, then a zero time limit, then the same LP again with defaults: each answer
    // must be what a fresh model gives.
    const seg = new LpBuilder('max');
    const x = seg.addVar({ cost: 1, ub: 1 });
    const y = seg.addVar({ cost: 1, ub: 1 });
    seg.addRow(-Infinity, 1, [x, y], [1, 1]);
    const central = seg.solve({ method: 'ipm', crossover: false });
    expect(central.x[0]!).toBeCloseTo(0.5, 3);

    const mip = new LpBuilder('max');
    const a = mip.addVar({ cost: 1, integer: true, ub: 10 });
    mip.addRow(-Infinity, 1.5, [a], [1]);
    expect(mip.solve().objective).toBeCloseTo(1, 9);

    const big = new LpBuilder('min');
    for (let j = 0; j < 200; j++) big.addVar({ cost: 1 + (j % 7), lb: 0 });
    big.addRow(1, Infinity, Array.from({ length: 200 }, (_, j) => j), new Array<number>(200).fill(1));
    expect(['optimal', 'time_limit']).toContain(big.solve({ timeLimit: 1e-9 }).status);

    // Default simplex again: a vertex (not the central point), optimal (no time limit left over), an LP (duals).
    const vertex = seg.solve();
    expect(vertex.status).toBe('optimal');
    expect(Math.min(vertex.x[0]!, vertex.x[1]!)).toBeCloseTo(0, 9);
    expect(vertex.rowDual).toBeDefined();
    const relaxed = new LpBuilder('max');
    const b = relaxed.addVar({ cost: 1, ub: 10 });
    relaxed.addRow(-Infinity, 1.5, [b], [1]);
    expect(relaxed.solve().objective).toBeCloseTo(1.5, 9);
    expect(big.solve().status).toBe('optimal');
  });

  it('measures a time limit from the start of its own solve, not of the first solve in the reused model', () => {
    const mid = new LpBuilder('min');
    for (let j = 0; j < 300; j++) mid.addVar({ cost: 1 + (j % 11), lb: 0 });
    for (let i = 0; i < 30; i++) mid.addRow(1, Infinity, Array.from({ length: 10 }, (_, j) => (i * 10 + j) % 300), new Array<number>(10).fill(1));
    let spent = 0;
    while (spent < 0.15) spent += mid.solve({ method: 'ipm', crossover: false }).solveSeconds;
    const tiny = new LpBuilder('max');
    const a = tiny.addVar({ cost: 1, ub: 1 });
    tiny.addRow(-Infinity, 1, [a], [1]);
    expect(tiny.solve({ timeLimit: 0.1 }).status).toBe('optimal');
  });

  it('gives the same answer with the ticking clock of an untimed solve as with the real clock of a timed one', () => {
    // A degenerate max-min LP, where the central interior point depends on every iterate: any influence of the clock
    // on the iterations would show in the digits.
    const lp = new LpBuilder('max');
    const t = lp.addVar({ lb: -Infinity, cost: 1 });
    const x = Array.from({ length: 60 }, () => lp.addVar({ ub: 1 }));
    for (let g = 0; g < 3; g++) {
      lp.addRow(-Infinity, 7 + g, x.slice(g * 20, g * 20 + 20), new Array<number>(20).fill(1));
    }
    for (let j = 0; j < 20; j++) {
      lp.addRow(0, Infinity, [x[j]!, x[20 + j]!, x[40 + j]!, t], [1 + (j % 3), 2, 0.5 + (j % 5) / 4, -1]);
    }
    const untimed = lp.solve({ method: 'ipm', cache: false });
    const timed = lp.solve({ method: 'ipm', timeLimit: 1e6 });
    expect(untimed.status).toBe('optimal');
    expect(Array.from(untimed.x)).toEqual(Array.from(timed.x));
  });

  it('honours a time limit and rejects bad bounds', () => {
    expect(() => new LpBuilder('min').addVar({ lb: 2, ub: 1 })).toThrow(/bounds/);
    const lp = new LpBuilder('min');
    lp.addVar({ cost: 1 });
    expect(['optimal', 'time_limit']).toContain(lp.solve({ timeLimit: 0.001 }).status);
  });
});

describe('solver instances', () => {
  it('keeps solving after the active instance is replaced by the standby (as after an abort)', async () => {
    const recycleHighs = (r: 'aborted' | 'heap'): boolean => defaultSolver.instances.recycle(r);
    const solverReady = (): boolean => defaultSolver.ready;
    const lp = new LpBuilder('max');
    const x = lp.addVar({ cost: 1, ub: 3 });
    lp.addRow(-Infinity, 2, [x], [1]);
    expect(lp.solve().objective).toBeCloseTo(2, 9);
    expect(recycleHighs('aborted')).toBe(true);
    expect(solverReady()).toBe(true);
    expect(lp.solve().objective).toBeCloseTo(2, 9);
    // A new standby loads in the background; initSolver() waits for it.
    await initSolver();
    expect(recycleHighs('heap')).toBe(true);
    expect(lp.solve().objective).toBeCloseTo(2, 9);
  });
});

describe('solver reload', () => {
  it('initSolver() brings the solver back after an abort with no standby ready', async () => {
    const rt = { recycleHighs: (r: 'aborted' | 'heap') => defaultSolver.instances.recycle(r), solverReady: () => defaultSolver.ready };
    // Use up the standby, then "abort" the active instance with none left to swap in.
    await initSolver();
    expect(rt.recycleHighs('heap')).toBe(true);
    expect(rt.recycleHighs('aborted')).toBe(false);
    expect(rt.solverReady()).toBe(false);
    const probe = new LpBuilder('min');
    probe.addVar({ cost: 1 });
    expect(() => probe.solve()).toThrow(/not loaded/);
    await initSolver();
    expect(rt.solverReady()).toBe(true);
    const lp = new LpBuilder('min');
    const x = lp.addVar({ cost: 1, lb: 1 });
    lp.addRow(-Infinity, 5, [x], [1]);
    expect(lp.solve().objective).toBeCloseTo(1, 9);
  });
});

describe('a Solver of its own', () => {
  it('owns its instances, cache, counters and debug sink apart from the default one', async () => {
    const own = new Solver();
    const lines: string[] = [];
    own.debug = (line) => lines.push(line);
    expect(own.ready).toBe(false);
    await own.init();
    const build = (): LpBuilder => {
      const lp = new LpBuilder('max');
      const x = lp.addVar({ cost: 1, ub: 3 });
      lp.addRow(-Infinity, 2, [x], [1]);
      return lp;
    };
    const before = defaultSolver.cache.stats();
    expect(build().solve({}, own).objective).toBeCloseTo(2, 9);
    expect(build().solve({}, own).objective).toBeCloseTo(2, 9);
    expect(own.cache.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1 });
    expect(defaultSolver.cache.stats()).toEqual(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^lp 1x1 simplex run=/);
    expect(own.seconds).toBeGreaterThan(0);
  });
});
