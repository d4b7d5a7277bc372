import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClusterSpec } from '../../src/model/index.js';
import type { PolicySnapshot } from '../../src/policies/types.js';
import { loadPolicy } from '../../src/runtime/server/policy-source.js';
import { allocationJson, type PolicyThread as Thread } from '../../src/runtime/server/policy-worker.js';
import { ensureBuilt, ROOT } from './harness.js';

// The thread needs compiled JavaScript (a worker cannot load TypeScript), so this test runs the built dist/.
let PolicyThread: typeof Thread;

beforeAll(async () => {
  ensureBuilt();
  ({ PolicyThread } = (await import(pathToFileURL(join(ROOT, 'dist', 'runtime', 'server', 'policy-worker.js')).href)) as { PolicyThread: typeof Thread });
}, 120_000);

const cluster: ClusterSpec = {
  gpuTypes: ['k80', 'v100'],
  gpus: { k80: 4, v100: 2 },
  gpusPerServer: { k80: 4, v100: 2 },
  servers: [
    { id: 0, gpuType: 'k80', gpus: 4, firstGpu: 0 },
    { id: 1, gpuType: 'v100', gpus: 2, firstGpu: 4 },
  ],
  totalGpus: 6,
};

function snapshot(n: number): PolicySnapshot {
  return {
    now: 100,
    cluster,
    jobs: Array.from({ length: n }, (_, i) => ({
      id: `job-${i + 1}`,
      jobType: i % 2 ? 'resnet50' : 'lm',
      scaleFactor: i % 5 === 0 ? 2 : 1,
      priorityWeight: 1,
      throughput: [1 + (i % 3), 3 + (i % 4)],
      totalSteps: 1000,
      remainingSteps: 1000 - 10 * i,
      arrivalTime: i,
    })),
  };
}

describe('the policy thread of rondo serve', () => {
  it('computes the same allocation, state and stored form as the policy on the main thread', async () => {
    for (const name of ['max_min_fairness_perf', 'finish_time_fairness_perf', 'fifo']) {
      const thread = PolicyThread.start(name)!;
      expect(thread).toBeDefined();
      try {
        const here = await loadPolicy(name);
        let state: unknown;
        for (const n of [7, 12]) {
          const s = { ...snapshot(n), state };
          const a = here.allocate(s);
          const b = await thread.allocate(s);
          expect(b.allocation.gpuTypes).toEqual(a.allocation.gpuTypes);
          expect([...b.allocation.shares]).toEqual([...a.allocation.shares]);
          expect(b.state).toEqual(a.state);
          expect(b.allocationJson).toBe(allocationJson(a.allocation));
          state = a.state;
        }
      } finally {
        await thread.close();
      }
    }
  });

  it("passes the policy's errors back as RondoErrors, and a closed thread refuses work", async () => {
    const thread = PolicyThread.start('fifo')!;
    const bad = { ...snapshot(3), state: { kind: 'not-a-fifo-state' } };
    await expect(thread.allocate(bad)).rejects.toMatchObject({ name: 'RondoError', code: 'E_INVALID', problem: expect.stringContaining('fifo') as string });
    await thread.close();
    await expect(thread.allocate(snapshot(3))).rejects.toThrow(/closed/);
  });
});
