/**
 * Charts as echarts options, rendered server-side to SVG strings (no DOM, no browser). Policies are Okabe-Ito
 * (distinguishable with the common colour-vision deficiencies), GPU types the palette they have on the dashboard
 * (gpu-colors.ts); every axis names its unit, and every chart carries the run's setup, so a PNG or SVG alone still
 * says what it shows.
 */
import * as echarts from 'echarts';
import type { SummaryRow } from '../sweep/output.js';
import type { ReportData, RunData } from './data.js';
import { gpuTypeColor } from './gpu-colors.js';
import { policyName } from './names.js';

export const OKABE_ITO = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#56B4E9', '#CC79A7', '#F0E442', '#000000'] as const;

export interface Chart {
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly option: echarts.EChartsOption;
  readonly width: number;
  readonly height: number;
}

const FONT = { fontFamily: 'DejaVu Sans, Helvetica, Arial, sans-serif', fontSize: 13 };

function colourOf(names: readonly string[]): (name: string) => string {
  return (name) => OKABE_ITO[Math.max(0, names.indexOf(name)) % OKABE_ITO.length]!;
}

function axis(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'value', name, nameLocation: 'middle', nameGap: 32, nameTextStyle: { ...FONT, fontWeight: 'bold' }, axisLabel: FONT, ...extra };
}

function base(title: string): echarts.EChartsOption {
  return {
    animation: false,
    backgroundColor: '#ffffff',
    textStyle: FONT,
    title: { text: title, left: 'center', top: 6, textStyle: { ...FONT, fontSize: 15 } },
    legend: { top: 36, textStyle: FONT, itemWidth: 22, itemGap: 24 },
    grid: { left: 78, right: 30, top: 80, bottom: 58 },
  };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** A sweep row's average JCT: the lower bound for a saturated run (stopped at the JCT cap), else the average. */
export function rowJct(r: SummaryRow): number | null {
  return r.saturated ? r.avgJctLowerBoundHours : r.avgJctHours;
}

/** echarts' built-in arrow points up: "the value is at least here, and higher". */
const SATURATED_SYMBOL = 'arrow';

/**
 * Average JCT against input rate: the mean over seeds as a line, each seed as a dot (the spread). A run stopped at
 * the JCT cap has only a lower bound: such a rate is left off the line (a plateau at the cap would hide the knee),
 * drawn instead as an upward arrow at the bound, in a shaded band that marks the saturated region.
 */
export function jctVsRate(rows: readonly SummaryRow[], policies: readonly string[]): Chart {
  const colour = colourOf(policies);
  const series: echarts.SeriesOption[] = [];
  let lowestBound = Infinity;
  let highest = 0;
  for (const p of policies) {
    const mine = rows.filter((r) => r.policy === p && r.rate !== null && rowJct(r) !== null);
    const rates = [...new Set(mine.map((r) => r.rate!))].sort((a, b) => a - b);
    const atRate = (x: number): SummaryRow[] => mine.filter((r) => r.rate === x);
    const saturatedAt = (x: number): boolean => atRate(x).some((r) => r.saturated);
    for (const r of mine) highest = Math.max(highest, rowJct(r)!);
    const name = policyName(p);
    const dash = policies.indexOf(p) % 2 ? 'solid' : 'dashed';
    series.push({
      name,
      type: 'line',
      symbol: 'circle',
      symbolSize: 6,
      lineStyle: { width: 2.5, color: colour(p), type: dash },
      itemStyle: { color: colour(p) },
      data: rates.filter((x) => !saturatedAt(x)).map((x) => ({ value: [x, mean(atRate(x).map((r) => rowJct(r)!))] })),
    });
    const sat = rates.filter(saturatedAt);
    for (const x of sat) lowestBound = Math.min(lowestBound, mean(atRate(x).map((r) => rowJct(r)!)));
    if (sat.length > 0) {
      series.push({
        name,
        type: 'scatter',
        symbol: SATURATED_SYMBOL,
        symbolSize: [12, 16],
        itemStyle: { color: colour(p) },
        data: sat.map((x) => ({ value: [x, mean(atRate(x).map((r) => rowJct(r)!))], symbol: SATURATED_SYMBOL })),
      });
    }
    series.push({
      name,
      type: 'scatter',
      symbolSize: 5,
      itemStyle: { color: colour(p), opacity: 0.45 },
      data: mine.filter((r) => !r.saturated).map((r) => ({ value: [r.rate!, rowJct(r)!] })),
    });
  }
  const anySaturated = Number.isFinite(lowestBound);
  const top = anySaturated ? highest * 1.15 : undefined;
  if (anySaturated) {
    series.push({
      name: 'saturated',
      type: 'line',
      data: [],
      markArea: {
        silent: true,
        itemStyle: { color: 'rgba(120,120,120,0.12)' },
        label: { show: true, position: 'insideTopLeft', ...FONT, fontSize: 11, color: '#555', formatter: 'saturated: stopped at the JCT cap, true JCT higher' },
        data: [[{ yAxis: lowestBound }, { yAxis: top! }]],
      },
    });
  }
  return {
    id: 'jct-vs-rate',
    title: 'Average JCT vs input job rate',
    caption:
      'Mean over seeds (line) and each seed (dots). Lower is better.' +
      (anySaturated ? ' Arrows in the shaded band: overloaded runs stopped at the JCT cap; their average JCT is at least the value drawn, so the line stops before them.' : ''),
    width: 760,
    height: 440,
    option: {
      ...base('Average JCT vs input job rate'),
      legend: { top: 36, textStyle: FONT, itemGap: 24, data: policies.map((p) => ({ name: policyName(p) })) },
      xAxis: axis('Input job rate (jobs/hour)', { min: 0 }),
      yAxis: axis('Average JCT (hours)', { nameGap: 48, ...(top !== undefined ? { max: Number(top.toPrecision(2)) } : {}) }),
      series,
    },
  };
}

/** Empirical CDF, thinned to at most `max` points (quantiles), as [value, fraction] pairs. */
export function cdfPoints(values: readonly number[], max = 300): Array<[number, number]> {
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) return [];
  const out: Array<[number, number]> = [];
  const step = Math.max(1, Math.ceil(n / max));
  for (let i = 0; i < n; i += step) out.push([v[i]!, (i + 1) / n]);
  if (out[out.length - 1]![1] !== 1) out.push([v[n - 1]!, 1]);
  return out;
}

