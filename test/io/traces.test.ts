import { describe, expect, it } from 'vitest';
import { detectFormat, formatJobs, parseJobs, parseTraceFormat } from '../../src/io/index.js';
import { rondoError } from './helpers.js';

const MSR = [
  'Transformer (batch size 128)\tcd %s/x && python3 train.py -batch_size 128\t-step\t1\t95121\t0.000000\t1',
  'Recommendation (batch size 8192)\tcd %s/y && python3 train.py --batch_size 8192\t-n\t1\t10000\t6.000000\t4',
  'A3C\tpython3 main.py \t--max-steps\t0\t2500.5\t6.000000\t32',
].join('\n');

const GAVEL10 = [
  'ResNet-18 (batch size 128)\tpython3 main.py --batch_size 128\timage_classification/cifar10\t--num_steps\t1\t925982\t4\t1\t-1.000000\t0',
  'Transformer (batch size 256)\tpython3 train.py\ttranslation\t-step\t1\t1271\t1\t2.5\t1.2\t30.5',
].join('\n') + '\n';

const SHOCKWAVE = [
  'LM (batch size 10)\tpython3 main.py --cuda\tlanguage_modeling\t--steps\t1\t134583\t1\tgns\t1\t-1.000000\t1418\t0',
  'ResNet-18 (batch size 32)\tpython3 main.py\timage_classification/cifar10\t--num_steps\t1\t143450\t2\taccordion\t1\t-1.000000\t3338\t55',
].join('\r\n');

describe('format detection', () => {
  it('tells formats apart by content', () => {
    expect(detectFormat(MSR)).toBe('gavel-msr');
    expect(detectFormat(GAVEL10)).toBe('gavel');
    expect(detectFormat(SHOCKWAVE)).toBe('shockwave');
    expect(detectFormat('\n  [\n{"job_id": 0}]')).toBe('gavel-json');
    expect(detectFormat('{"rondoJobs": 1}\n{"id": "a"}')).toBe('canonical');
  });
  it('explains what it cannot tell', () => {
    const e = rondoError(() => detectFormat('a\tb\tc\n'));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toMatch(/3 tab-separated columns/);
    expect(rondoError(() => detectFormat('{\n  "v100": {}\n}')).message).toMatch(/throughput file/);
    expect(rondoError(() => detectFormat('\n  \n')).code).toBe('E_EMPTY');
  });
  it('resolves format names and aliases', () => {
    expect(parseTraceFormat('msr')).toBe('gavel-msr');
    expect(parseTraceFormat('JSONL')).toBe('canonical');
    expect(rondoError(() => parseTraceFormat('csv')).code).toBe('E_USAGE');
  });
});

describe('Gavel msr (7 columns)', () => {
  it('reads every column, ids are the line index', () => {
    const { jobs, format } = parseJobs(MSR);
    expect(format).toBe('gavel-msr');
    expect(jobs).toHaveLength(3);
    expect(jobs[0]).toEqual({
      id: '0',
      jobType: 'Transformer (batch size 128)',
      scaleFactor: 1,
      arrivalTime: 0,
      totalSteps: 95121,
      priorityWeight: 1,
      command: 'cd %s/x && python3 train.py -batch_size 128',
      numStepsArg: '-step',
      needsDataDir: true,
    });
    // Trailing space in the command is data, kept as is.
    expect(jobs[2]!.command).toBe('python3 main.py ');
    expect(jobs[2]!.needsDataDir).toBe(false);
    expect(jobs[2]!.totalSteps).toBe(2500.5);
    expect(jobs[2]!.scaleFactor).toBe(32);
  });
  it('sorts unsorted arrivals stably, keeping ids', () => {
    const text = [
      'A3C\tc\t-n\t1\t10\t50\t1',
      'A3C\tc\t-n\t1\t11\t10\t1',
      'A3C\tc\t-n\t1\t12\t10\t1',
      'A3C\tc\t-n\t1\t13\t60\t1',
    ].join('\n');
    const r = parseJobs(text);
    expect(r.jobs.map((j) => j.id)).toEqual(['1', '2', '0', '3']);
    expect(r.reordered).toBe(3);
    const e = rondoError(() => parseJobs(text, { arrivalOrder: 'error', file: 't.trace' }));
    expect(e.code).toBe('E_UNSORTED');
    expect(e.line).toBe(2);
  });
});

