import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TAB_COLUMNS, bufferToText, checkBytes, formatThroughputs, parseJobs, parseThroughputs, readThroughputs, type TraceFormat } from '../../src/io/index.js';
import { RondoError } from '../../src/model/errors.js';
import { validateJobs } from '../../src/model/job.js';
import { validateThroughputTable, type ThroughputTable } from '../../src/model/throughput.js';
import { ROOT } from './helpers.js';

/** Small valid inputs of every format; the fuzzer breaks them. */
const SAMPLES: Record<Exclude<TraceFormat, never>, string> = {
  'gavel-msr': [
    'Transformer (batch size 128)\tcd %s/x && python3 train.py\t-step\t1\t95121\t0.000000\t1',
    'A3C\tpython3 main.py \t--max-steps\t0\t2500\t6.000000\t4',
    'LM (batch size 10)\tpython main.py\t--steps\t1\t10000\t6.000000\t32',
    'ResNet-18 (batch size 64)\tpython3 main.py\t--num_steps\t1\t1e6\t99.5\t2',
  ].join('\n') + '\n',
  gavel: [
    'ResNet-18 (batch size 128)\tpython3 main.py\timage_classification/cifar10\t--num_steps\t1\t925982\t4\t1\t-1.000000\t0',
    'Transformer (batch size 256)\tpython3 train.py\ttranslation\t-step\t1\t1271\t1\t2.5\t1.2\t30.5',
    'A3C\tpython3 main.py\trl\t--max-steps\t0\t36\t8\t1\t-1\t31',
  ].join('\n') + '\n',
  shockwave: [
    'LM (batch size 10)\tpython3 main.py --cuda\tlanguage_modeling\t--steps\t1\t134583\t1\tgns\t1\t-1.000000\t1418\t0',
    'ResNet-18 (batch size 32)\tpython3 main.py\tcifar10\t--num_steps\t1\t143450\t2\taccordion\t1\t-1.000000\t3338\t55',
    'ResNet-50 (batch size 64)\tpython3 main.py -j 4\timagenet\t--num_minibatches\t1\t41840\t1\tstatic\t1\t-1.000000\t13462\t64',
  ].join('\n') + '\n',
  'gavel-json': JSON.stringify(
    [
      { job_id: 0, arrival_time: 0, job_type: 'A3C', scale_factor: 1, total_steps: 1646636.27, duration_s: 68344.35, priority_weight: 1.0, SLO: null },
      { job_id: 1, arrival_time: 489.17, job_type: 'LM (batch size 5)', scale_factor: 2, total_steps: 10, duration_s: 20, priority_weight: 2, SLO: 1.5 },
      { job_id: 2, arrival_time: 500, job_type: 'CycleGAN', scale_factor: 4, total_steps: 1000, duration_s: 3600, priority_weight: 1, SLO: -1 },
    ],
    null,
    1,
  ),
  canonical: [
    '{"rondoJobs":1,"source":"x.trace","seed":0}',
    '{"id":"a","jobType":"A3C","scaleFactor":2,"arrivalTime":5,"durationS":3600,"tenant":"t1","gpuTypes":["v100","k80"]}',
    '{"id":"b","jobType":"LM (batch size 5)","scaleFactor":1,"arrivalTime":7,"totalSteps":100,"sloFactor":2,"mode":"gns"}',
    '{"id":"c","jobType":"CycleGAN","scaleFactor":8,"arrivalTime":9.5,"totalSteps":1e5,"deadlineS":1e4,"needsDataDir":true}',
  ].join('\n') + '\n',
};

const BAD_VALUES = ['NaN', '-1', '-5', '1e400', '-1e400', '1e300', '0', '', ' ', 'abc', '1.5', '0x1F', 'Infinity', '1,5', '9'.repeat(400), 'null', '"x"', '[]', '{}', 'true'];
const JOB_TYPES = ['Unknown model', 'A3C', 'x|y', ' ', 'ResNet-18 (batch size 64)'];

