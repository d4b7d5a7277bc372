import { describe, expect, it } from 'vitest';
import { formatSummary, parseCluster, parseJobs, readThroughputs, summariseJobs, summaryWarnings } from '../../src/io/index.js';
import { ROOT } from './helpers.js';

const table = readThroughputs(`${ROOT}data/gavel/simulation_throughputs.json`);
const jobs = parseJobs([
  'A3C\tc\t-n\t1\t100\t0\t1',
  'A3C\tc\t-n\t1\t100\t3600\t2',
  'ResNet-18 (batch size 64)\tc\t-n\t1\t100\t3600\t32',
  'Nope\tc\t-n\t1\t100\t7200\t1',
  'A3C\tc\t-n\t1\t100\t7200\t1',
].join('\n')).jobs;

describe('summariseJobs', () => {
  it('counts arrivals, sizes and types', () => {
    const s = summariseJobs(jobs);
    expect(s).toMatchObject({ count: 5, firstArrival: 0, lastArrival: 7200, spanS: 7200, arrivalRatePerHour: 2.5, withSteps: 5, durationOnly: 0 });
    expect(s.gpuHistogram).toEqual([{ gpus: 1, jobs: 3 }, { gpus: 2, jobs: 1 }, { gpus: 32, jobs: 1 }]);
    expect(s.jobTypes).toEqual([{ jobType: 'A3C', jobs: 3 }, { jobType: 'Nope', jobs: 1 }, { jobType: 'ResNet-18 (batch size 64)', jobs: 1 }]);
    expect(s.missingThroughputs).toBeUndefined();
    expect(s.tooLarge).toBeUndefined();
  });
  it('reports keys without throughputs and jobs too large for the cluster', () => {
    const s = summariseJobs(jobs, { throughputs: table, cluster: parseCluster('v100:16,k80:8') });
    // (A3C, 2) is not measured in Gavel's table; neither is anything of sf 32, nor an unknown type.
    expect(s.missingThroughputs!.map((m) => [m.key, m.jobs])).toEqual([['A3C|2', 1], ['Nope|1', 1], ['ResNet-18 (batch size 64)|32', 1]]);
    expect(s.jobsMissingThroughputs).toBe(3);
    expect(s.tooLarge).toEqual([{ id: '2', scaleFactor: 32, largest: 16 }]);
    const w = summaryWarnings(s);
    expect(w).toHaveLength(2);
    expect(w[0]).toMatch(/^3 job\(s\) in 3 \(job type, scale factor\) key\(s\) have no throughput/);
    expect(formatSummary(s)).toMatch(/arrival rate\s+2\.500 jobs\/hour/);
  });
  it('only counts throughputs on GPU types the cluster has and the job allows', () => {
    const one = parseJobs('{"id":"x","jobType":"A3C","scaleFactor":1,"arrivalTime":0,"totalSteps":5,"gpuTypes":["p100"]}').jobs;
    expect(summariseJobs(one, { throughputs: table }).jobsMissingThroughputs).toBe(0);
    expect(summariseJobs(one, { throughputs: table, cluster: parseCluster('v100:4,k80:4') }).jobsMissingThroughputs).toBe(1);
    expect(summariseJobs(one, { cluster: parseCluster('v100:4,p100:0') }).tooLarge).toHaveLength(1);
  });
  it('has no rate when every job arrives at once', () => {
    expect(summariseJobs(jobs.slice(0, 1)).arrivalRatePerHour).toBeNull();
  });
});
