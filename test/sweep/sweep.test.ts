import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPolicyName } from '../../src/policies/index.js';
import {
  definitionHash,
  expandGrid,
  getPreset,
  mergeSweeps,
  parseNumberList,
  parseShard,
  pointFile,
  runPoint,
  runSweep,
  shardPoints,
  type SweepDefinition,
} from '../../src/sweep/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'rondo-sweep-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Tiny generated workload: 10 jobs on a 6-GPU cluster, drained, run in a fraction of a second.
const tiny: SweepDefinition = {
  base: { generate: true, limit: '10', cluster: 'v100:2,p100:2,k80:2' },
  policies: ['max_min_fairness', 'max_min_fairness_perf'],
  rates: [2, 4],
  seeds: [0, 1],
  vary: [],
  timelineMaxJobs: 50,
};

describe('grid', () => {
  it('parses ranges and lists', () => {
    expect(parseNumberList('rates', '0.4:7.2:0.4')).toHaveLength(18);
    expect(parseNumberList('rates', '0.4:7.2:0.4').at(-1)).toBe(7.2);
    expect(parseNumberList('rates', '1,2.5')).toEqual([1, 2.5]);
    expect(parseNumberList('seeds', '0-2', { integer: true })).toEqual([0, 1, 2]);
    expect(() => parseNumberList('seeds', '2-0', { integer: true })).toThrow(/bad seeds/);
    expect(() => parseNumberList('rates', '1,x')).toThrow(/bad rates/);
    expect(() => parseNumberList('rates', '1,1')).toThrow(/bad rates/);
  });

  it('expands policies x rates x seeds x vary in grid order with unique keys', () => {
    const def = { ...tiny, vary: [{ flag: 'round', values: ['120', '360'] }] };
    const pts = expandGrid(def);
    expect(pts).toHaveLength(2 * 2 * 2 * 2);
    expect(new Set(pts.map((p) => p.key)).size).toBe(pts.length);
    expect(pts.map((p) => p.index)).toEqual(pts.map((_, i) => i));
    expect(pts[0]!.flags).toMatchObject({ rate: '2', seed: '0', round: '120', limit: '10' });
    expect(pts[1]!.flags.round).toBe('360');
    expect(pts.at(-1)!).toMatchObject({ policy: 'max_min_fairness_perf', rate: 4, seed: 1 });
    expect(() => expandGrid({ ...tiny, vary: [{ flag: 'seed', values: ['1'] }] })).toThrow(/--seeds/);
    const b = expandGrid({ ...tiny, vary: [{ flag: 'multiGpu', values: ['true', 'false'] }] });
    expect([b[0]!.flags.multiGpu, b[1]!.flags.multiGpu]).toEqual([true, false]);
  });

  it('hashes definitions independently of key order and preset name', () => {
    const a = definitionHash(tiny);
    expect(definitionHash({ ...tiny, preset: 'x', base: { cluster: 'v100:2,p100:2,k80:2', limit: '10', generate: true } })).toBe(a);
    expect(definitionHash({ ...tiny, seeds: [0] })).not.toBe(a);
  });

  it('shards partition the grid', () => {
    const pts = expandGrid(getPreset('gavel-fig8').definition);
    expect(pts).toHaveLength(3 * 18 * 3);
    for (const n of [1, 2, 3, 7]) {
      const seen = new Map<number, number>();
      for (let i = 0; i < n; i++) for (const p of shardPoints(pts, { index: i, count: n })) seen.set(p.index, (seen.get(p.index) ?? 0) + 1);
      expect(seen.size).toBe(pts.length);
      expect([...seen.values()].every((c) => c === 1)).toBe(true);
    }
    expect(parseShard('1/4')).toEqual({ index: 1, count: 4 });
    expect(() => parseShard('4/4')).toThrow(/bad --shard/);
  });

  it('the gavel-fig8 preset is the published setting: LAS agnostic, aware, aware with space sharing', () => {
    const p = getPreset('gavel-fig8');
    expect(p.definition.policies).toEqual(['max_min_fairness', 'max_min_fairness_perf', 'max_min_fairness_packed']);
    expect(p.missing).toBeUndefined();
    expect(p.definition.base).toMatchObject({ window: '4000:5000', cluster: 'v100:36,p100:36,k80:36', round: '360' });
    expect(p.definition.rates[0]).toBe(0.4);
    expect(p.definition.rates.at(-1)).toBe(7.2);
    expect(() => getPreset('nope')).toThrow(/unknown preset/);
  });

  it('the FIFO and finish-time-fairness presets name their three curves; unregistered ones are missing, not replaced', () => {
    for (const [name, curves] of [
      ['gavel-fig8-fifo', ['fifo', 'fifo_perf', 'fifo_packed']],
      ['gavel-fig8-ftf', ['finish_time_fairness', 'finish_time_fairness_perf', 'finish_time_fairness_packed']],
    ] as const) {
      const p = getPreset(name);
      const missing = (p.missing ?? []).map((m) => m.policy);
      expect([...p.definition.policies, ...missing].sort()).toEqual([...curves].sort());
      for (const m of missing) expect(isPolicyName(m)).toBe(false);
      for (const q of p.definition.policies) expect(isPolicyName(q)).toBe(true);
    }
  });
});

