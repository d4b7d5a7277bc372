import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, validateAllocation } from '../../src/model/index.js';
import { initSolver } from '../../src/policies/index.js';
import { createLasPolicy, DECOMPOSE_MIN_CLASSES, lasDecompositionStats, lasModel, resetLasDecompositionStats, solveLas } from '../../src/policies/las.js';
import type { PolicyJob, PolicySnapshot } from '../../src/policies/types.js';
import type { JobSpec } from './helpers.js';
import { snap } from './helpers.js';

beforeAll(async () => {
  await initSolver();
});

const SEED = 20261206;
const ALL_TYPES = ['v100', 'p100', 'k80', 't4'];

/** Every job its own real-valued row (no classes to merge), some restricted to types, weights, gang sizes. */
const instance = fc
  .record({
    K: fc.integer({ min: 1, max: 4 }),
    gpus: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 4, maxLength: 4 }),
    jobs: fc.array(
      fc.record({
        t: fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0.05, max: 10, noNaN: true })), { minLength: 4, maxLength: 4 }),
        sf: fc.constantFrom(1, 1, 2, 4),
        w: fc.constantFrom(1, 1, 2, 0.5),
        allowed: fc.option(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 2 }), { freq: 4 }),
      }),
      { minLength: 1, maxLength: 14 },
    ),
  })
  .map(({ K, gpus, jobs }) => {
    const types = ALL_TYPES.slice(0, K);
    const specs: JobSpec[] = jobs.map((j) => ({
      t: j.t.slice(0, K),
      sf: j.sf,
      w: j.w,
      ...(j.allowed ? { allowed: [...new Set(j.allowed.map((k) => types[k % K]!))] } : {}),
    }));
    return snap(Object.fromEntries(types.map((t, k) => [t, gpus[k]!])), specs);
  });

function scaleOf(s: PolicySnapshot): (id: string) => number {
  const m = new Map(s.jobs.map((j) => [j.id, j.scaleFactor]));
  return (id) => m.get(id) ?? 1;
}

/** LAS objective of an allocation: min over jobs that can run of (scale / w) * normalised effective throughput. */
function objective(s: PolicySnapshot, aware: boolean, shares: ReadonlyMap<string, readonly number[]>): number {
  const m = lasModel(s, aware);
  let min = Infinity;
  s.jobs.forEach((job, j) => {
    if (!m.inLp[j]) return;
    const x = shares.get(job.id)!;
    min = Math.min(min, m.mult[j]! * m.a[j]!.reduce((acc, a, k) => acc + a * x[k]!, 0));
  });
  return min === Infinity ? 0 : min;
}

