/**
 * The report: one self-contained HTML file (inline SVG charts, inline CSS, no script, no network), or the charts
 * alone as SVG or PNG files for papers.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { RondoError } from '../model/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { buildCharts, renderSvg, rowJct, type Chart } from './charts.js';
import { reportDataFromSimulations, type ReportData } from './data.js';
import { policyNameWithId } from './names.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const num = (v: unknown, d = 2): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '–');

function sweepTable(data: ReportData): string {
  const rows = data.sweepRows ?? [];
  if (!rows.length) return '';
  const policies = [...new Set(rows.map((r) => r.policy))];
  const rates = [...new Set(rows.map((r) => r.rate))].sort((a, b) => (a ?? 0) - (b ?? 0));
  const cell = (p: string, rate: number | null): string => {
    const mine = rows.filter((r) => r.policy === p && r.rate === rate && rowJct(r) !== null);
    if (!mine.length) return '<td>–</td>';
    const xs = mine.map((r) => rowJct(r)!);
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    // A saturated seed (stopped at the JCT cap) gives a lower bound, and so does any mean that includes it.
    const ge = (saturated: boolean): string => (saturated ? '≥ ' : '');
    const seeds = mine.map((r) => `${ge(r.saturated)}${rowJct(r)!.toFixed(2)}`).join(', ');
    return `<td title="${xs.length} seed(s): ${seeds}">${ge(mine.some((r) => r.saturated))}${m.toFixed(2)}</td>`;
  };
  return `<h2>Average JCT (hours), mean over seeds</h2>
<div class="table-wrap"><table><thead><tr><th>policy \\ rate (jobs/h)</th>${rates.map((r) => `<th>${r ?? 'trace'}</th>`).join('')}</tr></thead>
<tbody>${policies.map((p) => `<tr><th>${esc(policyNameWithId(p))}</th>${rates.map((r) => cell(p, r)).join('')}</tr>`).join('\n')}</tbody></table></div>`;
}

function runsTable(data: ReportData): string {
  if (!data.runs.length) return '';
  const head = ['policy', 'seed', 'measured jobs done', 'avg JCT h', 'median h', 'p99 h', 'makespan h', 'max ρ', 'ρ > 1', 'utilisation'];
  const rows = data.runs.map((r) => {
    const s = r.summary;
    return [
      esc(policyNameWithId(r.policy)),
      r.seed ?? '–',
      `${num(s.completedWindowJobs, 0)} / ${num(s.windowJobs, 0)}`,
      s.saturated === true ? `≥ ${num(s.avgJctLowerBoundHours, 3)}` : num(s.avgJctHours, 3),
      num(s.medianJctHours),
      num(s.p99JctHours),
      num(s.makespanHours),
      num(s.maxRho, 3),
      typeof s.unfairFraction === 'number' ? `${(100 * s.unfairFraction).toFixed(1)}%` : '–',
      typeof s.utilization === 'number' ? `${(100 * s.utilization).toFixed(1)}%` : '–',
    ];
  });
  return `<h2>Runs drawn below</h2>
<div class="table-wrap"><table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>
<tbody>${rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th>${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`).join('\n')}</tbody></table></div>`;
}

export function renderHtml(data: ReportData, charts: readonly Chart[] = buildCharts(data)): string {
  const figures = charts
    .map((c) => `<figure class="chart" id="${esc(c.id)}" data-chart="${esc(c.id)}">\n${renderSvg(c)}\n<figcaption>${esc(c.caption)}</figcaption>\n</figure>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(data.title)}</title>
<style>
body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 960px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
.sub { color: #555; font-size: 13px; word-break: break-all; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; } .table-wrap { overflow-x: auto; } /* a phone scrolls a wide table, not the page */
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; } thead th { background: #f2f2f2; } tbody th { text-align: left; font-weight: normal; }
figure.chart { margin: 24px 0; } figure.chart svg { max-width: 100%; height: auto; } figcaption { font-size: 13px; color: #444; }
ul.notes { font-size: 13px; color: #444; }
.setup { font-size: 13px; background: #f6f6f6; border: 1px solid #ddd; border-radius: 4px; padding: 6px 12px; margin: 12px 0; } .setup ul { margin: 4px 0; padding-left: 18px; }
</style>
</head>
<body>
<h1>${esc(data.title)}</h1>
<p class="sub">${esc(data.subtitle)}</p>
${data.setup?.length ? `<div class="setup" data-testid="setup"><strong>Setup</strong><ul>${data.setup.map((l) => `<li>${esc(l)}</li>`).join('')}</ul></div>` : ''}
${data.notes.length ? `<ul class="notes">${data.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
${sweepTable(data)}
${runsTable(data)}
${figures}
<p class="sub">Made by rondo report. Charts: Apache ECharts, rendered to SVG on the server; policies in Okabe-Ito colours, GPU types in the colours the dashboard gives them.</p>
</body>
</html>
`;
}

export type ReportFormat = 'html' | 'svg' | 'png';

export function parseFormat(v: string): ReportFormat {
  if (v === 'html' || v === 'svg' || v === 'png') return v;
  throw new RondoError({ code: 'E_USAGE', problem: 'bad --format', expected: 'html, svg or png', found: JSON.stringify(v) });
}

/** PNG through resvg (a native module installed with the package); fonts come from the system. */
function svgToPng(svg: string): Uint8Array {
  const require = createRequire(import.meta.url);
  let Resvg: new (svg: string, opts: unknown) => { render(): { asPng(): Uint8Array } };
  try {
    ({ Resvg } = require('@resvg/resvg-js') as { Resvg: typeof Resvg });
  } catch {
    throw new RondoError({ code: 'E_USAGE', problem: 'PNG output needs @resvg/resvg-js, which is not installed', hint: 'use --format svg' });
  }
  return new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: '#ffffff', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}

/**
 * Writes the report. html: `out` is the file. svg/png: `out` is a directory that receives one file per chart.
 * Returns the paths written.
 */
export function writeReport(data: ReportData, out: string, format: ReportFormat = 'html'): string[] {
  const charts = buildCharts(data);
  if (format === 'html') {
    writeFileAtomic(out, renderHtml(data, charts));
    return [out];
  }
  mkdirSync(out, { recursive: true });
  return charts.map((c) => {
    const svg = renderSvg(c);
    const path = join(out, `${c.id}.${format}`);
    writeFileAtomic(path, format === 'svg' ? svg : svgToPng(svg));
    return path;
  });
}

/** One call for the simulate and compare commands: the HTML report of runs just made. */
export function writeSimulationReport(
  path: string,
  base: Parameters<typeof reportDataFromSimulations>[0],
  outs: Parameters<typeof reportDataFromSimulations>[1],
  label: string,
): void {
  writeReport(reportDataFromSimulations(base, outs, label), path, 'html');
}
