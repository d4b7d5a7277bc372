import { describe, expect, it } from 'vitest';
import {
  RondoError,
  gpuOwner,
  jobKey,
  makeCluster,
  maxGpusOfOneType,
  pairKey,
  parseJobKey,
  rowJobs,
  validateAllocation,
  validateJob,
  validateJobs,
  jobShares,
  type Job,
} from '../../src/model/index.js';

const job = (over: Partial<Job> = {}): Job => ({
  id: '0',
  jobType: 'ResNet-18 (batch size 64)',
  scaleFactor: 1,
  arrivalTime: 0,
  totalSteps: 1000,
  priorityWeight: 1,
  ...over,
});

describe('makeCluster', () => {
  it('splits each type into servers of the given size, the last holding the remainder', () => {
    const c = makeCluster({ v100: 10, k80: 4 }, { v100: 4, k80: 2 });
    expect(c.gpuTypes).toEqual(['v100', 'k80']);
    expect(c.totalGpus).toBe(14);
    expect(c.servers.map((s) => [s.gpuType, s.gpus, s.firstGpu])).toEqual([
      ['v100', 4, 0],
      ['v100', 4, 4],
      ['v100', 2, 8],
      ['k80', 2, 10],
      ['k80', 2, 12],
    ]);
    expect(gpuOwner(c, 9).id).toBe(2);
    expect(gpuOwner(c, 10).gpuType).toBe('k80');
    expect(() => gpuOwner(c, 14)).toThrow(RondoError);
    expect(maxGpusOfOneType(c)).toBe(10);
  });

  it('normalises type names and keeps zero-GPU types', () => {
    const c = makeCluster([['V100', 2], ['p100', 0]], 1);
    expect(c.gpuTypes).toEqual(['v100', 'p100']);
    expect(c.servers).toHaveLength(2);
  });

  it.each([
    [{}, 1, /no GPU types/],
    [{ v100: -1 }, 1, /bad GPU count/],
    [{ v100: 1.5 }, 1, /bad GPU count/],
    [{ 'v 100': 1 }, 1, /invalid GPU type/],
    [{ v100: 4 }, 0, /bad GPUs-per-server/],
    [{ v100: 4 }, { a100: 2 }, /does not have/],
  ])('rejects %j with per-server %j', (gpus, per, msg) => {
    expect(() => makeCluster(gpus as Record<string, number>, per as number)).toThrow(msg);
  });

  it('rejects a type listed twice', () => {
    expect(() => makeCluster([['v100', 1], ['V100', 2]])).toThrow(/twice/);
  });
});

describe('validateJob', () => {
  it('accepts a step-based and a duration-based job', () => {
    expect(validateJob(job())).toBeTruthy();
    expect(validateJob(job({ totalSteps: undefined, durationS: 3600 }))).toBeTruthy();
  });

  it.each<[Partial<Job>, RegExp]>([
    [{ id: '' }, /job id/],
    [{ scaleFactor: 0 }, /scale factor/],
    [{ scaleFactor: 2.5 }, /scale factor/],
    [{ arrivalTime: -1 }, /arrival/],
    [{ arrivalTime: Number.NaN }, /arrival/],
    [{ totalSteps: 0 }, /total steps/],
    [{ totalSteps: Number.POSITIVE_INFINITY }, /total steps/],
    [{ totalSteps: undefined }, /neither/],
    [{ durationS: -5 }, /duration/],
    [{ priorityWeight: 0 }, /priority/],
    [{ sloFactor: -1 }, /SLO/],
    [{ jobType: 'a|b' }, /job type/],
    [{ mode: 'weird' as never }, /mode/],
    [{ gpuTypes: [] }, /allowed GPU types/],
  ])('rejects %j', (over, msg) => {
    const e = (() => {
      try {
        validateJob(job(over));
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(RondoError);
    expect((e as RondoError).message).toMatch(msg);
  });

  it('rejects duplicate ids', () => {
    expect(() => validateJobs([job(), job()])).toThrow(/duplicate job id/);
  });
});

describe('keys', () => {
  it('round-trips job keys, also for names with commas and parentheses', () => {
    const k = jobKey('LM (batch size 5, x)', 8);
    expect(parseJobKey(k)).toEqual({ jobType: 'LM (batch size 5, x)', scaleFactor: 8 });
  });
  it('gives a pair one key whatever the order', () => {
    expect(pairKey('7', '3')).toBe(pairKey('3', '7'));
    expect(rowJobs(pairKey('a', 'b'))).toEqual(['a', 'b']);
  });
});

describe('validateAllocation', () => {
  const cluster = makeCluster({ v100: 2, k80: 1 });
  const scale = (id: string) => (id === 'big' ? 2 : 1);

  it('accepts a feasible allocation and sums pair rows into job shares', () => {
    const shares = new Map([
      ['a', [0.5, 0.25]],
      ['big', [0.5, 0]],
      [pairKey('a', 'c'), [0, 0.25]],
    ]);
    const alloc = { gpuTypes: cluster.gpuTypes, shares };
    expect(() => validateAllocation(alloc, cluster, scale)).not.toThrow();
    expect(jobShares(alloc, 'a')).toEqual([0.5, 0.5]);
  });

  it('rejects over-allocated jobs, over-used types, negative and NaN shares', () => {
    const mk = (rows: [string, number[]][]) => ({ gpuTypes: cluster.gpuTypes, shares: new Map(rows) });
    expect(() => validateAllocation(mk([['a', [0.7, 0.7]]]), cluster, scale)).toThrow(/> 1/);
    expect(() => validateAllocation(mk([['big', [1, 0]], ['a', [0.5, 0]]]), cluster, scale)).toThrow(/uses 2.5 GPUs/);
    expect(() => validateAllocation(mk([['a', [-0.1, 0]]]), cluster, scale)).toThrow(/is -0.1/);
    expect(() => validateAllocation(mk([['a', [Number.NaN, 0]]]), cluster, scale)).toThrow(/NaN/);
    expect(() => validateAllocation(mk([['a', [0.5]]]), cluster, scale)).toThrow(/entries/);
  });
});

describe('RondoError', () => {
  it('formats place, expectation and hint on one line', () => {
    const e = new RondoError({ code: 'E_NUMBER', file: 't.trace', line: 3, column: 5, problem: 'bad total steps', expected: 'a number', found: '"x"', hint: 'fix column 5' });
    expect(e.message).toBe('t.trace:3:5: bad total steps; expected a number; found "x" (fix column 5) [E_NUMBER]');
    expect(e.message).not.toContain('\n');
    expect(e.at({ file: 'other' }).file).toBe('t.trace');
    expect(new RondoError({ code: 'E_IO', problem: 'x' }).at({ file: 'f', line: 2 }).message).toBe('f:2: x [E_IO]');
  });
});

describe('preview', () => {
  it('never throws, even on cyclic or very deep values, and escapes control characters', async () => {
    const { preview } = await import('../../src/model/errors.js');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(preview(cyclic)).toBe('{a deeply nested object}');
    expect(preview(deep)).toBe('[a deeply nested array]');
    expect(preview('a\tb')).toBe('a\\x09b');
    expect(preview('x'.repeat(100))).toHaveLength(61);
  });
});