function byPolicy(runs: readonly RunData[]): Map<string, RunData[]> {
  const m = new Map<string, RunData[]>();
  for (const r of runs) m.set(r.policy, [...(m.get(r.policy) ?? []), r]);
  return m;
}

function cdfChart(id: string, title: string, xName: string, caption: string, runs: readonly RunData[], value: (r: RunData) => number[], log: boolean, markX?: { at: number; label: string }): Chart {
  const groups = byPolicy(runs);
  const colour = colourOf([...groups.keys()]);
  const series: echarts.SeriesOption[] = [...groups].map(([p, rs], i) => ({
    name: policyName(p),
    type: 'line',
    step: 'end',
    showSymbol: false,
    lineStyle: { width: 2.5, color: colour(p), type: i % 2 ? 'solid' : 'dashed' },
    itemStyle: { color: colour(p) },
    data: cdfPoints(rs.flatMap(value).filter((x) => !log || x > 0)),
    ...(markX && i === 0
      ? {
          markLine: {
            silent: true,
            symbol: 'none',
            lineStyle: { color: '#333', type: 'dotted', width: 1.5 },
            label: { formatter: markX.label, position: 'end', ...FONT, fontSize: 12 },
            data: [{ xAxis: markX.at }],
          },
        }
      : {}),
  }));
  return {
    id,
    title,
    caption,
    width: 760,
    height: 420,
    option: {
      ...base(title),
      xAxis: axis(xName, log ? { type: 'log', logBase: 10 } : { scale: true }),
      yAxis: axis('Fraction of jobs', { min: 0, max: 1, nameGap: 44 }),
      series,
    },
  };
}

export function jctCdf(runs: readonly RunData[]): Chart {
  return cdfChart(
    'jct-cdf',
    'JCT distribution',
    'Job completion time (hours, log scale)',
    'Cumulative fraction of measured jobs finished within a given JCT.',
    runs,
    (r) => r.jobs.filter((j) => j.inWindow && j.jctSeconds !== null).map((j) => j.jctSeconds! / 3600),
    true,
  );
}

