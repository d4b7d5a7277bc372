import { describe, expect, it } from 'vitest';
import { GavelWorkload, StreamSource, simulate, screenJobs, tableThroughputs, workloadStream } from '../../src/sim/index.js';
import { isRondoError, type Job } from '../../src/model/index.js';
import { cluster2, equalShare, job, smallTable, testFifo } from './helpers.js';

function draw(n: number, opts: Partial<ConstructorParameters<typeof GavelWorkload>[0]> = {}): Job[] {
  const g = new GavelWorkload({ rate: 4.8, seed: 7, throughputs: smallTable(), ...opts });
  return Array.from({ length: n }, () => g.take());
}

describe('Gavel workload generator', () => {
  it('is deterministic per seed and differs across seeds', () => {
    expect(draw(50)).toEqual(draw(50));
    expect(draw(50, { seed: 8 }).map((j) => j.totalSteps)).not.toEqual(draw(50).map((j) => j.totalSteps));
  });

  it('has Poisson arrivals at the rate, Gavel durations, and steps = duration x v100 throughput', () => {
    const jobs = draw(4000);
    expect(jobs[0]!.arrivalTime).toBe(0);
    const meanGap = jobs[jobs.length - 1]!.arrivalTime / (jobs.length - 1);
    expect(meanGap).toBeGreaterThan(750 * 0.93);
    expect(meanGap).toBeLessThan(750 * 1.07);
    const minutes = jobs.map((j) => j.durationS! / 60);
    expect(Math.min(...minutes)).toBeGreaterThanOrEqual(10 ** 1.5 - 1e-9);
    expect(Math.max(...minutes)).toBeLessThanOrEqual(10 ** 4 + 1e-9);
    const long = minutes.filter((m) => m > 1000).length / jobs.length;
    expect(long).toBeGreaterThan(0.17);
    expect(long).toBeLessThan(0.23);
    for (const j of jobs.slice(0, 100)) {
      expect(j.scaleFactor).toBe(1);
      const tput = j.jobType === 'A' ? 10 : 2;
      expect(j.totalSteps).toBeCloseTo(j.durationS! * tput, 6);
    }
    const types = new Set(jobs.map((j) => j.jobType));
    expect([...types].sort()).toEqual(['A', 'B']);
  });

  it('draws Gavel scale factors 1/2/4/8 at 0.7/0.1/0.15/0.05 (8 is absent from this table: falls back to 4)', () => {
    const jobs = draw(6000, { multiGpu: true });
    const frac = (s: number) => jobs.filter((j) => j.scaleFactor === s).length / jobs.length;
    expect(frac(1)).toBeGreaterThan(0.67);
    expect(frac(1)).toBeLessThan(0.73);
    expect(frac(2)).toBeGreaterThan(0.08);
    expect(frac(4)).toBeGreaterThan(0.17);
    expect(frac(8)).toBe(0);
  });

  it('samples (duration, GPUs) from an empirical distribution when given', () => {
    const jobs = draw(200, { multiGpu: true, empirical: [{ durationS: 3600, gpus: 2 }, { durationS: 7200, gpus: 1 }] });
    for (const j of jobs) expect([3600, 7200]).toContain(j.durationS);
    expect(new Set(jobs.map((j) => j.scaleFactor))).toEqual(new Set([1, 2]));
  });

  it('a stream source hands out jobs by arrival and knows the next arrival', () => {
    const src = new StreamSource(new GavelWorkload({ rate: 1, seed: 1, throughputs: smallTable() }), 3);
    expect(src.poll(0).map((j) => j.id)).toEqual(['0']);
    const next = src.nextArrival()!;
    expect(next).toBeGreaterThan(0);
    expect(src.poll(next).length).toBeGreaterThanOrEqual(1);
  });
});