type Mutation = { kind: number; a: number; b: number; s: string; bytes: Uint8Array };

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.integer({ min: 0, max: 11 }),
  a: fc.nat(),
  b: fc.nat(),
  s: fc.oneof(fc.constantFrom(...BAD_VALUES), fc.constantFrom(...JOB_TYPES), fc.string({ maxLength: 12 })),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
});

/** Applies one mutation to the bytes of a file: line and column edits, token swaps, byte noise, truncation. */
function mutate(buf: Buffer, m: Mutation): Buffer {
  const text = buf.toString('utf8');
  const lines = text.split('\n');
  const li = lines.length ? m.a % lines.length : 0;
  const line = lines[li] ?? '';
  const cols = line.split('\t');
  const ci = m.b % Math.max(1, cols.length);
  const set = (l: string): Buffer => {
    lines[li] = l;
    return Buffer.from(lines.join('\n'));
  };
  switch (m.kind) {
    case 0: // truncate a line
      return set(line.slice(0, m.b % (line.length + 1)));
    case 1: // drop a column
      cols.splice(ci, 1);
      return set(cols.join('\t'));
    case 2: // add a column
      cols.splice(ci, 0, m.s);
      return set(cols.join('\t'));
    case 3: // replace a column with a bad value or unknown job type
      cols[ci] = m.s;
      return set(cols.join('\t'));
    case 4: {
      // replace a JSON number or string token
      const tokens = [...line.matchAll(/-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|"[^"]*"/g)];
      if (tokens.length === 0) return set(line + m.s);
      const t = tokens[m.b % tokens.length]!;
      return set(line.slice(0, t.index) + m.s + line.slice(t.index! + t[0].length));
    }
    case 5: // duplicate a line (duplicate ids in JSON formats)
      lines.splice(li, 0, line);
      return Buffer.from(lines.join('\n'));
    case 6: {
      // swap two lines (unsorted arrivals)
      const lj = m.b % lines.length;
      [lines[li], lines[lj]] = [lines[lj]!, lines[li]!];
      return Buffer.from(lines.join('\n'));
    }
    case 7: {
      // random bytes (NUL, invalid UTF-8, control characters) at a byte offset
      const at = m.a % (buf.length + 1);
      return Buffer.concat([buf.subarray(0, at), Buffer.from(m.bytes), buf.subarray(at)]);
    }
    case 8: // truncate the file
      return buf.subarray(0, m.a % (buf.length + 1));
    case 9: // empty
      return Buffer.alloc(0);
    case 10: // delete a line
      lines.splice(li, 1);
      return Buffer.from(lines.join('\n'));
    default: {
      // swap the arrival columns of two lines (tab formats: last or 6th column)
      const lj = m.b % lines.length;
      const a = lines[li]!.split('\t');
      const b = (lines[lj] ?? '').split('\t');
      const k = a.length === 7 ? 5 : a.length - 1;
      if (b.length !== a.length) return buf;
      [a[k], b[k]] = [b[k]!, a[k]!];
      lines[li] = a.join('\t');
      lines[lj] = b.join('\t');
      return Buffer.from(lines.join('\n'));
    }
  }
}

function expectPlacedError(e: unknown): void {
  if (!(e instanceof RondoError)) throw e;
  expect(e.code).toMatch(/^E_[A-Z_]+$/);
  expect(Number.isInteger(e.line) && e.line! >= 1, `line of ${e.message}`).toBe(true);
  expect(Number.isInteger(e.column) && e.column! >= 1, `column of ${e.message}`).toBe(true);
}

/**
 * Oracle for tab formats: a job the reader accepted must say exactly what its line says (no parseInt-style partial
 * reads, no swapped columns).
 */
function checkAgainstColumns(buf: Buffer, format: TraceFormat, jobs: ReturnType<typeof parseJobs>['jobs']): void {
  if (format !== 'gavel-msr' && format !== 'gavel' && format !== 'shockwave') return;
  const names = TAB_COLUMNS[format];
  const rows = buf
    .toString('utf8')
    .replace(/^\ufeff/, '')
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '');
  expect(jobs).toHaveLength(rows.length);
  for (const j of jobs) {
    const cols = rows[Number(j.id)]!.split('\t');
    const col = (n: string): string => cols[names.indexOf(n as never)]!;
    expect(j.jobType).toBe(col('jobType'));
    expect(j.scaleFactor).toBe(Number(col('scaleFactor')));
    expect(j.arrivalTime).toBe(Number(col('arrivalTime')));
    expect(j.totalSteps).toBe(Number(col('totalSteps')));
    if (names.includes('durationS')) expect(j.durationS).toBe(Number(col('durationS')));
    if (names.includes('priorityWeight')) expect(j.priorityWeight).toBe(Number(col('priorityWeight')));
  }
}

