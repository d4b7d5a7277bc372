import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { colocatedThroughput, jobKey, validateAllocation, type ThroughputTable } from '../../src/model/index.js';
import { getPolicy, initSolver } from '../../src/policies/index.js';
import { proportionalThroughput } from '../../src/policies/common.js';
import { packedLasObjective, solvePackedLas } from '../../src/policies/las-packed.js';
import { solveLas } from '../../src/policies/las.js';
import { disaggregate, packedModel } from '../../src/policies/packing.js';
import { solvePackedFtf } from '../../src/policies/ftf-packed.js';
import { solveFinishTimeFairness } from '../../src/policies/finish-time-fairness.js';
import { solvePackedMinTotalDuration } from '../../src/policies/min-total-duration-packed.js';
import { solveMinTotalDuration } from '../../src/policies/min-total-duration.js';
import type { PolicySnapshot } from '../../src/policies/types.js';
import { LpBuilder } from '../../src/solver/index.js';
import type { JobSpec } from './helpers.js';
import { snap } from './helpers.js';

beforeAll(async () => {
  await initSolver();
});

/** A table over `types` from `{key: isolated per type}` and `{"a,b": [ta, tb] on every type}` (both directions). */
function table(types: string[], iso: Record<string, number[]>, coloc: Record<string, [number, number]>): ThroughputTable {
  const consolidated: Record<string, Record<string, { isolated: number; colocated: Record<string, readonly [number, number]> }>> = {};
  types.forEach((t, k) => {
    consolidated[t] = {};
    for (const [key, row] of Object.entries(iso)) consolidated[t][key] = { isolated: row[k]!, colocated: {} };
    for (const [pair, [ta, tb]] of Object.entries(coloc)) {
      const [a, b] = pair.split(',') as [string, string];
      consolidated[t][a]!.colocated[b] = [ta, tb];
      consolidated[t][b]!.colocated[a] = [tb, ta];
    }
  });
  return { gpuTypes: types, consolidated, unconsolidated: {} };
}

const scaleOf = (s: PolicySnapshot) => (id: string): number => s.jobs.find((j) => j.id === id)!.scaleFactor;

