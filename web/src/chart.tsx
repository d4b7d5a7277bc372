import { BarChart, CustomChart, HeatmapChart, LineChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, LegendComponent, MarkLineComponent, TooltipComponent, VisualMapComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';
import { useEffect, useRef, useState } from 'preact/hooks';
import { when } from './format';

// Only the parts of echarts the dashboard draws, so the bundle stays small. SVG: crisp at any zoom, like the report.
echarts.use([LineChart, BarChart, HeatmapChart, CustomChart, GridComponent, TooltipComponent, LegendComponent, VisualMapComponent, DataZoomComponent, MarkLineComponent, SVGRenderer]);

export type ChartOption = echarts.EChartsCoreOption;
export { echarts };

type Axis = Record<string, unknown> & { axisLabel?: Record<string, unknown>; axisPointer?: Record<string, unknown> };
type Tooltip = Record<string, unknown> & { trigger?: string; formatter?: unknown; valueFormatter?: (v: unknown) => string };

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Times on charts are written as everywhere else (format.ts `when`): "14:05:09 UTC", with the zone. */
const timeLabel = (v: unknown): string => when(Number(v));

/**
 * Every axis drops the labels that would overlap (phones: a 30-minute time axis has room for three or four), and a
 * time axis writes its labels, its pointer and the tooltip's heading in the dashboard's one time format.
 */
function labelsApart(option: ChartOption): ChartOption {
  let timeX = false;
  const fix = (a: unknown): unknown => {
    if (Array.isArray(a)) return a.map(fix);
    if (!a || typeof a !== 'object') return a;
    const ax = a as Axis;
    if (ax.type !== 'time') return { ...ax, axisLabel: { hideOverlap: true, ...ax.axisLabel } };
    timeX = true;
    // Its end labels sit on the corners, and its labels keep clear of the value axis's lowest one.
    return {
      ...ax,
      axisLabel: { hideOverlap: true, showMinLabel: false, showMaxLabel: false, margin: 14, formatter: timeLabel, ...ax.axisLabel },
      axisPointer: { ...ax.axisPointer, label: { formatter: (p: { value: unknown }) => timeLabel(p.value), ...(ax.axisPointer?.label as object | undefined) } },
    };
  };
  const xAxis = fix(option.xAxis);
  const tip = option.tooltip as Tooltip | undefined;
  const tooltip =
    timeX && tip?.trigger === 'axis' && tip.formatter === undefined
      ? {
          ...tip,
          formatter: (ps: unknown) => {
            const list = (Array.isArray(ps) ? ps : [ps]) as Array<{ axisValue: unknown; marker: string; seriesName: string; value: unknown }>;
            const show = tip.valueFormatter ?? String;
            const rows = list.map((p) => `${p.marker}${escapeHtml(p.seriesName)}: <b>${escapeHtml(show(Array.isArray(p.value) ? p.value[1] : p.value))}</b>`);
            return [escapeHtml(timeLabel(list[0]?.axisValue)), ...rows].join('<br>');
          },
        }
      : option.tooltip;
  return { backgroundColor: 'transparent', ...option, xAxis, yAxis: fix(option.yAxis), ...(tooltip ? { tooltip } : {}) };
}

/** Whether the system asks for dark colours now; follows changes while the page is open. */
function useDark(): boolean {
  const query = typeof window.matchMedia === 'function' ? window.matchMedia('(prefers-color-scheme: dark)') : null;
  const [dark, setDark] = useState(query?.matches ?? false);
  useEffect(() => {
    if (!query) return;
    const on = (e: MediaQueryListEvent): void => setDark(e.matches);
    query.addEventListener('change', on);
    return () => query.removeEventListener('change', on);
  }, []);
  return dark;
}

/** An echarts chart that follows its options, its box size and the system's light or dark setting. */
export function Chart(props: { option: ChartOption; height: number; label: string; testId?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  const dark = useDark();
  const option = useRef(props.option);
  option.current = props.option;
  useEffect(() => {
    const el = box.current!;
    // echarts' built-in dark theme when the system asks for dark (its background is left to the page); a theme is
    // fixed at init, so a change of setting draws the chart anew.
    const c = echarts.init(el, dark ? 'dark' : undefined, { renderer: 'svg' });
    chart.current = c;
    c.setOption(labelsApart(option.current), { notMerge: true });
    const ro = new ResizeObserver(() => c.resize());
    ro.observe(el);
    return () => {
      ro.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, [dark]);
  useEffect(() => {
    chart.current?.setOption(labelsApart(props.option), { notMerge: true, lazyUpdate: true });
  }, [props.option]);
  return <div class="chart" ref={box} style={{ height: `${props.height}px` }} role="img" aria-label={props.label} data-testid={props.testId} data-theme={dark ? 'dark' : 'light'} />;
}
