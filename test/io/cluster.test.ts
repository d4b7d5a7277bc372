import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCluster, parseGpusPerServer } from '../../src/io/index.js';
import { rondoError } from './helpers.js';

describe('cluster specs', () => {
  it('reads type:count lists in order', () => {
    const c = parseCluster('v100:36, P100:36,k80:36');
    expect(c.gpuTypes).toEqual(['v100', 'p100', 'k80']);
    expect(c.totalGpus).toBe(108);
    expect(c.servers).toHaveLength(108);
  });
  it("reads Gavel's positional form as v100:p100:k80", () => {
    const c = parseCluster('500:0:0');
    expect(c.gpus).toEqual({ v100: 500, p100: 0, k80: 0 });
    expect(parseCluster('4:8').gpus).toEqual({ v100: 4, p100: 8 });
    expect(rondoError(() => parseCluster('1:2:3:4')).code).toBe('E_CLUSTER');
  });
  it('applies GPUs per server, one number or per type', () => {
    expect(parseCluster('v100:8,k80:5', '4').servers.map((s) => s.gpus)).toEqual([4, 4, 4, 1]);
    const c = parseCluster('v100:8,k80:5', 'v100=8,k80=2');
    expect(c.servers.map((s) => [s.gpuType, s.gpus])).toEqual([['v100', 8], ['k80', 2], ['k80', 2], ['k80', 1]]);
    expect(parseGpusPerServer('4:2:1')).toEqual({ v100: 4, p100: 2, k80: 1 });
    expect(rondoError(() => parseCluster('v100:8', 'a100=4')).code).toBe('E_UNKNOWN_GPU');
    expect(rondoError(() => parseGpusPerServer('v100:x')).code).toBe('E_CLUSTER');
  });
  it('reads inline JSON and JSON files', () => {
    const c = parseCluster('{"gpus": {"a100": 16, "v100": 8}, "gpusPerServer": {"a100": 8}}');
    expect(c.servers.map((s) => [s.gpuType, s.gpus])).toEqual([['a100', 8], ['a100', 8], ...Array(8).fill(['v100', 1])]);
    const dir = mkdtempSync(join(tmpdir(), 'rondo-cluster-'));
    const f = join(dir, 'c.json');
    writeFileSync(f, '{"gpus": {"v100": 4}, "gpusPerServer": 2}');
    expect(parseCluster(f).servers).toHaveLength(2);
    expect(parseCluster(f, '4').servers).toHaveLength(1);
    writeFileSync(f, '{"gpus": {"v100": 4},\n "gpuPerServer": 2}');
    const e = rondoError(() => parseCluster(f));
    expect([e.code, e.file, e.line, e.column]).toEqual(['E_CLUSTER', f, 2, 2]);
    expect(rondoError(() => parseCluster(join(dir, 'missing.json'))).code).toBe('E_IO');
  });
  it('names the bad part of a spec by column', () => {
    let e = rondoError(() => parseCluster('v100:36,p100:x'));
    expect([e.code, e.column]).toEqual(['E_CLUSTER', 14]);
    e = rondoError(() => parseCluster('v100:36,p100'));
    expect([e.code, e.column]).toEqual(['E_CLUSTER', 9]);
    e = rondoError(() => parseCluster('v100:36,tpu:4', undefined, { knownTypes: ['v100', 'p100', 'k80'] }));
    expect([e.code, e.column]).toEqual(['E_UNKNOWN_GPU', 9]);
    expect(e.message).toMatch(/one of v100, p100, k80/);
    expect(rondoError(() => parseCluster('v100:36,v100:2')).code).toBe('E_CLUSTER');
    expect(rondoError(() => parseCluster('')).code).toBe('E_CLUSTER');
    expect(rondoError(() => parseCluster('v100:-1')).code).toBe('E_CLUSTER');
    expect(rondoError(() => parseCluster('{"gpus": [1]}')).code).toBe('E_CLUSTER');
  });
});
