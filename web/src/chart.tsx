import { BarChart, CustomChart, HeatmapChart, LineChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, LegendComponent, MarkLineComponent, TooltipComponent, VisualMapComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'preact/hooks';

// Only the parts of echarts the dashboard draws, so the bundle stays small. SVG: crisp at any zoom, like the report.
echarts.use([LineChart, BarChart, HeatmapChart, CustomChart, GridComponent, TooltipComponent, LegendComponent, VisualMapComponent, DataZoomComponent, MarkLineComponent, SVGRenderer]);

export type ChartOption = echarts.EChartsCoreOption;
export { echarts };

type Axis = Record<string, unknown> & { axisLabel?: Record<string, unknown> };

/** Every axis drops the labels that would overlap (phones: a 30-minute time axis has room for three or four). */
function labelsApart(option: ChartOption): ChartOption {
  const fix = (a: unknown): unknown => {
    if (Array.isArray(a)) return a.map(fix);
    if (!a || typeof a !== 'object') return a;
    const ax = a as Axis;
    // A time axis: its end labels sit on the corners, and its labels keep clear of the value axis's lowest one.
    const time = ax.type === 'time' ? { showMinLabel: false, showMaxLabel: false, margin: 14 } : {};
    return { ...ax, axisLabel: { hideOverlap: true, ...time, ...ax.axisLabel } };
  };
  return { backgroundColor: 'transparent', ...option, xAxis: fix(option.xAxis), yAxis: fix(option.yAxis) };
}

/** An echarts chart that follows its options and its box size. */
export function Chart(props: { option: ChartOption; height: number; label: string; testId?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    const el = box.current!;
    // echarts' built-in dark theme when the system asks for dark (its background is left to the page).
    const dark = window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
    const c = echarts.init(el, dark ? 'dark' : undefined, { renderer: 'svg' });
    chart.current = c;
    const ro = new ResizeObserver(() => c.resize());
    ro.observe(el);
    return () => {
      ro.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption(labelsApart(props.option), { notMerge: true, lazyUpdate: true });
  }, [props.option]);
  return <div class="chart" ref={box} style={{ height: `${props.height}px` }} role="img" aria-label={props.label} data-testid={props.testId} />;
}
