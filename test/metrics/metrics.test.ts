import { describe, expect, it } from 'vitest';
import { computeMetrics, equalShareThroughput, pearson, quantile, spearman } from '../../src/metrics/index.js';
import type { EngineResult, JobRecord } from '../../src/engine/index.js';
import { makeCluster } from '../../src/model/index.js';

const cluster = makeCluster({ v100: 2, k80: 2 }, 1);

function rec(i: number, arrival: number, finish: number | undefined, over: Partial<JobRecord> = {}): JobRecord {
  return {
    id: `j${i}`, index: i, jobType: 'A', scaleFactor: 1, arrivalTime: arrival, totalSteps: 3600, stepsDone: 0, finishTime: finish,
    runSeconds: [0, 0], roundsRun: 0, preemptions: i, failures: 0, failed: false, cancelled: false, activeJobSeconds: finish === undefined ? 0 : (finish - arrival) * 2, ...over,
  };
}

function result(jobs: JobRecord[]): EngineResult {
  return {
    cluster, policy: 'p', roundDuration: 360, jobs, rounds: 2, startTime: 0, endTime: 7200,
    timeline: [
      { round: 0, start: 0, end: 3600, activeJobs: 2, runningJobs: 2, finishedJobs: 0, busyGpuSeconds: [7200, 0] },
      { round: 1, start: 3600, end: 7200, activeJobs: 1, runningJobs: 1, finishedJobs: 1, busyGpuSeconds: [0, 3600] },
    ],
    policyCalls: 1, policySeconds: 0.1, mechanismSeconds: 0, executorSeconds: 0, leaseExtensions: 1, leaseOpportunities: 2, stopReason: 'drained',
  };
}

describe('metrics', () => {
  it('quantiles interpolate linearly (numpy default)', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10], 0.99)).toBe(10);
    expect(quantile([], 0.5)).toBeNull();
    expect(quantile([0, 10], 0.95)).toBeCloseTo(9.5, 12);
  });

  it('equal-share throughput is the count-weighted mean, cut when n jobs x gang exceed the cluster', () => {
    expect(equalShareThroughput(cluster, [10, 2], 1, 1)).toBe(6);
    expect(equalShareThroughput(cluster, [10, 2], 2, 4)).toBe(3);
  });

  it('computes JCT, fairness, utilisation, cost, preemptions and lease extensions over the window', () => {
    const jobs = [rec(0, 0, 3600), rec(1, 0, 7200), rec(2, 100, undefined)];
    const m = computeMetrics(result(jobs), () => [10, 2], { window: { start: 0, end: 2 }, prices: { v100: 1, k80: 0.5 } }).summary;
    expect(m.windowJobs).toBe(2);
    expect(m.avgJctHours).toBe(1.5);
    expect(m.medianJctHours).toBe(1.5);
    expect(m.makespanHours).toBe(2);
    // n = 2 on average, equal share = min(1, 4/2) x 6 steps/s -> 600 s alone; JCTs 3600 and 7200 -> rho 6 and 12.
    expect(m.maxRho).toBeCloseTo(12, 9);
    expect(m.meanRho).toBeCloseTo(9, 9);
    expect(m.unfairFraction).toBe(1);
    expect(m.utilization).toBeCloseTo((7200 + 3600) / (4 * 7200), 12);
    expect(m.utilizationByType).toEqual({ v100: 0.5, k80: 0.25 });
    expect(m.cost).toBeCloseTo(2 * 1 + 1 * 0.5, 12);
    expect(m.preemptions).toBe(3);
    expect(m.preemptionsPerJob).toBe(0.5);
    expect(m.leaseExtensionFraction).toBe(0.5);
  });

  it('splits the utilisation series per hour', () => {
    const s = computeMetrics(result([rec(0, 0, 3600)]), () => [10, 2]).utilizationSeries;
    expect(s).toHaveLength(2);
    expect(s[0]!.busy).toEqual([1, 0]);
    expect(s[1]!.busy).toEqual([0, 0.5]);
  });

  it('correlations', () => {
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3], [1, 8, 27])).toBeCloseTo(1, 12);
    expect(pearson([1, 1], [2, 3])).toBeNull();
  });
});
