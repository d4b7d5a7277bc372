import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPolicy, initSolver } from '../../src/policies/index.js';
import { simulate } from '../../src/sim/index.js';
import { buildWorkload } from '../../src/sim/index.js';
import { SIMULATE_DEFAULTS, expandGrid, pointFile, type SummaryRow } from '../../src/sweep/index.js';
import { buildCharts, cdfPoints, jctVsRate, loadReportData, renderHtml, writeReport } from '../../src/report/index.js';
import { register as registerSimulate } from '../../src/cli/commands/simulate.js';
import { ROOT } from '../io/helpers.js';
import { runCommand } from '../io/cli-helpers.js';
import { makeSweepDir, SMALL } from './helpers.js';

const SHOCKWAVE_TRACE = join(ROOT, 'data/shockwave/traces/reproduce/120_0.2_5_100_40_25_0,0.5,0.5_0.6,0.3,0.09,0.01_multigpu_dynamic.trace');

const tmp = mkdtempSync(join(tmpdir(), 'rondo-report-'));
const dir = join(tmp, 'sweep');
beforeAll(async () => makeSweepDir(dir));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('report data', () => {
  it('reads a sweep directory: every row, the runs of one rate', () => {
    const d = loadReportData(dir);
    expect(d.sweepRows).toHaveLength(8);
    // Every run finishes (drained), so the highest rate is drawn, all seeds of both policies.
    expect(d.runs.map((r) => [r.policy, r.rate, r.seed])).toEqual([
      ['max_min_fairness', 3, 0],
      ['max_min_fairness', 3, 1],
      ['max_min_fairness_perf', 3, 0],
      ['max_min_fairness_perf', 3, 1],
    ]);
    expect(loadReportData(dir, { rate: 1 }).runs.every((r) => r.rate === 1)).toBe(true);
    expect(() => loadReportData(dir, { rate: 2 })).toThrow(/no rate 2/);
  });

  it('reads one run file, and refuses other JSON', () => {
    const p = expandGrid(SMALL)[0]!;
    const d = loadReportData(pointFile(dir, p.key));
    expect(d.runs).toHaveLength(1);
    expect(d.runs[0]!.timeline?.jobs.length).toBe(12);
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, '{"hello": 1}');
    expect(() => loadReportData(bad)).toThrow(/not a rondo run file/);
    expect(() => loadReportData(join(tmp, 'missing'))).toThrow(/no such file/);
  });
});

describe('charts', () => {
  it('CDF points rise to 1 and are thinned', () => {
    const pts = cdfPoints([3, 1, 2, 2]);
    expect(pts).toEqual([[1, 0.25], [2, 0.5], [2, 0.75], [3, 1]]);
    const many = cdfPoints(Array.from({ length: 10_000 }, (_, i) => i), 100);
    expect(many.length).toBeLessThanOrEqual(101);
    expect(many.at(-1)).toEqual([9999, 1]);
    for (let i = 1; i < many.length; i++) expect(many[i]![1]).toBeGreaterThan(many[i - 1]![1]);
  });

  it('JCT vs rate draws the mean over seeds and every seed', () => {
    const row = (policy: string, rate: number, seed: number, avg: number): SummaryRow =>
      ({ key: `${policy}${rate}${seed}`, policy, rate, seed, vary: {}, avgJctHours: avg }) as unknown as SummaryRow;
    const c = jctVsRate([row('a', 1, 0, 2), row('a', 1, 1, 4), row('a', 2, 0, 10), row('b', 1, 0, 1)], ['a', 'b']);
    const series = c.option.series as Array<{ name: string; type: string; data: Array<{ value: number[]; symbol?: string }> }>;
    expect(series.find((s) => s.name === 'a' && s.type === 'line')!.data.map((d) => d.value)).toEqual([[1, 3], [2, 10]]);
    expect(series.flatMap((s) => s.data).some((d) => d.symbol !== undefined)).toBe(false);
    expect(c.caption).not.toMatch(/cap/);
    expect(series.find((s) => s.name === 'a' && s.type === 'scatter')!.data).toHaveLength(3);
    expect((c.option.xAxis as { name: string }).name).toMatch(/jobs\/hour/);
    expect((c.option.yAxis as { name: string }).name).toMatch(/hours/);
  });

  it('JCT vs rate leaves saturated rates off the line: an upward arrow at the lower bound, in a shaded band', () => {
    const row = (rate: number, seed: number, avg: number, saturated = false, bound = avg): SummaryRow =>
      ({ key: `a${rate}${seed}`, policy: 'a', rate, seed, vary: {}, avgJctHours: avg, avgJctLowerBoundHours: bound, saturated }) as unknown as SummaryRow;
    // The saturated seed's finished jobs average 30 h, but its bound (120 h) is what the chart must use.
    const rows = [row(1, 0, 2), row(1, 1, 4), row(2, 0, 50), row(2, 1, 30, true, 120)];
    const c = jctVsRate(rows, ['a']);
    type S = { name: string; type: string; symbol?: string; data: Array<{ value: number[]; symbol?: string }>; markArea?: { data: Array<Array<{ yAxis: number }>> } };
    const series = c.option.series as S[];
    // The line stops before the saturated rate (a plateau at the cap would hide the knee).
    expect(series.find((s) => s.type === 'line' && s.name === 'a')!.data.map((d) => d.value)).toEqual([[1, 3]]);
    const arrows = series.find((s) => s.symbol === 'arrow')!;
    expect(arrows.data.map((d) => d.value)).toEqual([[2, 85]]);
    // Seeds' dots: only the complete runs; the saturated one is in the arrow's mean.
    const dots = series.filter((s) => s.type === 'scatter' && s.symbol !== 'arrow').flatMap((s) => s.data.map((d) => d.value));
    expect(dots).toEqual([[1, 2], [1, 4], [2, 50]]);
    const band = series.find((s) => s.name === 'saturated')!.markArea!.data[0]!;
    expect(band[0]!.yAxis).toBe(85);
    expect(band[1]!.yAxis).toBeGreaterThan(120);
    expect(c.caption).toMatch(/JCT cap/);
    const html = renderHtml({ title: 't', subtitle: 's', runs: [], notes: [], sweepRows: rows } as unknown as Parameters<typeof renderHtml>[0], []);
    expect(html).toContain('≥ 85.00');
    expect(html).toContain('3.00</td>');
  });

  it('a sweep report has every chart, inline, with no script or remote resource', () => {
    const d = loadReportData(dir);
    const ids = buildCharts(d).map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(['jct-vs-rate', 'jct-cdf', 'ftf-cdf']));
    expect(ids.filter((i) => i.startsWith('util-'))).toHaveLength(2);
    expect(ids.filter((i) => i.startsWith('timeline-'))).toHaveLength(2);
    const html = renderHtml(d);
    expect(html.match(/<figure class="chart"/g)).toHaveLength(ids.length);
    expect(html.match(/<svg/g)!.length).toBe(ids.length);
    expect(html).not.toMatch(/<script|<link|<img|\ssrc=|@import|url\(http/i);
    expect(html).toContain('Input job rate (jobs/hour)');
    expect(html).toContain('#0072B2');
  });

  it('writes one SVG or PNG per chart', () => {
    const d = loadReportData(dir);
    const svgs = writeReport(d, join(tmp, 'svg'), 'svg');
    expect(svgs.length).toBe(buildCharts(d).length);
    expect(readFileSync(svgs[0]!, 'utf8')).toMatch(/^<svg/);
    const pngs = writeReport(d, join(tmp, 'png'), 'png');
    expect(readdirSync(join(tmp, 'png'))).toHaveLength(pngs.length);
    expect(readFileSync(pngs[0]!).subarray(1, 4).toString()).toBe('PNG');
  });
});