export function rhoCdf(runs: readonly RunData[]): Chart {
  // Log scale: ρ spans orders of magnitude (0.1 to 200 in Gavel's traces); on a linear axis every policy collapses
  // onto the left edge. The dotted line at ρ = 1 splits fair from unfair; each legend entry says its share above it.
  const groups = byPolicy(runs);
  const unfair = [...groups].map(([p, rs]) => {
    const v = rs.flatMap((r) => r.jobs.filter((j) => j.inWindow && j.rho !== null).map((j) => j.rho!));
    return `${policyName(p)} ${v.length ? ((100 * v.filter((x) => x > 1).length) / v.length).toFixed(1) : '–'}%`;
  });
  return cdfChart(
    'ftf-cdf',
    'Finish-time fairness distribution',
    'Finish-time fairness ρ (JCT / JCT on an equal 1/n share; log scale)',
    `ρ ≤ 1 (left of the dotted line): the job did at least as well as on an equal share of the cluster. Left is fairer. Jobs with ρ > 1: ${unfair.join(', ')}.`,
    runs,
    (r) => r.jobs.filter((j) => j.inWindow && j.rho !== null).map((j) => j.rho!),
    true,
    { at: 1, label: 'ρ = 1' },
  );
}

/** Busy fraction per GPU type over time for one run, averaged into at most `max` buckets. */
export function utilisation(run: RunData, max = 240): Chart {
  const n = run.hourly.length;
  const per = Math.max(1, Math.ceil(n / max));
  const colour = gpuTypeColor;
  const series: echarts.SeriesOption[] = run.gpuTypes.map((t, k) => {
    const data: Array<[number, number]> = [];
    for (let i = 0; i < n; i += per) {
      const chunk = run.hourly.slice(i, i + per);
      data.push([chunk[0]!.hour, (100 * mean(chunk.map((h) => h.busy[k] ?? 0)))]);
    }
    return { name: t, type: 'line', showSymbol: false, lineStyle: { width: 2, color: colour(t), type: ['solid', 'dashed', 'dotted'][k % 3] as 'solid' }, itemStyle: { color: colour(t) }, data };
  });
  const title = `GPU utilisation over time: ${policyName(run.policy)}${run.seed !== null ? `, seed ${run.seed}` : ''}`;
  return {
    id: `util-${run.policy}-${run.seed ?? 0}`.replace(/[^\w-]/g, '_'),
    title,
    caption: `Busy GPUs of each type as a share of that type, ${per > 1 ? `${per}-hour averages` : 'hourly'}, from the first arrival.`,
    width: 760,
    height: 380,
    option: { ...base(title), xAxis: axis('Time since first arrival (hours)', { min: 0 }), yAxis: axis('Busy GPUs (% of type)', { min: 0, max: 100, nameGap: 44 }), series },
  };
}

/**
 * Which GPU type each measured job ran on, over the rounds in which measured jobs ran (jobs outside the measurement
 * window and the rounds before and after are left out). More rounds than `maxColumns` are grouped into columns of
 * several rounds each, a cell coloured by the type the job ran on last in its group.
 */
