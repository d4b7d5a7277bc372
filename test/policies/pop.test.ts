import { beforeAll, describe, expect, it } from 'vitest';
import { jobKey, makeCluster, validateAllocation, type ThroughputTable } from '../../src/model/index.js';
import { getPolicy, initSolver } from '../../src/policies/index.js';
import { assignPartitions, createPopPolicy, effectivePartitions, splitCluster, withPartitions, type PopState } from '../../src/policies/pop.js';
import { packedLasObjective } from '../../src/policies/las-packed.js';
import type { PolicySnapshot } from '../../src/policies/types.js';
import type { JobSpec } from './helpers.js';
import { snap } from './helpers.js';

beforeAll(async () => {
  await initSolver();
});

const scaleOf = (s: PolicySnapshot) => (id: string): number => s.jobs.find((j) => j.id === id)!.scaleFactor;

function jobs(n: number): JobSpec[] {
  return Array.from({ length: n }, (_, i) => ({ t: [1 + (i % 3), 1 + (i % 2), 0.5], sf: i % 7 === 0 ? 2 : 1, rem: 1000 + 10 * i, jobType: `m${i % 4}` }));
}

describe('POP', () => {
  it('splits jobs within one of each other and every type as evenly as possible', () => {
    const s = snap({ v100: 10, p100: 3, k80: 7 }, jobs(23));
    const part = assignPartitions(s.jobs, 4, 0);
    const sizes = [0, 1, 2, 3].map((p) => part.filter((x) => x === p).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    const parts = splitCluster(s.cluster, 4);
    for (const t of ['v100', 'p100', 'k80']) {
      const g = parts.map((c) => c.gpus[t]!);
      expect(g.reduce((a, b) => a + b, 0)).toBe(s.cluster.gpus[t]);
      expect(Math.max(...g) - Math.min(...g)).toBeLessThanOrEqual(1);
    }
    // Remainders rotate: 10 = 3+3+2+2, then p100's 3 extras go to partitions 2, 3, 0 and k80's 3 to 1, 2, 3.
    expect(parts.map((c) => c.gpus['v100'])).toEqual([3, 3, 2, 2]);
    expect(parts.map((c) => c.gpus['p100'])).toEqual([1, 0, 1, 1]);
    expect(parts.map((c) => c.gpus['k80'])).toEqual([1, 2, 2, 2]);
  });

  it('is a seeded random split: deterministic, and different seeds give different splits', () => {
    const s = snap({ v100: 8 }, jobs(40));
    expect([...assignPartitions(s.jobs, 4, 0)]).toEqual([...assignPartitions(s.jobs, 4, 0)]);
    expect([...assignPartitions(s.jobs, 4, 0)]).not.toEqual([...assignPartitions(s.jobs, 4, 1)]);
    // Not simply round-robin in arrival order.
    expect([...assignPartitions(s.jobs, 4, 0)]).not.toEqual(s.jobs.map((_, i) => i % 4));
  });

  it('returns valid joined allocations and keeps jobs in their partition between calls', () => {
    const pol = getPolicy('max_min_fairness_perf', { partitions: 3 });
    const s = snap({ v100: 6, p100: 2, k80: 3 }, jobs(17));
    const r = pol.allocate(s);
    validateAllocation(r.allocation, s.cluster, scaleOf(s));
    expect(r.allocation.shares.size).toBe(17);
    const st = r.state as PopState;
    expect(st.k).toBe(3);
    // Two jobs finish and one arrives: the others stay where they were (balance allows it: 16 jobs, 6/5/5).
    const next = { ...s, jobs: [...s.jobs.slice(2), { ...s.jobs[0]!, id: 'new' }], state: st };
    const r2 = pol.allocate(next);
    validateAllocation(r2.allocation, next.cluster, scaleOf(next));
    const before = new Map(st.assign);
    const after = new Map((r2.state as PopState).assign);
    const moved = [...after].filter(([id, p]) => before.has(id) && before.get(id) !== p);
    const sizes = [0, 1, 2].map((p) => [...after.values()].filter((x) => x === p).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(moved.length).toBeLessThanOrEqual(1);
  });

  it('is the policy itself for one partition and rejects bad k', () => {
    const las = getPolicy('max_min_fairness_perf');
    expect(withPartitions(las, 1)).toBe(las);
    for (const k of [0, -1, 1.5, NaN]) expect(() => createPopPolicy(las, k)).toThrow(/partitions/);
    expect(() => getPolicy('las', { partitions: 2.5 })).toThrow(/whole number/);
  });

  it('uses fewer partitions while a partition would be too small for the largest job', () => {
    // 8 v100s, one 4-GPU job: 4 partitions would leave it 2 GPUs, so 2 are used.
    const s = snap({ v100: 8, k80: 2 }, [{ t: [1, 1], sf: 4 }, ...Array.from({ length: 7 }, () => ({ t: [1, 1] }))]);
    expect(effectivePartitions(s, 4)).toBe(2);
    const r = getPolicy('max_min_fairness_perf', { partitions: 4 }).allocate(s);
    validateAllocation(r.allocation, s.cluster, scaleOf(s));
    expect(r.allocation.shares.get('j0000')![0]).toBeGreaterThan(0);
    expect((r.state as PopState).k).toBe(2);
    // A job too large for the whole cluster does not limit k.
    expect(effectivePartitions(snap({ v100: 8 }, [{ t: [1], sf: 16 }, { t: [1] }]), 4)).toBe(4);
  });

  it('passes each partition its own state (finish-time fairness bookkeeping)', () => {
    const pol = getPolicy('finish_time_fairness_perf', { partitions: 2 });
    const s = snap({ v100: 4, p100: 1, k80: 2 }, jobs(6));
    const r = pol.allocate(s);
    const st = r.state as PopState;
    expect(st.inner.map((x) => (x as { kind: string }).kind)).toEqual(['ftf', 'ftf']);
    const r2 = pol.allocate({ ...s, now: 100, state: st });
    validateAllocation(r2.allocation, s.cluster, scaleOf(s));
  });

  it('keeps pairs of a packed policy inside a partition and comes close to the exact optimum', () => {
    // 4 job types that pack well with each other; 48 jobs on 12 GPUs of one type.
    const keys = [0, 1, 2, 3].map((i) => jobKey(`m${i}`, 1));
    const consolidated: ThroughputTable['consolidated'] = { v100: {} };
    const v: Record<string, { isolated: number; colocated: Record<string, readonly [number, number]> }> = {};
    keys.forEach((k, i) => (v[k] = { isolated: 1 + i, colocated: {} }));
    for (const a of keys) for (const b of keys) v[a]!.colocated[b] = [0.7 * v[a]!.isolated, 0.7 * v[b]!.isolated];
    (consolidated as Record<string, unknown>)['v100'] = v;
    const tp: ThroughputTable = { gpuTypes: ['v100'], consolidated, unconsolidated: {} };
    const s: PolicySnapshot = {
      now: 0,
      cluster: makeCluster({ v100: 12 }),
      throughputs: tp,
      jobs: Array.from({ length: 48 }, (_, i) => ({
        id: `j${String(i).padStart(3, '0')}`,
        jobType: `m${i % 4}`,
        scaleFactor: 1,
        priorityWeight: 1,
        throughput: [1 + (i % 4)],
        totalSteps: 1000,
        remainingSteps: 1000,
        arrivalTime: i,
      })),
    };
    const exact = getPolicy('max_min_fairness_packed').allocate(s);
    const pop = getPolicy('max_min_fairness_packed', { partitions: 4 }).allocate(s);
    validateAllocation(pop.allocation, s.cluster, scaleOf(s));
    const part = new Map((pop.state as PopState).assign);
    for (const key of pop.allocation.shares.keys()) {
      const [a, b] = key.split('+');
      if (b !== undefined) expect(part.get(a!)).toBe(part.get(b));
    }
    const e = packedLasObjective(s, exact.allocation);
    expect(e).toBeGreaterThan(0);
    // 12 jobs of 3 GPUs per partition, classes of 3 each: the same packing as a whole is possible.
    expect(packedLasObjective(s, pop.allocation)).toBeGreaterThanOrEqual(0.99 * e);
  });
});