describe('simulate', () => {
  const base = { cluster: cluster2(2, 2), throughputs: smallTable() };

  it('rejects jobs without throughput or too large, naming them; skips and counts them when asked', async () => {
    const jobs = [job('ok'), job('nope', { jobType: 'Z' }), job('huge', { scaleFactor: 4 })];
    await expect(simulate({ ...base, policy: testFifo(), jobs })).rejects.toSatisfy((e) => isRondoError(e) && /nope Z x1/.test(e.message) && /--drop-unknown/.test(e.message));
    await expect(simulate({ ...base, policy: testFifo(), jobs, dropUnknown: true })).rejects.toSatisfy((e) => isRondoError(e) && /huge needs 4/.test(e.message));
    const out = await simulate({ ...base, policy: testFifo(), jobs, dropUnknown: true, skipTooLarge: true });
    expect(out.dropped).toEqual({ unknown: ['nope'], tooLarge: ['huge'] });
    expect(out.metrics.summary.jobs).toBe(1);
    expect(out.metrics.summary.completedWindowJobs).toBe(1);
  });

  it('gives an empty report for an empty trace', async () => {
    const out = await simulate({ ...base, policy: testFifo(), jobs: [] });
    expect(out.metrics.summary.jobs).toBe(0);
    expect(out.metrics.summary.avgJctHours).toBeNull();
    expect(out.result.rounds).toBe(0);
  });

  it('runs a generated workload until the window finishes, deterministically', async () => {
    const gen = { generate: { rate: 0.1 }, window: { start: 5, end: 15 }, seed: 3 };
    const a = await simulate({ ...base, policy: equalShare(true), ...gen });
    const b = await simulate({ ...base, policy: equalShare(true), ...gen });
    expect(a.result.stopReason).toBe('window');
    expect(a.metrics.summary.completedWindowJobs).toBe(10);
    expect(a.metrics.perJob.map((j) => j.finishTime)).toEqual(b.metrics.perJob.map((j) => j.finishTime));
  });

  it('slows spread multi-GPU jobs only with the spread penalty', async () => {
    const jobs = [job('g', { scaleFactor: 2, totalSteps: 18000 })];
    const plain = await simulate({ ...base, policy: testFifo(), jobs });
    const spread = await simulate({ ...base, policy: testFifo(), jobs, spreadPenalty: true });
    expect(plain.metrics.perJob[0]!.jctSeconds).toBeCloseTo(18000 / 18, 6); // A|2 on v100: 18 steps/s
    expect(spread.metrics.perJob[0]!.jctSeconds).toBeCloseTo(18000 / 5, 6); // v100_unconsolidated: 5 steps/s
  });

  it('screenJobs keeps jobs a usable type can hold', () => {
    const c = cluster2(2, 4);
    const s = screenJobs([job('a', { scaleFactor: 4, jobType: 'B' })], c, tableThroughputs(smallTable(), c), {});
    expect(s.keep).toHaveLength(1);
  });
});

describe("Gavel's generator replayed with Python's random (--gavel-rng)", () => {
  it("produces Gavel's jobs for seed 0 (values from Gavel's generated_jobs.json)", async () => {
    const { readThroughputs } = await import('../../src/io/index.js');
    const { resolve } = await import('node:path');
    const table = readThroughputs(resolve(import.meta.dirname, '../../data/gavel/simulation_throughputs.json'));
    const g = workloadStream({ rate: 2, seed: 0, throughputs: table, rng: 'gavel' });
    const jobs = Array.from({ length: 3 }, () => g.take());
    expect(jobs.map((j) => [j.jobType, j.arrivalTime, j.durationS, j.totalSteps])).toEqual([
      ['ResNet-18 (batch size 64)', 0, 68344.35010595087, 1646636.2758419],
      ['Transformer (batch size 16)', 489.172145820603, 31016.60914593223, 343170.46864225325],
      ['Recommendation (batch size 2048)', 1903.5496550581915, 2146.6088374387864, 16034.37819420177],
    ].map(([t, a, d, s]) => [t, expect.closeTo(a as number, 6), expect.closeTo(d as number, 6), expect.closeTo(s as number, 4)]));
  });
});

describe('jobs given by duration only', () => {
  it('converts the duration to steps with the throughput of the reference GPU type', async () => {
    const base = { cluster: cluster2(2, 2), throughputs: smallTable() };
    const j = { id: 'd', jobType: 'A', scaleFactor: 1, arrivalTime: 0, durationS: 500, referenceGpuType: 'k80', priorityWeight: 1 };
    const out = await simulate({ ...base, policy: testFifo(), jobs: [j] });
    // 500 s on a k80 (2 steps/s) = 1000 steps; test FIFO puts it on a v100 (10 steps/s): 100 s.
    expect(out.result.jobs[0]!.totalSteps).toBe(1000);
    expect(out.metrics.perJob[0]!.jctSeconds).toBeCloseTo(100, 9);
  });
});
