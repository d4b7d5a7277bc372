/**
 * `simulate --estimate-throughputs`: the policy sees estimates that follow what each job has run on; the executor
 * and the metrics keep the table.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCluster, readThroughputs } from '../../src/io/index.js';
import { colocatedThroughput, isolatedThroughput, jobKey, type Job, type RoundPlan } from '../../src/model/index.js';
import { getPolicy } from '../../src/policies/registry.js';
import { initSolver } from '../../src/solver/index.js';
import { simulate, type SimulationInput } from '../../src/sim/index.js';
import { EstimatedThroughputs } from '../../src/sim/estimated.js';
import type { Executor, RoundReport } from '../../src/engine/types.js';

const throughputs = readThroughputs('data/gavel/simulation_throughputs.json');
const cluster = parseCluster('v100:2,p100:2,k80:2');

describe('EstimatedThroughputs', () => {
  const job: Job = { id: 'j1', jobType: 'ResNet-50 (batch size 64)', scaleFactor: 1, arrivalTime: 0, totalSteps: 100, priorityWeight: 1 };
  const truth = cluster.gpuTypes.map((t) => isolatedThroughput(throughputs, t, jobKey(job.jobType, 1))!);

  it('starts from the reference shape and takes the measured type once the job ran there', async () => {
    const est = new EstimatedThroughputs(throughputs);
    const before = est.row(job, truth, cluster);
    expect(before).not.toEqual(truth);
    expect(before.every((v) => v > 0)).toBe(true);
    const inner: Executor = {
      runRound: (): Promise<RoundReport> =>
        Promise.resolve({ end: 360, progress: [{ jobId: 'j1', gpuType: 'v100', steps: 10, runTime: 360, finished: false }] }),
    };
    await est.observe(inner).runRound({} as RoundPlan, new Map());
    const after = est.row(job, truth, cluster);
    const v = cluster.gpuTypes.indexOf('v100');
    expect(after[v]).toBe(truth[v]);
    // Zero where the job cannot run stays zero.
    const blocked = truth.map((x, k) => (k === v ? 0 : x));
    expect(est.row(job, blocked, cluster)[v]).toBe(0);
  });
});

describe('EstimatedThroughputs.wrapPolicy (space sharing)', () => {
  beforeAll(async () => {
    await initSolver();
  });
  it('hands a space-sharing policy a table of estimated co-located throughputs per class of jobs', () => {
    const est = new EstimatedThroughputs(throughputs, { profiledFraction: 0.5, seed: 2 });
    const keys = ['ResNet-50 (batch size 64)', 'Transformer (batch size 64)'];
    const jobs = keys.map((jobType, i) => {
      const row = cluster.gpuTypes.map((t) => isolatedThroughput(throughputs, t, jobKey(jobType, 1))!);
      return { id: `j${i}`, jobType, scaleFactor: 1, priorityWeight: 1, throughput: row, totalSteps: 10, remainingSteps: 10, arrivalTime: 0 };
    });
    let seen: import('../../src/policies/types.js').PolicySnapshot | undefined;
    const inner = getPolicy('max_min_fairness_packed');
    const spy = { meta: inner.meta, allocate: (s: import('../../src/policies/types.js').PolicySnapshot) => ((seen = s), inner.allocate(s)) };
    est.wrapPolicy(spy).allocate({ now: 0, cluster, jobs, throughputs, state: undefined });
    const table = seen!.throughputs!;
    const [a, b] = seen!.jobs.map((j) => jobKey(j.jobType, 1));
    expect(a).not.toBe(jobKey(keys[0]!, 1));
    const k = 'v100';
    const pair = table.consolidated[k]![a!]!.colocated[b!]!;
    const truth = colocatedThroughput(throughputs, k, jobKey(keys[0]!, 1), jobKey(keys[1]!, 1))!;
    // Estimated from other models' co-locations: the right magnitude, not the table's value.
    for (const i of [0, 1]) {
      expect(pair[i]! / truth[i]!).toBeGreaterThan(0.4);
      expect(pair[i]! / truth[i]!).toBeLessThan(2.5);
    }
    expect(pair).not.toEqual(truth);
    // A policy without space sharing is not wrapped.
    const las = getPolicy('max_min_fairness_perf');
    expect(est.wrapPolicy(las)).toBe(las);
  });
});

describe('simulate --estimate-throughputs', () => {
  beforeAll(async () => {
    await initSolver();
  });
  const input = (extra: Partial<SimulationInput> = {}): SimulationInput => ({
    cluster,
    throughputs,
    policy: getPolicy('max_min_fairness_perf'),
    generate: { rate: 6, limit: 30 },
    seed: 1,
    ...extra,
  });

  it('completes every job, deterministically, and differs from the run with the true table', async () => {
    const a = await simulate(input({ estimateThroughputs: { seed: 0 } }));
    const b = await simulate(input({ estimateThroughputs: { seed: 0 } }));
    const t = await simulate(input());
    expect(a.metrics.summary.completedWindowJobs).toBe(30);
    expect(a.metrics.perJob).toEqual(b.metrics.perJob);
    expect(a.metrics.perJob).not.toEqual(t.metrics.perJob);
  });

  it('draws the reference job types by seed', async () => {
    const a = await simulate(input({ estimateThroughputs: { referenceJobTypes: 5, seed: 0 } }));
    const b = await simulate(input({ estimateThroughputs: { referenceJobTypes: 5, seed: 7 } }));
    expect(a.metrics.perJob).not.toEqual(b.metrics.perJob);
  });
});

describe('simulate flags', () => {
  it('refuses --reference-job-types without --estimate-throughputs, and out of range', async () => {
    const { buildWorkload } = await import('../../src/sim/index.js');
    const base = { generate: true, rate: '4', limit: '5', seed: '0', cluster: 'v100:1,k80:1', round: '360', throughputs: 'data/gavel/simulation_throughputs.json' };
    expect(() => buildWorkload({ ...base, referenceJobTypes: '3' })).toThrow(/--reference-job-types needs --estimate-throughputs/);
    expect(() => buildWorkload({ ...base, estimateThroughputs: true, referenceJobTypes: '99' })).toThrow(/bad --reference-job-types/);
    const w = buildWorkload({ ...base, estimateThroughputs: true, referenceJobTypes: '3', estimateSeed: '4' });
    expect(w.base.estimateThroughputs).toEqual({ seed: 4, referenceJobTypes: 3 });
  });
});