describe('Gavel 10 columns', () => {
  it('reads priority, SLO (-1 = none) and arrival', () => {
    const { jobs } = parseJobs(GAVEL10);
    expect(jobs[0]).toMatchObject({ id: '0', scaleFactor: 4, totalSteps: 925982, arrivalTime: 0, priorityWeight: 1, workingDirectory: 'image_classification/cifar10' });
    expect(jobs[0]!.sloFactor).toBeUndefined();
    expect(jobs[1]).toMatchObject({ id: '1', priorityWeight: 2.5, sloFactor: 1.2, arrivalTime: 30.5 });
  });
});

describe('Shockwave 12 columns', () => {
  it('reads mode and duration, CRLF line ends', () => {
    const { jobs, format } = parseJobs(SHOCKWAVE);
    expect(format).toBe('shockwave');
    expect(jobs[1]).toMatchObject({ id: '1', mode: 'accordion', durationS: 3338, arrivalTime: 55, scaleFactor: 2, totalSteps: 143450 });
    expect(jobs[0]!.mode).toBe('gns');
  });
  it('refuses an unknown mode at its column', () => {
    const e = rondoError(() => parseJobs(SHOCKWAVE.replace('gns', 'elastic'), { file: 's.trace' }));
    expect(e.code).toBe('E_RANGE');
    expect(e.file).toBe('s.trace');
    expect(e.line).toBe(1);
    expect(e.column).toBe(SHOCKWAVE.split('\t').slice(0, 7).join('\t').length + 2);
    expect(e.message).toMatch(/static \| accordion \| gns/);
  });
});

describe('Gavel generator JSON', () => {
  const json = JSON.stringify([
    { job_id: 0, arrival_time: 0, job_type: 'A3C', scale_factor: 1, total_steps: 1646636.2758419, duration_s: 68344.35, priority_weight: 1.0, SLO: null },
    { job_id: 1, arrival_time: 489.17, job_type: 'LM (batch size 5)', scale_factor: 2, total_steps: 10, duration_s: 20, priority_weight: 2, SLO: 1.5 },
  ], null, 1);
  it('keeps exact steps and durations', () => {
    const { jobs, format } = parseJobs(json);
    expect(format).toBe('gavel-json');
    expect(jobs[0]).toEqual({ id: '0', jobType: 'A3C', scaleFactor: 1, arrivalTime: 0, totalSteps: 1646636.2758419, durationS: 68344.35, priorityWeight: 1 });
    expect(jobs[1]).toMatchObject({ sloFactor: 1.5, priorityWeight: 2 });
  });
  it('places errors on the element and key', () => {
    const bad = json.replace('"scale_factor": 2', '"scale_factor": "2"');
    const e = rondoError(() => parseJobs(bad));
    expect(e.code).toBe('E_SCHEMA');
    expect(e.line).toBe(bad.split('\n').findIndex((l) => l.includes('"scale_factor": "2"')) + 1);
    expect(e.column).toBe(3);
    const dup = json.replace('"job_id": 1', '"job_id": 0');
    expect(rondoError(() => parseJobs(dup)).code).toBe('E_DUPLICATE');
  });
});