describe('max_min_fairness_packed: hand-solved instances', () => {
  it('packs two jobs whose co-located throughputs beat time slicing', () => {
    // One v100; A and B run at 1 step/s alone (T_eq = 1) and at 0.8 each together. Unpacked: 1/2 each, level 0.5.
    // Packed: the pair runs all the time, level 0.8.
    const tp = table(['v100'], { [jobKey('a', 1)]: [1], [jobKey('b', 1)]: [1] }, { [`${jobKey('a', 1)},${jobKey('b', 1)}`]: [0.8, 0.8] });
    const s = snap({ v100: 1 }, [{ t: [1], jobType: 'a' }, { t: [1], jobType: 'b' }], { throughputs: tp });
    const r = getPolicy('max_min_fairness_packed').allocate(s);
    validateAllocation(r.allocation, s.cluster, scaleOf(s));
    expect(r.allocation.shares.get('j0000+j0001')![0]).toBeCloseTo(1, 5);
    expect(packedLasObjective(s, r.allocation)).toBeCloseTo(0.8, 5);
    expect(solveLas(s, { aware: true }, 'x').level).toBeCloseTo(0.5, 6);
  });

  it('mixes pair time and time alone when the pair favours one job', () => {
    // Co-located [0.9, 0.4]. With pair time z and B alone for b (y_A = 0): u_A = 0.9 z, u_B = b + 0.4 z,
    // z + b = 1 (one GPU) -> 0.9 (1 - b) = 0.4 + 0.6 b, b = 1/3, z = 2/3, level 0.6. Dual check: weights 0.4 on A
    // and 0.6 on B price the GPU at 0.6; A alone earns 0.4 < 0.6, the pair 0.9*0.4 + 0.4*0.6 = 0.6, B alone 0.6.
    const tp = table(['v100'], { [jobKey('a', 1)]: [1], [jobKey('b', 1)]: [1] }, { [`${jobKey('a', 1)},${jobKey('b', 1)}`]: [0.9, 0.4] });
    const s = snap({ v100: 1 }, [{ t: [1], jobType: 'a' }, { t: [1], jobType: 'b' }], { throughputs: tp });
    const r = solvePackedLas(s);
    validateAllocation(r.allocation, s.cluster, scaleOf(s));
    expect(r.level).toBeCloseTo(0.6, 6);
    expect(r.allocation.shares.get('j0000+j0001')![0]).toBeCloseTo(2 / 3, 5);
    expect(r.allocation.shares.get('j0001')![0]).toBeCloseTo(1 / 3, 5);
    expect(packedLasObjective(s, r.allocation)).toBeCloseTo(0.6, 5);
  });

  it('prunes pairs that cannot beat time slicing, without changing the optimum', () => {
    // Co-located [0.3, 0.3]: 0.3 + 0.3 <= 1, dominated. No pair rows; level 0.5 as unpacked.
    const tp = table(['v100'], { [jobKey('a', 1)]: [1], [jobKey('b', 1)]: [1] }, { [`${jobKey('a', 1)},${jobKey('b', 1)}`]: [0.3, 0.3] });
    const s = snap({ v100: 1 }, [{ t: [1], jobType: 'a' }, { t: [1], jobType: 'b' }], { throughputs: tp });
    const r = solvePackedLas(s);
    expect(r.model.pairCellsBeforePruning).toBe(1);
    expect(r.model.pairCellsAfterPruning).toBe(0);
    expect([...r.allocation.shares.keys()].filter((k) => k.includes('+'))).toEqual([]);
    expect(r.level).toBeCloseTo(0.5, 6);
    expect(solvePackedLas(s, { prune: false }).level).toBeCloseTo(0.5, 6);
  });

  it('pairs jobs of one class in a ring and counts a pair as scale GPUs', () => {
    // Two v100s, four identical 2-GPU jobs; alone 1 step/s, together 0.7 each. Unpacked: 2 x Y x 4 <= 2, Y = 1/4,
    // level 2 * 1/4 = 0.5 (scale / weight = 2). Packed: each pair needs 2 GPUs, so pair time Z <= 1 in total, each
    // job gets 2Z/4 = 1/2 of wall time at 0.7: level 2 * 0.35 = 0.7; ring rows of 1/4 each.
    const key = jobKey('a', 2);
    const tp = table(['v100'], { [key]: [1] }, { [`${key},${key}`]: [0.7, 0.7] });
    const s = snap({ v100: 2 }, [0, 1, 2, 3].map(() => ({ t: [1], jobType: 'a', sf: 2 })), { throughputs: tp });
    const r = solvePackedLas(s);
    validateAllocation(r.allocation, s.cluster, scaleOf(s));
    expect(r.level).toBeCloseTo(0.7, 6);
    const pairs = [...r.allocation.shares].filter(([k]) => k.includes('+'));
    expect(pairs.map(([k]) => k).sort()).toEqual(['j0000+j0001', 'j0000+j0003', 'j0001+j0002', 'j0002+j0003']);
    for (const [, row] of pairs) expect(row[0]).toBeCloseTo(0.25, 5);
    expect(solveLas(s, { aware: true }, 'x').level).toBeCloseTo(0.5, 6);
  });

  it('splits the pair time of two classes of different sizes without n_a * n_b rows', () => {
    // Class a: 3 jobs, class b: 2 jobs; 5 GPUs-worth of pair time Z in total. Each a job gets Z/3, each b job Z/2.
    const ka = jobKey('a', 1);
    const kb = jobKey('b', 1);
    const tp = table(['v100'], { [ka]: [1], [kb]: [1] }, { [`${ka},${kb}`]: [0.8, 0.8] });
    const s = snap({ v100: 1 }, [{ t: [1], jobType: 'a' }, { t: [1], jobType: 'a' }, { t: [1], jobType: 'a' }, { t: [1], jobType: 'b' }, { t: [1], jobType: 'b' }], {
      throughputs: tp,
    });
    const m = packedModel(s);
    expect(m.pairs.length).toBe(1);
    const alloc = disaggregate(m, { y: m.classes.members.map(() => [0]), z: [[1.2]] });
    const rows = [...alloc.shares].filter(([k]) => k.includes('+'));
    expect(rows.length).toBeLessThanOrEqual(3 + 2 - 1);
    const per = new Map<string, number>();
    for (const [k, v] of rows) for (const id of k.split('+')) per.set(id, (per.get(id) ?? 0) + v[0]!);
    for (const id of ['j0000', 'j0001', 'j0002']) expect(per.get(id)).toBeCloseTo(1.2 / 3, 12);
    for (const id of ['j0003', 'j0004']) expect(per.get(id)).toBeCloseTo(1.2 / 2, 12);
  });

  it('handles an empty snapshot and a degenerate one without NaN', () => {
    const p = getPolicy('max_min_fairness_packed');
    expect(p.allocate(snap({ v100: 2, p100: 0 }, [])).allocation.shares.size).toBe(0);
    const key = jobKey('model', 1);
    const tp = table(['v100', 'p100'], { [key]: [1, 3] }, { [`${key},${key}`]: [0.6, 0.6] });
    const s = snap({ v100: 2, p100: 0 }, [{ t: [0, 0] }, { t: [1, 1], sf: 4 }, { t: [2, 1] }, { t: [1, 3] }, { t: [1, 3] }], { throughputs: tp });
    const r = p.allocate(s);
    for (const row of r.allocation.shares.values()) for (const v of row) expect(Number.isFinite(v)).toBe(true);
    validateAllocation(r.allocation, s.cluster, scaleOf(s));
    expect(r.allocation.shares.get('j0000')).toEqual([0, 0]);
    expect(r.allocation.shares.get('j0001')).toEqual([0, 0]);
    expect([...r.allocation.shares.keys()].filter((k) => k.includes('j0000') || k.includes('j0001'))).toEqual(['j0000', 'j0001']);
  });

  it('has no pairs without a throughput table, and runs as aware LAS then', () => {
    const s = snap({ v100: 1, k80: 1 }, [{ t: [4, 1] }, { t: [1, 1] }, { t: [1, 1] }]);
    expect(solvePackedLas(s).level).toBeCloseTo(16 / 21, 5);
    expect(getPolicy('las-packed').meta.spaceSharing).toBe(true);
  });
});

