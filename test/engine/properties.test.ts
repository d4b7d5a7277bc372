import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { runEngine } from '../../src/engine/index.js';
import { SimClock, SimExecutor, TraceSource, tableThroughputs } from '../../src/sim/index.js';
import { cluster2, equalShare, job, smallTable, testFifo } from '../sim/helpers.js';

const jobArb = fc.record({
  type: fc.constantFrom('A', 'B'),
  sf: fc.constantFrom(1, 2, 4),
  arrival: fc.integer({ min: 0, max: 20_000 }),
  steps: fc.integer({ min: 1, max: 50_000 }),
});

describe('engine invariants (property)', () => {
  it('every job finishes, no sooner than alone on its fastest type, and GPUs are never over-used', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(jobArb, { minLength: 1, maxLength: 12 }), fc.boolean(), fc.constantFrom(1, 2, 4), fc.constantFrom(0, 1920), async (specs, fifo, perServer, interval) => {
        const cluster = cluster2(4, 4, perServer);
        const table = smallTable();
        const clock = new SimClock();
        const tput = tableThroughputs(table, cluster);
        const jobs = specs.map((s, i) => job(`j${i}`, { jobType: s.type, scaleFactor: s.sf, arrivalTime: s.arrival, totalSteps: s.steps }));
        const r = await runEngine({
          cluster,
          policy: fifo ? testFifo() : equalShare(false),
          clock,
          executor: new SimExecutor(clock, table),
          source: new TraceSource(jobs),
          throughputOf: tput,
          roundDuration: 360,
          minReallocationInterval: interval,
        });
        expect(r.jobs).toHaveLength(jobs.length);
        for (const rec of r.jobs) {
          const j = jobs.find((x) => x.id === rec.id)!;
          expect(rec.finishTime).toBeDefined();
          const best = Math.max(...tput(j));
          expect(rec.finishTime! - j.arrivalTime).toBeGreaterThanOrEqual(j.totalSteps! / best - 1e-6);
        }
        for (const round of r.timeline) {
          const span = round.end - round.start;
          round.busyGpuSeconds.forEach((b, k) => expect(b).toBeLessThanOrEqual((cluster.gpus[cluster.gpuTypes[k]!] ?? 0) * span + 1e-6));
        }
      }),
      { numRuns: 60 },
    );
  });
});