describe('canonical JSON Lines', () => {
  const header = '{"rondoJobs":1,"source":"x.trace","seed":0,"referenceGpuType":"v100"}';
  const job = '{"id":"a","jobType":"A3C","scaleFactor":2,"arrivalTime":5,"durationS":3600,"referenceGpuType":"K80","tenant":"t1","user":"u","gpuTypes":["V100","k80"],"deadlineS":7200,"mode":"static"}';
  it('reads the header and every field', () => {
    const r = parseJobs(`${header}\n${job}\n\n`);
    expect(r.format).toBe('canonical');
    expect(r.header).toEqual({ rondoJobs: 1, source: 'x.trace', seed: 0, referenceGpuType: 'v100' });
    expect(r.jobs[0]).toEqual({
      id: 'a', jobType: 'A3C', scaleFactor: 2, arrivalTime: 5, durationS: 3600, referenceGpuType: 'k80', priorityWeight: 1,
      deadlineS: 7200, tenant: 't1', user: 'u', gpuTypes: ['v100', 'k80'], mode: 'static',
    });
  });
  it('refuses unknown fields, wrong types and misplaced headers with line and column', () => {
    let e = rondoError(() => parseJobs(`${header}\n${job.replace('"tenant"', '"tennant"')}`, { file: 'j.jsonl' }));
    expect([e.code, e.file, e.line]).toEqual(['E_SCHEMA', 'j.jsonl', 2]);
    expect(e.column).toBe(job.indexOf('"tenant"') + 1);
    e = rondoError(() => parseJobs(job.replace('"scaleFactor":2', '"scaleFactor":"2"')));
    expect([e.code, e.line, e.column]).toEqual(['E_SCHEMA', 1, job.indexOf('"scaleFactor"') + 1]);
    e = rondoError(() => parseJobs(`${job}\n${header}`));
    expect([e.code, e.line]).toEqual(['E_SCHEMA', 2]);
    e = rondoError(() => parseJobs(`${job}\n${job}`));
    expect([e.code, e.line]).toEqual(['E_DUPLICATE', 2]);
    e = rondoError(() => parseJobs(`${job}\n{"id":"b",`));
    expect([e.code, e.line]).toEqual(['E_JSON', 2]);
    e = rondoError(() => parseJobs(header));
    expect(e.code).toBe('E_EMPTY');
    const huge = '{"id":"b","jobType":"A3C","scaleFactor":1,"arrivalTime":1e400,"totalSteps":5}';
    e = rondoError(() => parseJobs(huge));
    expect([e.code, e.line, e.column]).toEqual(['E_RANGE', 1, huge.indexOf('"arrivalTime"') + 1]);
    e = rondoError(() => parseJobs('{"id":"b","jobType":"A3C","scaleFactor":1,"arrivalTime":1}'));
    expect(e.code).toBe('E_INVALID');
  });
  it('writes and reads back every field', () => {
    const r = parseJobs(`${header}\n${job}`);
    const { text, lost } = formatJobs(r.jobs, 'canonical', { header: r.header });
    expect(lost).toEqual([]);
    const back = parseJobs(text);
    expect(back.jobs).toEqual(r.jobs);
    expect(back.header).toEqual(r.header);
  });
});