// ---- The plain per-job-pair LP (reference): a column per job and per pair of equal-scale jobs, no classes. ----

function referenceLevel(s: PolicySnapshot): number {
  const types = s.cluster.gpuTypes;
  const caps = types.map((t) => s.cluster.gpus[t] ?? 0);
  const n = s.jobs.length;
  const lp = new LpBuilder('max');
  const t = lp.addVar({ lb: -Infinity, ub: Infinity, cost: 1 });
  const usable = s.jobs.map((j) => types.map((_, k) => j.throughput[k]! > 0 && caps[k]! >= j.scaleFactor));
  const terms: Array<Array<[number, number]>> = s.jobs.map(() => []);
  const time: number[][] = s.jobs.map(() => []);
  const cap: Array<Array<[number, number]>> = types.map(() => []);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < types.length; k++) {
      if (!usable[j]![k]) continue;
      const v = lp.addVar({ lb: 0, ub: 1 });
      terms[j]!.push([v, s.jobs[j]!.throughput[k]!]);
      time[j]!.push(v);
      cap[k]!.push([v, s.jobs[j]!.scaleFactor]);
    }
  }
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const ja = s.jobs[a]!;
      const jb = s.jobs[b]!;
      if (ja.scaleFactor !== jb.scaleFactor || !s.throughputs) continue;
      for (let k = 0; k < types.length; k++) {
        if (!usable[a]![k] || !usable[b]![k]) continue;
        const pr = colocatedThroughput(s.throughputs, types[k]!, jobKey(ja.jobType, ja.scaleFactor), jobKey(jb.jobType, jb.scaleFactor));
        if (!pr) continue;
        const v = lp.addVar({ lb: 0, ub: 1 });
        terms[a]!.push([v, pr[0]]);
        terms[b]!.push([v, pr[1]]);
        time[a]!.push(v);
        time[b]!.push(v);
        cap[k]!.push([v, ja.scaleFactor]);
      }
    }
  }
  let any = false;
  for (let j = 0; j < n; j++) {
    if (time[j]!.length > 0) lp.addRow(-Infinity, 1, time[j]!, time[j]!.map(() => 1));
    const job = s.jobs[j]!;
    const eq = proportionalThroughput(caps, job.throughput);
    if (!usable[j]!.some((u) => u) || !(eq > 0)) continue;
    any = true;
    const f = job.scaleFactor / job.priorityWeight / eq;
    lp.addRow(0, Infinity, [...terms[j]!.map(([v]) => v), t], [...terms[j]!.map(([, c]) => c * f), -1]);
  }
  cap.forEach((list, k) => {
    if (list.length > 0) lp.addRow(-Infinity, caps[k]!, list.map(([v]) => v), list.map(([, c]) => c));
  });
  if (!any) return 0;
  const r = lp.solve({ method: 'simplex' });
  expect(r.status).toBe('optimal');
  return r.x[t]!;
}

