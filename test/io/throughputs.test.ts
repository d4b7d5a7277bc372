import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatThroughputs, gavelKey, parseGavelKey, parseThroughputs, pythonFloatRepr, readThroughputs } from '../../src/io/index.js';
import { colocatedThroughput, isolatedThroughput, jobKey, spreadThroughput, validateThroughputTable } from '../../src/model/throughput.js';
import { HAVE_SHARED, ROOT, SHARED, rondoError } from './helpers.js';

const SHIPPED = `${ROOT}data/gavel/simulation_throughputs.json`;

describe('Gavel throughput JSON', () => {
  it('reads the shipped simulation matrix', () => {
    const t = readThroughputs(SHIPPED);
    expect(validateThroughputTable(t)).toBe(t);
    expect(t.gpuTypes).toEqual(['k80', 'p100', 'v100']);
    expect(Object.keys(t.unconsolidated)).toEqual(['v100', 'p100', 'k80']);
    expect(Object.keys(t.consolidated.v100!)).toHaveLength(83);
    expect(Object.keys(t.unconsolidated.k80!)).toHaveLength(77);
    const r18 = jobKey('ResNet-18 (batch size 16)', 1);
    expect(isolatedThroughput(t, 'k80', r18)).toBe(4.795294551566172);
    expect(colocatedThroughput(t, 'k80', r18, jobKey('ResNet-18 (batch size 32)', 1))).toEqual([2.539979567443098, 3.1201925448827033]);
    expect(spreadThroughput(t, 'v100', jobKey('ResNet-50 (batch size 64)', 4))).toBeGreaterThan(0);
  });
  // Parse speed is measured by `npm run bench:io`; a timed assertion here failed on a loaded 2-core machine.
  it('reads the matrix to the same value every time', () => {
    const text = readFileSync(SHIPPED, 'utf8');
    expect(parseThroughputs(text)).toEqual(parseThroughputs(text));
  });
  it('writes Gavel\'s form byte for byte', () => {
    const text = readFileSync(SHIPPED, 'utf8');
    expect(formatThroughputs(parseThroughputs(text))).toBe(text);
  });
  it.skipIf(!HAVE_SHARED)('round-trips every shared throughput file byte for byte (needs ../shared/data; skipped when absent)', () => {
    for (const f of ['gavel/physical_cluster_throughputs.json', 'shockwave/tacc_throughputs.json', 'shockwave/wisr_throughputs.json']) {
      const text = readFileSync(`${SHARED}data/${f}`, 'utf8');
      expect(formatThroughputs(parseThroughputs(text, f)), f).toBe(text);
    }
  });
  it('parses and writes Python tuple keys', () => {
    expect(parseGavelKey("('LM (batch size 10)', 4)")).toEqual({ jobType: 'LM (batch size 10)', scaleFactor: 4 });
    expect(parseGavelKey('("it\'s", 2)')).toEqual({ jobType: "it's", scaleFactor: 2 });
    expect(parseGavelKey("('A3C', 0)")).toBeUndefined();
    expect(parseGavelKey("('A3C' 1)")).toBeUndefined();
    expect(parseGavelKey('A3C|1')).toBeUndefined();
    expect(gavelKey(jobKey('A3C', 8))).toBe("('A3C', 8)");
    expect(gavelKey(jobKey("it's", 8))).toBe('("it\'s", 8)');
  });
  it('writes floats as Python does', () => {
    const cases: Array<[number, string]> = [
      [0, '0.0'], [1, '1.0'], [1.5, '1.5'], [123456789, '123456789.0'], [1e15, '1000000000000000.0'], [1e16, '1e+16'],
      [1.234e16, '1.234e+16'], [1e-4, '0.0001'], [1e-5, '1e-05'], [0.00012345, '0.00012345'], [2.5e-7, '2.5e-07'],
      [4.795294551566172, '4.795294551566172'], [-2, '-2.0'], [1e22, '1e+22'], [123.456, '123.456'],
    ];
    for (const [v, s] of cases) expect(pythonFloatRepr(v), String(v)).toBe(s);
  });
  it('places schema errors on the offending key or value', () => {
    const text = '{\n  "v100": {\n    "(\'A3C\', 1)": {\n      "null": -3\n    }\n  }\n}';
    let e = rondoError(() => parseThroughputs(text, 't.json'));
    expect([e.code, e.file, e.line, e.column]).toEqual(['E_RANGE', 't.json', 4, 15]);
    e = rondoError(() => parseThroughputs(text.replace("('A3C', 1)", 'A3C'), 't.json'));
    expect([e.code, e.line, e.column]).toEqual(['E_SCHEMA', 3, 5]);
    e = rondoError(() => parseThroughputs(text.replace('"null": -3', '"null": 1, "(\'B\', 1)": [1]')));
    expect([e.code, e.line]).toEqual(['E_SCHEMA', 4]);
    e = rondoError(() => parseThroughputs(text.replace('"v100"', '"v100_unconsolidated"').replace('-3', '3')));
    expect(e.code).toBe('E_SCHEMA');
    expect(e.message).toMatch(/no consolidated type/);
    e = rondoError(() => parseThroughputs(text.replace('"v100"', '"V 100"')));
    expect([e.code, e.line, e.column]).toEqual(['E_CLUSTER', 2, 3]);
    e = rondoError(() => parseThroughputs('{"v100": {}, }'));
    expect([e.code, e.line]).toEqual(['E_JSON', 1]);
    e = rondoError(() => parseThroughputs('[]'));
    expect(e.code).toBe('E_SCHEMA');
    e = rondoError(() => parseThroughputs('{}'));
    expect(e.code).toBe('E_SCHEMA');
  });
});