describe('bad tab-separated input', () => {
  const line = 'A3C\tc\t-n\t1\t100\t6\t1';
  const cases: Array<[string, string, string, number]> = [
    ['dropped column', 'A3C\tc\t-n\t1\t100\t6', 'E_COLUMNS', 17],
    ['NaN steps', 'A3C\tc\t-n\t1\tNaN\t6\t1', 'E_NUMBER', 12],
    ['negative steps', 'A3C\tc\t-n\t1\t-5\t6\t1', 'E_RANGE', 12],
    ['overflowing arrival', 'A3C\tc\t-n\t1\t100\t1e400\t1', 'E_NUMBER', 16],
    ['huge arrival', 'A3C\tc\t-n\t1\t100\t1e300\t1', 'E_RANGE', 16],
    ['fractional GPUs', 'A3C\tc\t-n\t1\t100\t6\t1.5', 'E_NUMBER', 18],
    ['zero GPUs', 'A3C\tc\t-n\t1\t100\t6\t0', 'E_RANGE', 18],
    ['needs_data_dir 2', 'A3C\tc\t-n\t2\t100\t6\t1', 'E_NUMBER', 10],
    ['hex number', 'A3C\tc\t-n\t1\t0x10\t6\t1', 'E_NUMBER', 12],
    ['empty job type', '\tc\t-n\t1\t100\t6\t1', 'E_RANGE', 1],
  ];
  it.each(cases)('%s', (_name, bad, code, column) => {
    const e = rondoError(() => parseJobs(`${line}\n${bad}\n`, { format: 'gavel-msr', file: 'f' }));
    expect(e.code).toBe(code);
    expect(e.line).toBe(2);
    expect(e.column).toBe(column);
    expect(e.message).toMatch(/^f:2:\d+: /);
  });
  it('reports a wrong column count on later lines', () => {
    const e = rondoError(() => parseJobs(`${line}\n${line}\textra\n`));
    expect([e.code, e.line, e.column, e.found]).toEqual(['E_COLUMNS', 2, line.length + 2, '8']);
  });
  it('handles a pathological number field quickly (no regex backtracking)', () => {
    // Backtracking on 100,000 digits is quadratic or worse (minutes); 5 s is far from both that and a loaded CI machine.
    const t0 = performance.now();
    const e = rondoError(() => parseJobs(`A3C\tc\t-n\t1\t${'1'.repeat(100_000)}x\t6\t1`));
    expect(e.code).toBe('E_NUMBER');
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});

describe('writers', () => {
  it('writes Gavel 10 columns and says what is lost', () => {
    const { jobs } = parseJobs(SHOCKWAVE);
    const { text, lost } = formatJobs(jobs, 'gavel');
    expect(lost).toEqual(['durationS (2 jobs)', 'mode (2 jobs)']);
    const back = parseJobs(text);
    expect(back.format).toBe('gavel');
    expect(back.jobs.map((j) => [j.id, j.totalSteps, j.arrivalTime, j.scaleFactor])).toEqual(jobs.map((j) => [j.id, j.totalSteps, j.arrivalTime, j.scaleFactor]));
  });
  it('refuses jobs a tab format cannot express', () => {
    const { jobs } = parseJobs('{"id":"a","jobType":"A3C","scaleFactor":1,"arrivalTime":0,"durationS":100}');
    const e = rondoError(() => formatJobs(jobs, 'gavel'));
    expect(e.code).toBe('E_INVALID');
    expect(e.message).toMatch(/no total steps/);
    const { jobs: j2 } = parseJobs('{"id":"0","jobType":"A3C","scaleFactor":1,"arrivalTime":0,"totalSteps":1,"command":"a\\tb"}');
    expect(rondoError(() => formatJobs(j2, 'gavel')).message).toMatch(/tab or line break/);
  });
  it('rounds fractional steps for Gavel and reports it', () => {
    const { jobs } = parseJobs('{"id":"0","jobType":"A3C","scaleFactor":1,"arrivalTime":0,"totalSteps":10.6,"durationS":5}');
    const { text, lost } = formatJobs(jobs, 'gavel');
    expect(text.split('\t')[5]).toBe('11');
    expect(lost).toContain('fractional totalSteps (rounded to integers) (1 job)');
  });
});

describe('docs/job.schema.json', () => {
  it('lists exactly the fields the canonical reader accepts', async () => {
    const { readFileSync } = await import('node:fs');
    const { JOB_FIELDS } = await import('../../src/io/index.js');
    const schema = JSON.parse(readFileSync(new URL('../../docs/job.schema.json', import.meta.url), 'utf8')) as {
      properties: Record<string, unknown>;
      required: string[];
    };
    expect(Object.keys(schema.properties)).toEqual([...JOB_FIELDS]);
    expect(schema.required).toEqual(['id', 'jobType', 'scaleFactor', 'arrivalTime']);
    for (const f of schema.required) {
      const e = rondoError(() => parseJobs(JSON.stringify({ id: 'a', jobType: 'A3C', scaleFactor: 1, arrivalTime: 0, totalSteps: 1, [f]: undefined })));
      expect(e.code).toBe('E_SCHEMA');
    }
  });
});
