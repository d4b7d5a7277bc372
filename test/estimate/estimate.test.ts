import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { completeRow, fitLowRank, ThroughputEstimator } from '../../src/estimate/index.js';
import { readThroughputs } from '../../src/io/index.js';
import { isolatedThroughput, jobKey, seededRandom } from '../../src/model/index.js';

const table = readThroughputs(join(import.meta.dirname, '../../data/gavel/simulation_throughputs.json'));
const TYPES = ['k80', 'p100', 'v100'];

describe('low-rank completion', () => {
  it('recovers a rank-1 row from one entry, with a small spread', () => {
    const v = [1, 3, 7, 2];
    const rows = [0.5, 1, 2, 4, 0.25, 8].map((a) => v.map((x) => a * x));
    const m = fitLowRank(rows, { rank: 1, minSigma2: 1e-8 });
    const est = completeRow(m, new Map([[1, 3 * 3]]));
    expect(est.mean[0]).toBeCloseTo(3, 1);
    expect(est.mean[2]).toBeCloseTo(21, 0);
    expect(est.sd[1]).toBe(0);
    expect(est.sd[0]!).toBeLessThan(0.2);
  });

  it('returns the reference mean and spread when nothing is observed', () => {
    const rows = [
      [1, 2],
      [3, 5],
      [5, 4],
    ];
    const m = fitLowRank(rows);
    const est = completeRow(m, new Map());
    expect(est.mean[0]).toBeCloseTo(3, 10);
    expect(est.mean[1]).toBeCloseTo(11 / 3, 10);
    expect(est.sd[0]!).toBeGreaterThan(0.5);
  });

  it('fills missing reference entries (hard impute) and still completes', () => {
    const v = [2, 1, 4];
    const rows = [1, 2, 3, 4, 5].map((a) => v.map((x) => a * x));
    rows[1]![2] = NaN;
    rows[3]![0] = NaN;
    const m = fitLowRank(rows, { rank: 1, minSigma2: 1e-8 });
    const est = completeRow(m, new Map([[0, 6]]));
    expect(est.mean[1]).toBeCloseTo(3, 1);
    expect(est.mean[2]).toBeCloseTo(12, 1);
  });

  it('rejects a reference that cannot be fitted, and bad observations', () => {
    expect(() => fitLowRank([[1, 2]])).toThrow(/at least 2 reference rows/);
    expect(() => fitLowRank([[1, NaN], [2, NaN]])).toThrow(/column 1 has no measured value/);
    const m = fitLowRank([[1, 2], [2, 3], [4, 1]]);
    expect(() => completeRow(m, new Map([[5, 1]]))).toThrow(/out of range/);
  });

  it('completes exact low-rank rows: the more entries observed, the closer (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.2, max: 5, noNaN: true }), { minLength: 4, maxLength: 4 }),
        fc.array(fc.double({ min: 0.2, max: 5, noNaN: true }), { minLength: 5, maxLength: 10 }),
        fc.double({ min: 0.5, max: 3, noNaN: true }),
        (v, scales, a) => {
          const rows = scales.map((s) => v.map((x) => Math.log(s * x)));
          const m = fitLowRank(rows, { rank: 1, minSigma2: 1e-8 });
          const est = completeRow(m, new Map([[0, Math.log(a * v[0]!)]]));
          for (let c = 1; c < 4; c++) expect(Math.abs(est.mean[c]! - Math.log(a * v[c]!))).toBeLessThan(1e-3);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('ThroughputEstimator', () => {
  const est = new ThroughputEstimator(table);
  const known = { jobType: 'ResNet-50 (batch size 64)', scaleFactor: 1 };

  it('gives a known key its table row, scaled to what the job measured', () => {
    const row = est.isolated(known, TYPES);
    expect(row.map((r) => r.source)).toEqual(['table', 'table', 'table']);
    expect(row[2]!.value).toBe(isolatedThroughput(table, 'v100', jobKey(known.jobType, 1)));
    const measuredV100 = 2 * row[2]!.value;
    const scaled = est.isolated({ ...known, measured: { v100: measuredV100 } }, TYPES);
    expect(scaled[2]).toMatchObject({ source: 'measured', value: measuredV100, confidence: 1 });
    expect(scaled[0]!.value).toBeCloseTo(2 * row[0]!.value, 10);
  });

  it('estimates an unseen job from its measurements, with a confidence below 1', () => {
    const row = est.isolated({ ...known, excludeSelf: true, measured: { v100: 4.39 } }, TYPES);
    expect(row.map((r) => r.source)).toEqual(['estimated', 'estimated', 'measured']);
    for (const r of row.slice(0, 2)) {
      expect(r.confidence).toBeGreaterThan(0);
      expect(r.confidence).toBeLessThan(1);
      expect(r.uncertainty).toBeGreaterThan(0);
      // Slower types than the V100 the job measured, as every reference row says.
      expect(r.value).toBeLessThan(4.39);
    }
    // More measurements, less uncertainty on what is left.
    const two = est.isolated({ ...known, excludeSelf: true, measured: { v100: 4.39, p100: 2.62 } }, TYPES);
    expect(two[0]!.uncertainty).toBeLessThanOrEqual(row[0]!.uncertainty + 1e-12);
  });

  it('counts a model it cannot place (unknown GPU type) as a default with confidence 0', () => {
    const row = est.isolated({ jobType: 'mystery', scaleFactor: 1, measured: { v100: 3 } }, ['v100', 'a100']);
    expect(row[1]).toMatchObject({ source: 'default', value: 3, confidence: 0 });
  });

  it('draws reference job types by seed, and refuses a bad count', () => {
    const a = new ThroughputEstimator(table, { referenceJobTypes: 10, seed: 3 });
    const b = new ThroughputEstimator(table, { referenceJobTypes: 10, seed: 3 });
    const c = new ThroughputEstimator(table, { referenceJobTypes: 10, seed: 4 });
    expect(a.referenceJobTypes).toHaveLength(10);
    expect(a.referenceJobTypes).toEqual(b.referenceJobTypes);
    expect(a.referenceJobTypes).not.toEqual(c.referenceJobTypes);
    expect(() => new ThroughputEstimator(table, { referenceJobTypes: 0 })).toThrow(/from 1 to 26/);
  });

  it('matches a fully profiled reference key to itself, and an unseen one to a near neighbour', () => {
    const key = jobKey('Transformer (batch size 64)', 1);
    const full = est.profileColocations(key, 1, seededRandom(0));
    expect(full.size).toBe(3 * est.colocationReferences(1).length);
    expect(est.matchReference(1, full)).toMatchObject({ key });
    const unseen = est.profileColocations(key, 0.5, seededRandom(1), 'Transformer (batch size 64)');
    const m = est.matchReference(1, unseen, 'Transformer (batch size 64)')!;
    expect(m.key).not.toBe(key);
    expect(m.distance).toBeLessThan(0.05);
    const pair = est.colocatedLike(m.key, jobKey('ResNet-18 (batch size 32)', 1), 'v100', 10, 20)!;
    expect(pair[0]).toBeGreaterThan(0);
    expect(pair[0]).toBeLessThan(10);
  });
});