describe('LAS by price-directed decomposition', () => {
  it('reaches at least 0.999 of the exact LP optimum, never more, with a valid allocation (random distinct rows)', () => {
    fc.assert(
      fc.property(instance, fc.boolean(), (s, aware) => {
        const exact = solveLas(s, { aware, solver: 'lp' }, 't').level;
        const d = solveLas(s, { aware, solver: 'decomposed' }, 't');
        if (!lasModel(s, aware).inLp.some((x) => x)) {
          // Nothing can run: no LP and nothing to decompose.
          expect(d.level).toBe(0);
          return;
        }
        expect(d.decomposition).toBeDefined();
        const info = d.decomposition!;
        // The bounds bracket the exact optimum, and their ratio is what is reported.
        expect(info.upperBound).toBeGreaterThanOrEqual(exact * (1 - 1e-6) - 1e-9);
        if (!info.fellBack) expect(info.lowerBound).toBeLessThanOrEqual(exact * (1 + 1e-6) + 1e-9);
        expect(info.ratio).toBeGreaterThanOrEqual(0.999);
        const pol = createLasPolicy('t', [], { aware, solver: 'decomposed' });
        const alloc = pol.allocate(s).allocation;
        validateAllocation(alloc, s.cluster, scaleOf(s), 1e-6);
        for (const job of s.jobs) {
          const x = alloc.shares.get(job.id)!;
          x.forEach((v, k) => {
            const t = s.cluster.gpuTypes[k]!;
            const cap = s.cluster.gpus[t] ?? 0;
            if (job.throughput[k] === 0 || cap < job.scaleFactor || (job.allowedGpuTypes && !job.allowedGpuTypes.includes(t))) expect(v).toBe(0);
          });
        }
        const obj = objective(s, aware, alloc.shares);
        expect(obj).toBeGreaterThanOrEqual(0.999 * exact - 1e-9);
        expect(obj).toBeLessThanOrEqual(exact * (1 + 1e-6) + 1e-9);
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('solves the hand-solved LAS instance exactly', () => {
    // As in las.test.ts: 1 v100 + 1 k80, A = [4, 1], B = C = [1, 1]: level 16/21.
    const s = snap({ v100: 1, k80: 1 }, [{ t: [4, 1] }, { t: [1, 1] }, { t: [1, 1] }]);
    const d = solveLas(s, { aware: true, solver: 'decomposed' }, 'x');
    expect(d.decomposition!.fellBack).toBe(false);
    expect(d.level).toBeCloseTo(16 / 21, 6);
    expect(d.decomposition!.upperBound).toBeCloseTo(16 / 21, 6);
  });

  it('falls back to the exact LP, and says so, when it cannot certify the ratio asked for', () => {
    const s = snap({ v100: 2, k80: 3 }, [{ t: [4, 1] }, { t: [2, 1.5], sf: 2 }, { t: [1, 1], w: 2 }, { t: [3, 0.5] }]);
    const exact = solveLas(s, { aware: true, solver: 'lp' }, 'x');
    resetLasDecompositionStats();
    const d = solveLas(s, { aware: true, solver: 'decomposed', minRatio: 1.5 }, 'x');
    expect(d.decomposition!.fellBack).toBe(true);
    expect(lasDecompositionStats()).toMatchObject({ runs: 1, fellBack: 1, lowestRatio: 1 });
    solveLas(s, { aware: true, solver: 'decomposed' }, 'x');
    const st = lasDecompositionStats();
    expect(st.runs).toBe(2);
    expect(st.fellBack).toBe(1);
    expect(st.lowestRatio).toBe(st.last!.ratio);
    expect(st.lowestRatio).toBeGreaterThanOrEqual(0.999);
    expect(() => solveLas(s, { aware: true, solver: 'decomposed', minRatio: Number.NaN }, 'x')).toThrow(/minRatio NaN/);
    expect(d.level).toBe(exact.level);
    expect(d.classShares).toEqual(exact.classShares);
  });

  it('auto decomposes only from DECOMPOSE_MIN_CLASSES classes; fewer classes keep the exact LP', () => {
    const types = ['v100', 'p100', 'k80'];
    const n = DECOMPOSE_MIN_CLASSES;
    const cluster = makeCluster([['v100', n / 4], ['p100', n / 4], ['k80', n / 4]]);
    const job = (i: number, row: number[]): PolicyJob => ({
      id: `j${i}`,
      jobType: 'm',
      scaleFactor: 1 + (i % 2),
      priorityWeight: 1,
      throughput: row,
      totalSteps: 10,
      remainingSteps: 10,
      arrivalTime: i,
    });
    // Distinct rows: one class per job.
    const distinct: PolicySnapshot = { now: 0, cluster, jobs: Array.from({ length: n }, (_, i) => job(i, [3 + i / n, 2 - i / (2 * n), 1 + ((i * 7919) % n) / n])) };
    const d = solveLas(distinct, { aware: true }, 'x');
    expect(d.classes).toBe(n);
    expect(d.decomposition).toBeDefined();
    expect(d.decomposition!.ratio).toBeGreaterThanOrEqual(0.999);
    const alloc = createLasPolicy('x', [], { aware: true }).allocate(distinct).allocation;
    validateAllocation(alloc, distinct.cluster, scaleOf(distinct), 1e-6);
    expect(objective(distinct, true, alloc.shares)).toBeGreaterThanOrEqual(0.999 * d.decomposition!.upperBound);
    // The same number of jobs over 20 rows: 40 classes, the exact LP as before.
    const few: PolicySnapshot = { ...distinct, jobs: distinct.jobs.map((j, i) => job(i, [3 + (i % 20), 2, 1])) };
    const f = solveLas(few, { aware: true }, 'x');
    expect(f.classes).toBeLessThan(DECOMPOSE_MIN_CLASSES);
    expect(f.decomposition).toBeUndefined();
    expect(types).toEqual(cluster.gpuTypes);
  });
});