const TYPES = ['v100', 'p100', 'k80'];
/** Random instances from a random table of 4 job types at scale factors 1 and 2, several jobs per class. */
const instance = fc
  .record({
    // Few GPUs for the jobs, so that packing matters.
    gpus: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 3 })),
    iso: fc.array(fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 40 })), { minLength: 8, maxLength: 8 }),
    coloc: fc.array(fc.tuple(fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.boolean()), {
      minLength: 36,
      maxLength: 36,
    }),
    jobs: fc.array(fc.record({ key: fc.nat({ max: 7 }), w: fc.constantFrom(1, 1, 2) }), { minLength: 2, maxLength: 12 }),
  })
  .map(({ gpus, iso, coloc, jobs }) => {
    const keys = [0, 1, 2, 3].flatMap((i) => [jobKey(`m${i}`, 1), jobKey(`m${i}`, 2)]);
    const isoMap: Record<string, number[]> = {};
    keys.forEach((k, i) => (isoMap[k] = iso[i]!.map((v) => v / 4)));
    const colocMap: Record<string, [number, number]> = {};
    let c = 0;
    for (let a = 0; a < keys.length; a++) {
      for (let b = a; b < keys.length; b++) {
        const [x, y, present] = coloc[c++ % coloc.length]!;
        if (!present || keys[a]!.endsWith('|1') !== keys[b]!.endsWith('|1')) continue;
        // A co-located throughput as a fraction of the v100 throughput alone (the same fraction on every type).
        const ya = a === b ? x : y;
        colocMap[`${keys[a]},${keys[b]}`] = [x * isoMap[keys[a]!]![0]!, ya * isoMap[keys[b]!]![0]!];
      }
    }
    const tp = table(TYPES, isoMap, colocMap);
    const specs: JobSpec[] = jobs.map((j) => {
      const key = keys[j.key]!;
      return { t: isoMap[key]!, jobType: key.split('|')[0]!, sf: Number(key.split('|')[1]), w: j.w };
    });
    return snap({ v100: gpus[0], p100: gpus[1], k80: gpus[2] }, specs, { throughputs: tp });
  });

describe('max_min_fairness_packed: properties', () => {
  it('is valid, no worse than unpacked LAS, equal to the per-job-pair LP, and delivers its level', () => {
    let gains = 0;
    fc.assert(
      fc.property(instance, (s) => {
        const r = solvePackedLas(s);
        validateAllocation(r.allocation, s.cluster, scaleOf(s), 1e-6);
        const unpacked = solveLas(s, { aware: true }, 'x').level;
        expect(r.level).toBeGreaterThanOrEqual(unpacked - 1e-6);
        if (r.level > unpacked * 1.01) gains++;
        const ref = referenceLevel(s);
        expect(Math.abs(r.level - ref)).toBeLessThanOrEqual(1e-5 * Math.max(1, ref));
        // The disaggregated rows give every job at least the LP level (co-located throughputs from the table).
        expect(packedLasObjective(s, r.allocation)).toBeGreaterThanOrEqual(r.level - 1e-5 * Math.max(1, r.level));
        // The per-job-pair formulation inside the policy (classes of one job) agrees too.
        expect(solvePackedLas(s, { perJob: true }).level).toBeCloseTo(ref, 5);
      }),
      { numRuns: 40, seed: 20261123 },
    );
    // The instances exercise packing: in many of them it helps.
    expect(gains).toBeGreaterThan(10);
  });
});

