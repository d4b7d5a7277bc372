/**
 * Report figures fit for a paper (issue 24, findings 5 and 6): readable policy names, ρ on a log axis with a ρ = 1
 * line, the per-job timeline windowed to the measured jobs, the setup printed in the HTML and in every SVG/PNG, one
 * colour per GPU type shared with the dashboard, and no local directory anywhere.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCharts, gpuTypeColor, loadReportData, policyName, renderHtml, renderSvg, rhoCdf, setupLines, timelineChart, writeReport, type RunData } from '../../src/report/index.js';
import { makeSweepDir } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'rondo-figures-'));
const dir = join(tmp, 'a-very-private-directory', 'sweep');
beforeAll(async () => makeSweepDir(dir));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(over: Partial<RunData> = {}): RunData {
  return { label: 'x', policy: 'max_min_fairness_perf', seed: 0, rate: 2, gpuTypes: ['v100', 'k80'], jobs: [], hourly: [], summary: {}, ...over };
}

describe('report figures', () => {
  it("names policies as Gavel's paper does, keeping unknown ids", () => {
    expect(policyName('max_min_fairness')).toBe('LAS');
    expect(policyName('max_min_fairness_perf')).toBe('Gavel (LAS)');
    expect(policyName('finish_time_fairness')).toBe('FTF (Themis)');
    expect(policyName('my_plugin')).toBe('my_plugin');
    const html = renderHtml(loadReportData(dir));
    expect(html).toContain('Gavel (LAS) (max_min_fairness_perf)');
    expect(html).toMatch(/<text[^>]*>Gavel \(LAS\)<\/text>/); // a legend entry inside an SVG
  });

  it('draws ρ on a log axis with a dotted ρ = 1 line, and says the share above 1 per policy', () => {
    const rhos = [0.2, 0.5, 0.9, 3, 210];
    const c = rhoCdf([run({ jobs: rhos.map((rho, i) => ({ id: `j${i}`, jctSeconds: 1, rho, inWindow: true })) })]);
    expect((c.option.xAxis as { type: string }).type).toBe('log');
    const s = (c.option.series as Array<{ markLine?: { data: Array<{ xAxis: number }> }; data: Array<[number, number]> }>)[0]!;
    expect(s.markLine!.data).toEqual([{ xAxis: 1 }]);
    expect(s.data.at(-1)).toEqual([210, 1]);
    expect(c.caption).toContain('Gavel (LAS) 40.0%');
    expect(renderSvg(c)).toContain('ρ = 1');
  });

  it('windows the per-job timeline to the measured jobs and their rounds, grouping rounds past the column limit', () => {
    // 3 jobs; only j1 and j2 are measured, and they run in rounds 500-1299 (past the first 400).
    const jobs = [
      { id: 'j0', rounds: [0, 1, 2], types: [0, 0, 0] },
      { id: 'j1', rounds: Array.from({ length: 800 }, (_, i) => 500 + i), types: Array.from({ length: 800 }, (_, i) => (i < 400 ? 0 : 1)) },
      { id: 'j2', rounds: [900, 901], types: [1, 1] },
    ];
    const r = run({
      jobs: jobs.map((j) => ({ id: j.id, jctSeconds: 1, rho: 1, inWindow: j.id !== 'j0' })),
      timeline: { gpuTypes: ['v100', 'k80'], roundStart: Array.from({ length: 1400 }, (_, i) => 360 * i), roundEnd: Array.from({ length: 1400 }, (_, i) => 360 * (i + 1)), jobs },
    });
    const c = timelineChart(r, 400)!;
    expect((c.option.yAxis as { data: string[] }).data).toEqual(['j1', 'j2']);
    const cols = (c.option.xAxis as { data: string[] }).data;
    expect(cols).toHaveLength(400); // 800 rounds in groups of 2
    expect(cols[0]).toBe((500 * 360 / 3600).toFixed(1));
    const cells = (c.option.series as Array<{ data: Array<[number, number, number]> }>)[0]!.data;
    expect(cells.filter((d) => d[1] === 0)).toHaveLength(400); // j1 fills every column
    expect(cells.filter((d) => d[1] === 1)).toHaveLength(1); // j2's two rounds share a column
    expect(c.caption).toMatch(/group of 2 rounds.*2 measured jobs, rounds 500–1299 of 1400/);
    // GPU types in the dashboard's colours.
    const pieces = (c.option.visualMap as { pieces: Array<{ label: string; color: string }> }).pieces;
    expect(pieces).toEqual([{ value: 0, label: 'v100', color: gpuTypeColor('v100') }, { value: 1, label: 'k80', color: gpuTypeColor('k80') }]);
  });

  it('prints the setup (workload, cluster, rounds, rate, seeds, dropped jobs) in the HTML and in every chart file', () => {
    const d = loadReportData(dir);
    expect(d.setup![0]).toMatch(/^Workload: .*12 jobs simulated/);
    expect(d.setup![1]).toMatch(/^Cluster: v100:2, p100:2, k80:2 .*rounds of 360 s; rate 3 jobs\/h; seeds 0, 1; sweep /);
    const html = renderHtml(d);
    expect(html).toContain('data-testid="setup"');
    for (const svg of writeReport(d, join(tmp, 'svg'), 'svg')) expect(readFileSync(svg, 'utf8')).toContain('Cluster: v100:2, p100:2, k80:2');
    for (const c of buildCharts(d)) expect(renderSvg(c)).toContain('Workload:');
    // The machine's directories appear nowhere.
    expect(html).not.toContain('a-very-private-directory');
    expect(html).not.toContain(tmp);
  });

  it('says how many jobs --drop-unknown removed, of how many', () => {
    const r = run({ setup: { workload: '2869ce.trace', cluster: { v100: 36, p100: 36, k80: 36 }, gpusPerServer: 1, roundSeconds: 360, window: null, jobs: 354, droppedUnknown: 179, skippedTooLarge: 0 } });
    expect(setupLines([r])[0]).toBe('Workload: 2869ce.trace; 354 jobs simulated (--drop-unknown removed 179 of 533 jobs (no throughput for their type)).');
    expect(setupLines([r])[1]).toBe('Cluster: v100:36, p100:36, k80:36 (1 GPU per server); rounds of 360 s; rate 2 jobs/h; seed 0.');
  });
});

describe('workload names', () => {
  it('drops the directories of a trace path, keeps a description', async () => {
    const { workloadName } = await import('../../src/report/index.js');
    expect(workloadName('/home/me/data/gavel/traces/msr/2869ce.trace')).toBe('2869ce.trace');
    expect(workloadName('data/x.trace')).toBe('x.trace');
    expect(workloadName('generated 6 jobs/h, seed 0')).toBe('generated 6 jobs/h, seed 0');
  });
});