describe('points', () => {
  it('the same point twice gives the same bytes', async () => {
    const p = expandGrid(tiny)[1]!;
    const a = await runPoint(p, 'h', { timelineMaxJobs: 50 });
    const b = await runPoint(p, 'h', { timelineMaxJobs: 50 });
    expect(JSON.stringify(a.doc)).toBe(JSON.stringify(b.doc));
    expect(a.doc.command).toMatch(/^rondo simulate --policy max_min_fairness .*--rate 2 .*--seed 1/);
    expect(a.doc.timeline?.jobs.length).toBe((a.doc.jobs as unknown[]).length);
    // Every job ran in at least one round, on a GPU type of the cluster.
    for (const j of a.doc.timeline!.jobs) {
      expect(j.rounds.length).toBeGreaterThan(0);
      expect(j.types.every((t) => t >= 0 && t < 3)).toBe(true);
    }
  });
});

describe('runSweep on worker threads', () => {
  const dir = join(tmp, 'full');

  it('runs every point, writes one file each and a summary, then resumes with nothing to do', async () => {
    const seen: number[] = [];
    const out = await runSweep({ definition: tiny, outDir: dir, jobs: 2, onProgress: (p) => seen.push(p.done) });
    expect(out.failed).toEqual([]);
    expect(out.ran).toBe(8);
    expect(seen.at(-1)).toBe(8);
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Array<{ policy: string; rate: number; seed: number; avgJctHours: number }>;
    expect(summary).toHaveLength(8);
    expect(summary[0]).toMatchObject({ policy: 'max_min_fairness', rate: 2, seed: 0 });
    expect(summary.every((r) => r.avgJctHours > 0)).toBe(true);
    const again = await runSweep({ definition: tiny, outDir: dir, jobs: 2 });
    expect(again).toMatchObject({ ran: 0, skipped: 8 });
  });

  it('a worker result equals the in-process result byte for byte', async () => {
    const p = expandGrid(tiny)[5]!;
    const local = await runPoint(p, definitionHash(tiny), { timelineMaxJobs: 50 });
    expect(readFileSync(pointFile(dir, p.key), 'utf8')).toBe(`${JSON.stringify(local.doc)}\n`);
  });

  it('resume reruns only missing points; leftover temp files are removed', async () => {
    const victim = expandGrid(tiny)[3]!;
    const before = readFileSync(pointFile(dir, victim.key));
    rmSync(pointFile(dir, victim.key));
    writeFileSync(join(dir, 'points', `.${victim.key}.json.123.tmp`), '{"half":');
    const out = await runSweep({ definition: tiny, outDir: dir, jobs: 1 });
    expect(out).toMatchObject({ ran: 1, skipped: 7 });
    expect(readFileSync(pointFile(dir, victim.key)).equals(before)).toBe(true);
    expect(readdirSync(join(dir, 'points')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses to mix sweeps in one directory', async () => {
    await expect(runSweep({ definition: { ...tiny, seeds: [5] }, outDir: dir })).rejects.toThrow(/different sweep/);
  });

  it('stops on abort without partial files, and a rerun completes', async () => {
    const d = join(tmp, 'abort');
    const ac = new AbortController();
    const def = { ...tiny, seeds: [0, 1, 2] };
    const out = await runSweep({
      definition: def,
      outDir: d,
      jobs: 2,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.done === 1) ac.abort();
      },
    });
    expect(out.interrupted).toBe(true);
    const files = readdirSync(join(d, 'points'));
    // Workers are terminated mid-point: only the point reported before the abort is on disk.
    expect(files).toHaveLength(1);
    for (const f of files) expect(() => JSON.parse(readFileSync(join(d, 'points', f), 'utf8'))).not.toThrow();
    const rest = await runSweep({ definition: def, outDir: d, jobs: 2 });
    expect(rest.skipped + rest.ran).toBe(12);
    expect(rest.skipped).toBe(files.length);
  });

  it('bad flags are a user error', async () => {
    await expect(
      runSweep({ definition: { ...tiny, base: { ...tiny.base, cluster: 'nonsense' } }, outDir: join(tmp, 'bad'), jobs: 1 }),
    ).rejects.toThrow(/sweep point/);
  });
});

describe('shards and merge', () => {
  it('shards run separately merge into the full sweep, identical to an unsharded run', async () => {
    const a = join(tmp, 's0');
    const b = join(tmp, 's1');
    await runSweep({ definition: tiny, outDir: a, jobs: 1, shard: { index: 0, count: 2 } });
    await runSweep({ definition: tiny, outDir: b, jobs: 1, shard: { index: 1, count: 2 } });
    expect(readdirSync(join(a, 'points'))).toHaveLength(4);
    const m = join(tmp, 'merged');
    const partial = mergeSweeps([a], join(tmp, 'partial'));
    expect(partial.missing).toHaveLength(4);
    const out = mergeSweeps([a, b], m);
    expect(out).toMatchObject({ total: 8, present: 8, missing: [] });
    expect(readFileSync(join(m, 'summary.json'), 'utf8')).toBe(readFileSync(join(tmp, 'full', 'summary.json'), 'utf8'));
    expect(existsSync(join(m, 'log.jsonl'))).toBe(true);
  });

  it('refuses mismatched sweeps and conflicting points', async () => {
    const other = join(tmp, 'other');
    await runSweep({ definition: { ...tiny, seeds: [3], policies: ['fifo'], rates: [2] }, outDir: other, jobs: 1 });
    expect(() => mergeSweeps([join(tmp, 's0'), other], join(tmp, 'm2'))).toThrow(/different sweep/);
    const s1 = join(tmp, 's1');
    const p = expandGrid(tiny)[1]!;
    const doc = JSON.parse(readFileSync(pointFile(s1, p.key), 'utf8')) as Record<string, unknown>;
    writeFileSync(pointFile(join(tmp, 's0'), p.key), JSON.stringify({ ...doc, workload: 'tampered' }));
    expect(() => mergeSweeps([join(tmp, 's0'), s1], join(tmp, 'm3'))).toThrow(/differs/);
  });
});