export function timelineChart(run: RunData, maxColumns = 400): Chart | undefined {
  const tl = run.timeline;
  if (!tl || tl.jobs.length === 0) return undefined;
  const measured = new Set(run.jobs.filter((j) => j.inWindow).map((j) => j.id));
  const rows = measured.size > 0 ? tl.jobs.filter((j) => measured.has(j.id)) : tl.jobs;
  const ran = rows.filter((j) => j.rounds.length > 0);
  if (ran.length === 0) return undefined;
  const first = Math.min(...ran.map((j) => j.rounds[0]!));
  const last = Math.max(...ran.map((j) => j.rounds[j.rounds.length - 1]!));
  const span = last - first + 1;
  const per = Math.max(1, Math.ceil(span / maxColumns));
  const columns = Math.ceil(span / per);
  const cells = new Map<string, [number, number, number]>();
  rows.forEach((j, y) =>
    j.rounds.forEach((r, i) => {
      if (r < first || r > last) return;
      const x = Math.floor((r - first) / per);
      cells.set(`${x},${y}`, [x, y, j.types[i]!]);
    }),
  );
  const data = [...cells.values()];
  const title = `Per-job timeline: ${policyName(run.policy)}${run.seed !== null ? `, seed ${run.seed}` : ''}`;
  const h = Math.min(1400, 140 + 16 * rows.length);
  const hours = (r: number): string => ((tl.roundStart[r] ?? 0) / 3600).toFixed(1);
  return {
    id: `timeline-${run.policy}-${run.seed ?? 0}`.replace(/[^\w-]/g, '_'),
    title,
    caption:
      `Each cell is ${per > 1 ? `a group of ${per} rounds` : 'one round'} in which the job ran, coloured by GPU type: ` +
      `${rows.length} ${measured.size > 0 ? 'measured ' : ''}jobs, rounds ${first}–${last} of ${tl.roundStart.length}.`,
    width: 900,
    height: h,
    option: {
      ...base(title),
      grid: { left: 90, right: 30, top: 80, bottom: 58 },
      xAxis: {
        type: 'category',
        name: 'Round (start time in hours)',
        nameLocation: 'middle',
        nameGap: 32,
        nameTextStyle: { ...FONT, fontWeight: 'bold' },
        data: Array.from({ length: columns }, (_, c) => hours(first + c * per)),
        axisLabel: FONT,
      },
      yAxis: {
        type: 'category',
        name: 'Job (arrival order)',
        nameLocation: 'middle',
        nameGap: 70,
        nameTextStyle: { ...FONT, fontWeight: 'bold' },
        data: rows.map((j) => j.id),
        inverse: true,
        axisLabel: { ...FONT, fontSize: 11 },
      },
      visualMap: {
        type: 'piecewise',
        dimension: 2,
        orient: 'horizontal',
        top: 36,
        left: 'center',
        textStyle: FONT,
        pieces: tl.gpuTypes.map((t, k) => ({ value: k, label: t, color: gpuTypeColor(t) })),
      },
      legend: { show: false },
      series: [{ type: 'heatmap', data, itemStyle: { borderColor: '#ffffff', borderWidth: per > 1 ? 0 : 0.5 } }],
    },
  };
}

/** Wraps `text` into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line && line.length + 1 + w.length > width) {
      out.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(line);
  return out;
}

/** The setup under the chart's title (in the SVG itself), everything below moved down to make room. */
export function withSetup(c: Chart, setup: readonly string[]): Chart {
  if (setup.length === 0) return c;
  const lines = setup.flatMap((l) => wrap(l, Math.floor(c.width / 6.6)));
  const extra = 15 * lines.length + 6;
  const o = c.option as Record<string, unknown> & { title: Record<string, unknown>; legend?: Record<string, unknown>; grid?: Record<string, unknown>; visualMap?: Record<string, unknown> };
  const down = (x: Record<string, unknown> | undefined): Record<string, unknown> | undefined => (x && typeof x.top === 'number' ? { ...x, top: x.top + extra } : x);
  return {
    ...c,
    height: c.height + extra,
    option: {
      ...o,
      title: { ...o.title, subtext: lines.join('\n'), itemGap: 6, subtextStyle: { ...FONT, fontSize: 11, color: '#555', lineHeight: 15 } },
      ...(o.legend ? { legend: down(o.legend) } : {}),
      ...(o.grid ? { grid: down(o.grid) } : {}),
      ...(o.visualMap ? { visualMap: down(o.visualMap) } : {}),
    } as echarts.EChartsOption,
  };
}

export function buildCharts(data: ReportData): Chart[] {
  const charts: Chart[] = [];
  if (data.sweepRows && data.sweepRows.some((r) => r.rate !== null)) {
    charts.push(jctVsRate(data.sweepRows, [...new Set(data.sweepRows.map((r) => r.policy))]));
  }
  if (data.runs.length) {
    charts.push(jctCdf(data.runs), rhoCdf(data.runs));
    // Utilisation: one run per policy (the lowest seed), to keep the report readable.
    for (const rs of byPolicy(data.runs).values()) {
      const first = [...rs].sort((a, b) => (a.seed ?? 0) - (b.seed ?? 0))[0]!;
      if (first.hourly.length) charts.push(utilisation(first));
    }
    for (const rs of byPolicy(data.runs).values()) {
      const first = [...rs].sort((a, b) => (a.seed ?? 0) - (b.seed ?? 0))[0]!;
      const t = timelineChart(first);
      if (t) charts.push(t);
    }
  }
  return charts.map((c) => withSetup(c, data.setup ?? []));
}

export function renderSvg(chart: Chart): string {
  const c = echarts.init(null, null, { renderer: 'svg', ssr: true, width: chart.width, height: chart.height });
  try {
    c.setOption(chart.option);
    return c.renderToSVGString();
  } finally {
    c.dispose();
  }
}