describe('fuzzing the readers (seeded)', () => {
  for (const [format, sample] of Object.entries(SAMPLES) as Array<[TraceFormat, string]>) {
    it(`${format}: mutated input parses into valid jobs or fails with a placed RondoError`, () => {
      let accepted = 0;
      fc.assert(
        fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (ms) => {
          let buf: Buffer = Buffer.from(sample);
          for (const m of ms) buf = mutate(buf, m);
          let r: ReturnType<typeof parseJobs>;
          try {
            r = parseJobs(buf);
          } catch (e) {
            expectPlacedError(e);
            return;
          }
          accepted++;
          validateJobs(r.jobs);
          for (let i = 1; i < r.jobs.length; i++) expect(r.jobs[i]!.arrivalTime).toBeGreaterThanOrEqual(r.jobs[i - 1]!.arrivalTime);
          checkAgainstColumns(buf, r.format, r.jobs);
        }),
        { seed: 20_201_104, numRuns: 400 },
      );
      // The mutations must leave some inputs valid, or the property above tests only the error path.
      expect(accepted).toBeGreaterThan(10);
    });
  }

  it('throughput JSON: mutated input parses into a valid table or fails with a placed RondoError', () => {
    // A small slice of Gavel's matrix: 3 keys on every type, keeping their pair entries among themselves.
    const full = readThroughputs(`${ROOT}data/gavel/simulation_throughputs.json`);
    const keep = ['A3C|1', 'ResNet-18 (batch size 64)|1', 'LM (batch size 10)|2'];
    const slice = (byType: ThroughputTable['consolidated']): ThroughputTable['consolidated'] =>
      Object.fromEntries(
        Object.entries(byType).map(([t, es]) => [
          t,
          Object.fromEntries(
            keep.filter((k) => es[k]).map((k) => [k, { isolated: es[k]!.isolated, colocated: Object.fromEntries(Object.entries(es[k]!.colocated).filter(([o]) => keep.includes(o))) }]),
          ),
        ]),
      );
    const sample = formatThroughputs({ gpuTypes: full.gpuTypes, consolidated: slice(full.consolidated), unconsolidated: slice(full.unconsolidated) });
    let accepted = 0;
    fc.assert(
      fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (ms) => {
        let buf: Buffer = Buffer.from(sample);
        for (const m of ms) buf = mutate(buf, m);
        let t: ThroughputTable;
        try {
          // As readThroughputs does with a file's bytes.
          checkBytes(buf, 'fuzz.json');
          t = parseThroughputs(bufferToText(buf, 'fuzz.json'), 'fuzz.json');
        } catch (e) {
          expectPlacedError(e);
          return;
        }
        accepted++;
        validateThroughputTable(t);
      }),
      { seed: 20_201_104, numRuns: 500 },
    );
    // Most edits break JSON syntax; a few (a number swapped for another) must still pass.
    expect(accepted).toBeGreaterThan(5);
  });
});
