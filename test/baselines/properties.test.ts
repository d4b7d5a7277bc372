import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, rowJobs, validateAllocation } from '../../src/model/index.js';
import { getPolicy, initSolver } from '../../src/policies/index.js';
import type { PolicySnapshot } from '../../src/policies/types.js';

beforeAll(async () => {
  await initSolver();
});

const BASELINES = ['sjf_nonpreemptive', 'srtf_preemptive', 'tiresias', 'tiresias_gittins', 'gandiva', 'allox', 'themis_auction', 'shockwave'];

const snapshotArb = fc
  .record({
    gpus: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 3 }),
    jobs: fc.array(
      fc.record({
        sf: fc.constantFrom(1, 1, 2, 4),
        t: fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0.1, max: 10, noNaN: true })), { minLength: 3, maxLength: 3 }),
        total: fc.integer({ min: 1, max: 100000 }),
        doneFrac: fc.double({ min: 0, max: 0.99, noNaN: true }),
        arrival: fc.integer({ min: 0, max: 5000 }),
      }),
      { minLength: 0, maxLength: 12 },
    ),
    now: fc.integer({ min: 5000, max: 20000 }),
  })
  .map(({ gpus, jobs, now }): PolicySnapshot => {
    const names = ['v100', 'p100', 'k80'].slice(0, gpus.length);
    const cluster = makeCluster(names.map((t, k) => [t, gpus[k]!] as [string, number]));
    return {
      now,
      cluster,
      jobs: jobs.map((j, i) => ({
        id: `j${i}`,
        jobType: `m${i % 3}`,
        scaleFactor: j.sf,
        priorityWeight: 1,
        throughput: j.t.slice(0, names.length),
        totalSteps: j.total,
        remainingSteps: Math.max(1, Math.round(j.total * (1 - j.doneFrac))),
        arrivalTime: j.arrival,
      })),
    };
  });

describe('baseline policies: properties', () => {
  for (const name of BASELINES) {
    it(`${name}: allocations satisfy Gavel's constraints, are deterministic, and accept their own state`, () => {
      fc.assert(
        fc.property(snapshotArb, (s) => {
          const p = getPolicy(name);
          const scaleOf = (id: string): number => s.jobs.find((j) => j.id === id)!.scaleFactor;
          const r1 = p.allocate(s);
          validateAllocation(r1.allocation, s.cluster, scaleOf);
          // Only active jobs appear, and never on a type where they cannot run.
          for (const [key, row] of r1.allocation.shares) {
            for (const id of rowJobs(key)) {
              const job = s.jobs.find((j) => j.id === id)!;
              row.forEach((v, k) => {
                if (v > 0) expect(job.throughput[k]).toBeGreaterThan(0);
              });
            }
          }
          const r2 = getPolicy(name).allocate(s);
          expect([...r2.allocation.shares]).toEqual([...r1.allocation.shares]);
          expect(JSON.stringify(r2.state)).toEqual(JSON.stringify(r1.state));
          const r3 = p.allocate({ ...s, now: s.now + 120, state: r1.state });
          validateAllocation(r3.allocation, s.cluster, scaleOf);
        }),
        { numRuns: 25, seed: 7 },
      );
    });
  }
});
