import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseThroughputs } from '../../src/io/index.js';
import { makeCluster, type Job } from '../../src/model/index.js';
import { getPolicy, initSolver } from '../../src/policies/index.js';
import { DynamicBatchModel } from '../../src/sim/dynamic.js';
import { simulate } from '../../src/sim/index.js';

const root = join(import.meta.dirname, '../..');
const throughputs = parseThroughputs(readFileSync(join(root, 'data/shockwave/tacc_throughputs.json'), 'utf8'));
const cluster = makeCluster({ v100: 1 });
const SPE10 = Math.ceil(59675 / 10);

beforeAll(async () => {
  await initSolver();
});

describe('simulated jobs with changing batch sizes', () => {
  it('a gns job runs each phase at its batch size: JCT = sum over phases of epochs x steps per epoch / rate', async () => {
    // LM at batch 10 for 40 epochs: batch 10 for epochs 0-10 (94.91 steps/s on a V100), batch 20 for 11-30 (68.05
    // real steps/s = 68.05 x 5968 / 2984 initial-batch steps/s), batch 40 for 31-39 (46.82 x 5968 / 1492).
    const job: Job = { id: 'lm', jobType: 'LM (batch size 10)', scaleFactor: 1, arrivalTime: 0, totalSteps: 40 * SPE10, priorityWeight: 1, mode: 'gns' };
    const t10 = throughputs.consolidated['v100']!['LM (batch size 10)|1']!.isolated;
    const t20 = throughputs.consolidated['v100']!['LM (batch size 20)|1']!.isolated;
    const t40 = throughputs.consolidated['v100']!['LM (batch size 40)|1']!.isolated;
    const expected = (11 * SPE10) / t10 + (20 * SPE10) / ((t20 * SPE10) / Math.ceil(59675 / 20)) + (9 * SPE10) / ((t40 * SPE10) / Math.ceil(59675 / 40));
    const dyn = await simulate({ cluster, throughputs, policy: getPolicy('fifo'), jobs: [job], roundDuration: 120, minReallocationInterval: 0 });
    expect(dyn.metrics.perJob[0]!.jctSeconds!).toBeCloseTo(expected, 6);
    // With changes off the job runs at batch 10 throughout: slower.
    const flat = await simulate({ cluster, throughputs, policy: getPolicy('fifo'), jobs: [job], roundDuration: 120, minReallocationInterval: 0, dynamicBatchSizes: false });
    expect(flat.metrics.perJob[0]!.jctSeconds!).toBeGreaterThanOrEqual((40 * SPE10) / t10 - 1e-6);
    expect(flat.metrics.perJob[0]!.jctSeconds!).toBeGreaterThan(expected);
    // Alone on the whole cluster, the rho reference is the whole-job average throughput: rho = 1.
    expect(dyn.metrics.perJob[0]!.rho!).toBeCloseTo(1, 6);
    const avg = new DynamicBatchModel(throughputs, cluster, (j) => j.totalSteps!).averageRow(job, [t10])[0]!;
    expect((40 * SPE10) / avg).toBeCloseTo(expected, 6);
  });

  it('policies see the current phase throughput', async () => {
    const job: Job = { id: 'lm', jobType: 'LM (batch size 10)', scaleFactor: 1, arrivalTime: 0, totalSteps: 40 * SPE10, priorityWeight: 1, mode: 'gns' };
    const seen: number[] = [];
    const inner = getPolicy('fifo');
    // A second job arriving late forces a recompute while the first is in its batch-20 phase.
    const late: Job = { id: 'late', jobType: 'LM (batch size 10)', scaleFactor: 1, arrivalTime: 900, totalSteps: 100, priorityWeight: 1, mode: 'static' };
    const policy = { meta: inner.meta, allocate: (s: Parameters<typeof inner.allocate>[0]) => { seen.push(s.jobs[0]!.throughput[0]!); return inner.allocate(s); } };
    await simulate({ cluster, throughputs, policy, jobs: [job, late], roundDuration: 120, minReallocationInterval: 0 });
    const t10 = throughputs.consolidated['v100']!['LM (batch size 10)|1']!.isolated;
    const t20 = throughputs.consolidated['v100']!['LM (batch size 20)|1']!.isolated;
    expect(seen[0]).toBeCloseTo(t10, 9);
    // Batch 10 lasts 11 x 5968 / 94.91 = 692 s and batch 20 the next 20 x 5968 / 136.1 = 877 s: at 900 s (960, the
    // round end when the job is admitted) the first job runs at batch 20.
    expect(seen[1]).toBeCloseTo((t20 * SPE10) / Math.ceil(59675 / 20), 9);
  });
});