describe('timeline recorded by the simulator', () => {
  it('agrees with the engine round by round, leaves the run unchanged, and is dropped past its job limit', async () => {
    await initSolver();
    const w = buildWorkload({ ...SIMULATE_DEFAULTS, generate: true, rate: '2', limit: '10', cluster: 'v100:2,p100:2,k80:2' } as never);
    const input = { ...w.base, policy: getPolicy('max_min_fairness_perf') };
    const out = await simulate({ ...input, timelineMaxJobs: 10 });
    const tl = out.timeline!;
    expect(tl).toBeDefined();
    expect(tl.gpuTypes).toEqual(['v100', 'p100', 'k80']);
    for (const [i, j] of tl.jobs.entries()) {
      const rec = out.result.jobs[i]!;
      expect(j.id).toBe(rec.id);
      // The rounds a job ran add up to its run time (each round at most once, never before arrival).
      expect(j.rounds.length).toBe(rec.roundsRun);
      expect(new Set(j.rounds).size).toBe(j.rounds.length);
      for (const r of j.rounds) expect(tl.roundStart[r]!).toBeGreaterThanOrEqual(rec.arrivalTime);
      expect(j.types.every((k) => k >= 0 && k < 3)).toBe(true);
    }
    // Per round, as many jobs ran as the engine's own per-round record says.
    for (const info of out.result.timeline.filter((r) => r.round >= 0)) {
      expect(tl.jobs.filter((j) => j.rounds.includes(info.round)).length, `round ${info.round}`).toBe(info.runningJobs);
      expect(tl.roundStart[info.round]).toBe(info.start);
    }
    // Recording changes nothing, and a run with more jobs than the limit gets no timeline.
    const plain = await simulate(input);
    expect(plain.timeline).toBeUndefined();
    expect(JSON.stringify(plain.result.jobs)).toBe(JSON.stringify(out.result.jobs));
    expect((await simulate({ ...input, timelineMaxJobs: 9 })).timeline).toBeUndefined();
  });

  it('goes into the run file of rondo simulate --out, batch sizes that change included, and the report draws it', async () => {
    // Shockwave's 120-job trace: its jobs change batch size as they train (gns, accordion).
    const file = join(tmp, 'run.json');
    await runCommand(registerSimulate, [
      'simulate', '--trace', SHOCKWAVE_TRACE, '--throughputs', join(ROOT, 'data/shockwave/tacc_throughputs.json'), '--cluster', 'v100:32',
      '--round', '120', '--realloc-interval', '0', '--policy', 'max_min_fairness_perf', '--out', file, '--quiet',
    ]);
    const d = loadReportData(file);
    const tl = d.runs[0]!.timeline!;
    expect(tl.jobs).toHaveLength(120);
    expect(tl.jobs.every((j) => j.rounds.length > 0)).toBe(true);
    expect(buildCharts(d).some((c) => c.id.startsWith('timeline-'))).toBe(true);
  });
});
