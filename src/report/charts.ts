/**
 * Charts as echarts options, rendered server-side to SVG strings (no DOM, no browser). Colours are Okabe-Ito
 * (distinguishable with the common colour-vision deficiencies); every axis names its unit.
 */
import * as echarts from 'echarts';
import type { SummaryRow } from '../sweep/output.js';
import type { ReportData, RunData } from './data.js';

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

const SATURATED_SYMBOL = 'triangle';

/**
 * Average JCT against input rate: the mean over seeds as a line, each seed as a dot (the spread). A run stopped at
 * the JCT cap contributes its lower bound and is drawn as a triangle, as is a mean that includes one.
 */
export function jctVsRate(rows: readonly SummaryRow[], policies: readonly string[]): Chart {
  const colour = colourOf(policies);
  const series: echarts.SeriesOption[] = [];
  let anySaturated = false;
  for (const p of policies) {
    const mine = rows.filter((r) => r.policy === p && r.rate !== null && rowJct(r) !== null);
    const rates = [...new Set(mine.map((r) => r.rate!))].sort((a, b) => a - b);
    const atRate = (x: number): SummaryRow[] => mine.filter((r) => r.rate === x);
    anySaturated ||= mine.some((r) => r.saturated);
    const mark = (saturated: boolean, size: number): Record<string, unknown> => (saturated ? { symbol: SATURATED_SYMBOL, symbolSize: size } : {});
    series.push({
      name: p,
      type: 'line',
      symbol: 'circle',
      symbolSize: 6,
      lineStyle: { width: 2.5, color: colour(p), type: policies.indexOf(p) % 2 ? 'solid' : 'dashed' },
      itemStyle: { color: colour(p) },
      data: rates.map((x) => ({
        value: [x, mean(atRate(x).map((r) => rowJct(r)!))],
        ...mark(atRate(x).some((r) => r.saturated), 12),
      })),
    });
    series.push({
      name: p,
      type: 'scatter',
      symbolSize: 5,
      itemStyle: { color: colour(p), opacity: 0.45 },
      data: mine.map((r) => ({ value: [r.rate!, rowJct(r)!], ...mark(r.saturated, 9) })),
    });
  }
  return {
    id: 'jct-vs-rate',
    title: 'Average JCT vs input job rate',
    caption:
      'Mean over seeds (line) and each seed (dots). Lower is better.' +
      (anySaturated ? ' Triangles: overloaded runs stopped at the JCT cap; the average JCT there is at least the value drawn.' : ''),
    width: 760,
    height: 440,
    option: {
      ...base('Average JCT vs input job rate'),
      legend: { top: 36, textStyle: FONT, itemGap: 24, data: policies.map((p) => ({ name: p })) },
      xAxis: axis('Input job rate (jobs/hour)', { min: 0 }),
      yAxis: axis('Average JCT (hours)', { nameGap: 48 }),
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

function cdfChart(id: string, title: string, xName: string, caption: string, runs: readonly RunData[], value: (r: RunData) => number[], log: boolean): Chart {
  const groups = byPolicy(runs);
  const colour = colourOf([...groups.keys()]);
  const series: echarts.SeriesOption[] = [...groups].map(([p, rs], i) => ({
    name: p,
    type: 'line',
    step: 'end',
    showSymbol: false,
    lineStyle: { width: 2.5, color: colour(p), type: i % 2 ? 'solid' : 'dashed' },
    itemStyle: { color: colour(p) },
    data: cdfPoints(rs.flatMap(value).filter((x) => !log || x > 0)),
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
  return cdfChart(
    'ftf-cdf',
    'Finish-time fairness distribution',
    'Finish-time fairness ρ (JCT / JCT on an equal 1/n share; unitless)',
    'ρ ≤ 1: the job did at least as well as on an equal share of the cluster. Left is fairer.',
    runs,
    (r) => r.jobs.filter((j) => j.inWindow && j.rho !== null).map((j) => j.rho!),
    false,
  );
}

/** Busy fraction per GPU type over time for one run, averaged into at most `max` buckets. */
export function utilisation(run: RunData, max = 240): Chart {
  const n = run.hourly.length;
  const per = Math.max(1, Math.ceil(n / max));
  const colour = colourOf(run.gpuTypes);
  const series: echarts.SeriesOption[] = run.gpuTypes.map((t, k) => {
    const data: Array<[number, number]> = [];
    for (let i = 0; i < n; i += per) {
      const chunk = run.hourly.slice(i, i + per);
      data.push([chunk[0]!.hour, (100 * mean(chunk.map((h) => h.busy[k] ?? 0)))]);
    }
    return { name: t, type: 'line', showSymbol: false, lineStyle: { width: 2, color: colour(t), type: ['solid', 'dashed', 'dotted'][k % 3] as 'solid' }, itemStyle: { color: colour(t) }, data };
  });
  const title = `GPU utilisation over time: ${run.policy}${run.seed !== null ? `, seed ${run.seed}` : ''}`;
  return {
    id: `util-${run.policy}-${run.seed ?? 0}`.replace(/[^\w-]/g, '_'),
    title,
    caption: `Busy GPUs of each type as a share of that type, ${per > 1 ? `${per}-hour averages` : 'hourly'}, from the first arrival.`,
    width: 760,
    height: 380,
    option: { ...base(title), xAxis: axis('Time since first arrival (hours)', { min: 0 }), yAxis: axis('Busy GPUs (% of type)', { min: 0, max: 100, nameGap: 44 }), series },
  };
}

/** Which GPU type each job ran on, round by round (small runs). */
export function timelineChart(run: RunData, maxRounds = 400): Chart | undefined {
  const tl = run.timeline;
  if (!tl || tl.jobs.length === 0) return undefined;
  const nRounds = Math.min(tl.roundStart.length, maxRounds);
  const data: Array<[number, number, number]> = [];
  tl.jobs.forEach((j, y) => j.rounds.forEach((r, i) => r < nRounds && data.push([r, y, j.types[i]!])));
  const colour = colourOf(tl.gpuTypes);
  const title = `Per-job timeline: ${run.policy}${run.seed !== null ? `, seed ${run.seed}` : ''}`;
  const h = Math.min(1400, 140 + 16 * tl.jobs.length);
  return {
    id: `timeline-${run.policy}-${run.seed ?? 0}`.replace(/[^\w-]/g, '_'),
    title,
    caption: `Each cell is one round in which the job ran, coloured by GPU type${tl.roundStart.length > nRounds ? ` (first ${nRounds} of ${tl.roundStart.length} rounds)` : ''}.`,
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
        data: Array.from({ length: nRounds }, (_, r) => ((tl.roundStart[r] ?? 0) / 3600).toFixed(1)),
        axisLabel: FONT,
      },
      yAxis: {
        type: 'category',
        name: 'Job (arrival order)',
        nameLocation: 'middle',
        nameGap: 70,
        nameTextStyle: { ...FONT, fontWeight: 'bold' },
        data: tl.jobs.map((j) => j.id),
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
        pieces: tl.gpuTypes.map((t, k) => ({ value: k, label: t, color: colour(t) })),
      },
      legend: { show: false },
      series: [{ type: 'heatmap', data, itemStyle: { borderColor: '#ffffff', borderWidth: 0.5 } }],
    },
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
  return charts;
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