describe('finish_time_fairness_packed, min_total_duration_packed, fifo_packed', () => {
  const ka = jobKey('a', 1);
  const kb = jobKey('b', 1);
  const kc = jobKey('c', 1);
  const two = (pair: [number, number]): PolicySnapshot =>
    snap({ v100: 1 }, [{ t: [1], jobType: 'a', rem: 1000, arrival: 0 }, { t: [1], jobType: 'b', rem: 1000, arrival: 0 }], {
      throughputs: table(['v100'], { [ka]: [1], [kb]: [1] }, { [`${ka},${kb}`]: pair }),
    });

  it('finish-time fairness: rho falls from 1 to 0.625 when the pair runs together', () => {
    // Isolated share 1/2 each (2 jobs, 1 GPU): iso = 0.5 steps/s, E = 1000 / 0.5 = 2000 s; rho = (1000 / thr) / 2000.
    // Time slicing: thr = 0.5, rho = 1. Packed at 0.8 each: rho = 1250 / 2000 = 0.625.
    const s = two([0.8, 0.8]);
    const r = getPolicy('finish_time_fairness_packed').allocate(s);
    validateAllocation(r.allocation, s.cluster, scaleOf(s));
    expect(r.allocation.shares.get('j0000+j0001')![0]).toBeGreaterThan(0.999);
    const u = getPolicy('finish_time_fairness_perf').allocate(s);
    expect(u.allocation.shares.get('j0000')![0]).toBeCloseTo(0.5, 4);
    expect(solvePackedFtf(s).rho).toBeCloseTo(0.625, 5);
    expect(solveFinishTimeFairness(s, { aware: true }).rho).toBeCloseTo(1, 5);
    // State carries over like the unpacked policy's.
    expect((r.state as { kind: string }).kind).toBe('ftf');
  });

  it('makespan: 2000 s by time slicing, 1250 s packed (within Gavel bisection bracket 1.05)', () => {
    const s = two([0.8, 0.8]);
    const r = getPolicy('min_total_duration_packed').allocate(s);
    validateAllocation(r.allocation, s.cluster, scaleOf(s));
    const { makespan } = solvePackedMinTotalDuration(s);
    expect(makespan).toBeGreaterThanOrEqual(1250);
    expect(makespan).toBeLessThanOrEqual(1250 * 1.05);
    const m0 = solveMinTotalDuration(s, { aware: true }).makespan;
    expect(m0).toBeGreaterThanOrEqual(2000);
    expect(m0).toBeLessThanOrEqual(2000 * 1.05);
    // Feasible at the T found needs thr >= 1000 / T >= 1000 / 1312.5, i.e. pair share >= 0.95.
    expect(r.allocation.shares.get('j0000+j0001')![0]).toBeGreaterThan(0.95);
  });

  it('fifo_packed pairs a queued job with a running one only above 1.5 and never jumps the queue', () => {
    const s = two([0.8, 0.8]);
    const r = getPolicy('fifo_packed').allocate(s);
    validateAllocation(r.allocation, s.cluster, scaleOf(s));
    expect(r.allocation.shares.get('j0000+j0001')).toEqual([1]);
    expect(r.allocation.shares.get('j0000')).toEqual([0]);
    expect([...getPolicy('fifo_packed').allocate(two([0.7, 0.7])).allocation.shares.keys()]).toEqual(['j0000', 'j0001']);
    // B (gain 1.4) stops the queue, so C (gain 1.6) waits.
    const s3 = snap({ v100: 1 }, [{ t: [1], jobType: 'a' }, { t: [1], jobType: 'b' }, { t: [1], jobType: 'c' }], {
      throughputs: table(['v100'], { [ka]: [1], [kb]: [1], [kc]: [1] }, { [`${ka},${kb}`]: [0.7, 0.7], [`${ka},${kc}`]: [0.8, 0.8] }),
    });
    const r3 = getPolicy('fifo_packed').allocate(s3);
    expect([...r3.allocation.shares.keys()].filter((k) => k.includes('+'))).toEqual([]);
    expect(r3.allocation.shares.get('j0000')).toEqual([1]);
  });

  it('properties: valid allocations, never worse than the unpacked policy', () => {
    fc.assert(
      fc.property(instance, (s0) => {
        const s = { ...s0, jobs: s0.jobs.map((j, i) => ({ ...j, remainingSteps: 500 + 137 * (i % 5) })) };
        for (const name of ['finish_time_fairness_packed', 'min_total_duration_packed', 'fifo_packed']) {
          const r = getPolicy(name).allocate(s);
          validateAllocation(r.allocation, s.cluster, scaleOf(s), 1e-6);
        }
        const { rho } = solvePackedFtf(s);
        const { rho: rho0 } = solveFinishTimeFairness(s, { aware: true });
        expect(rho).toBeLessThanOrEqual(rho0 * (1 + 1e-5));
        const { makespan } = solvePackedMinTotalDuration(s);
        const { makespan: m0 } = solveMinTotalDuration(s, { aware: true });
        expect(makespan).toBeLessThanOrEqual(m0 * 1.05 + 1e-6);
      }),
      { numRuns: 15, seed: 7 },
    );
  });
});
