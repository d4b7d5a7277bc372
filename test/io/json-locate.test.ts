import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonErrorOffset, locateJsonPath, parseJobs, parseJsonText, parseThroughputs } from '../../src/io/index.js';
import { rondoError } from './helpers.js';

describe('JSON error positions', () => {
  it('agrees with JSON.parse on what is valid (seeded)', () => {
    const fragments = ['{', '}', '[', ']', ',', ':', '"a"', '"\\u00e9"', '"\\x"', '1', '-0.5e3', '01', 'true', 'nul', 'NaN', ' ', '\n', '"', '\\'];
    fc.assert(
      fc.property(fc.oneof(fc.array(fc.constantFrom(...fragments), { maxLength: 12 }).map((a) => a.join('')), fc.json()), (text) => {
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        expect(jsonErrorOffset(text) === -1).toBe(valid);
      }),
      { seed: 7, numRuns: 2000 },
    );
  });
  it('places errors V8 gives no position for', () => {
    const text = '{\n    "v100": {\n        "(\'A3C\', 1)": {\n            "null": NaN\n        }\n    }\n}';
    const e = rondoError(() => parseThroughputs(text, 'py.json'));
    expect([e.code, e.line, e.column]).toEqual(['E_JSON', 4, 21]);
    expect(rondoError(() => parseJsonText('{"a": tru}', 'x')).column).toBe(7);
  });
  it('locates paths without recursing into deep values', () => {
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const text = `{"v100": {"('A3C', 1)": {"('B', 1)": ${deep}, "null": -1}}}`;
    expect(locateJsonPath(text, ['v100', "('A3C', 1)", 'null'], true)).toBe(text.indexOf('"null"'));
    const e = rondoError(() => parseThroughputs(text));
    expect(['E_RANGE', 'E_SCHEMA']).toContain(e.code);
    expect(e.line).toBe(1);
  });
});

describe('hostile JSON values in error messages', () => {
  it('reports deep values without a stack overflow', () => {
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    let e = rondoError(() => parseThroughputs(`{"v100": {"('A3C', 1)": {"null": 1, "('B', 1)": ${deep}}}}`));
    expect(e.code).toBe('E_SCHEMA');
    expect(e.message).toMatch(/deeply nested array/);
    e = rondoError(() => parseJobs(`{"id":"a","jobType":"A3C","scaleFactor":1,"arrivalTime":0,"totalSteps":1,"tenant":${deep}}`));
    expect([e.code, e.line]).toEqual(['E_SCHEMA', 1]);
  });
});
