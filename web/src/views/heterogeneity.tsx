import { useMemo } from 'preact/hooks';
import type { Heterogeneity, UseSeries } from '../api';
import { Chart, type ChartOption } from '../chart';
import { STATE_COLOR, typeColor } from '../colors';
import { num, pct } from '../format';
import { Empty, ErrorBox, Section, TenantCell, Truncate, useLive } from '../ui';
import './heterogeneity.css';

/**
 * What heterogeneity costs: GPUs held (raw) against the same weighted by each job's throughput there over its best
 * type (effective), per GPU type and per tenant, over the last hour, with the GPUs waiting jobs ask for; and per
 * running job, its speed where it runs against its best type. One small chart per type and per tenant so that each
 * keeps its own scale; the series come from the server's per-plan record, as the cluster was at each plan.
 */

/** Tenants have no colour of their own (colours are for GPU types and states): their effective use is drawn in teal. */
const TENANT_COLOR = '#44AA99';
const CAPACITY_COLOR = '#b4b4b4';

type Series = UseSeries & { readonly capacity?: readonly number[] };

function optionOf(h: Heterogeneity, s: Series, color: string): ChartOption {
  const xs = h.samples.map((x) => new Date(x.at).getTime());
  const to = new Date(h.to).getTime();
  // Each sample holds from its plan until the next: a step drawn to the window's end.
  const pts = (v: readonly number[]): Array<[number, number]> => (v.length ? [...xs.map((x, i): [number, number] => [x, v[i]!]), [to, v[v.length - 1]!]] : []);
  const line = (name: string, v: readonly number[], extra: Record<string, unknown>): Record<string, unknown> => ({
    name,
    type: 'line',
    step: 'end',
    // No symbol: the legend then draws each series as its line (solid, dashed, dotted), as in the chart.
    symbol: 'none',
    data: pts(v),
    ...extra,
  });
  const series = [
    ...(s.capacity ? [line('capacity', s.capacity, { lineStyle: { width: 1, color: CAPACITY_COLOR }, itemStyle: { color: CAPACITY_COLOR } })] : []),
    line('held', s.raw, { lineStyle: { width: 2, color }, itemStyle: { color } }),
    line('effective', s.effective, { lineStyle: { width: 2, type: 'dashed', color }, itemStyle: { color }, areaStyle: { color, opacity: 0.25 } }),
    line('queued', s.queued, { lineStyle: { width: 2, type: 'dotted', color: STATE_COLOR.queued }, itemStyle: { color: STATE_COLOR.queued } }),
  ];
  return {
    animation: false,
    grid: { left: 40, right: 12, top: 34, bottom: 30 },
    // One row of short names (scrolling if it must) so that a phone's legend never runs into the plot.
    legend: { top: 0, type: 'scroll', itemWidth: 20, itemGap: 8, textStyle: { fontSize: 11 } },
    tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => `${num(Number(v), 2)} GPUs` },
    xAxis: { type: 'time', min: xs[0] ?? to, max: to },
    yAxis: { type: 'value', min: 0, minInterval: 1 },
    series,
  };
}

function last(v: readonly number[]): number {
  return v.length ? v[v.length - 1]! : 0;
}

function SmallChart(props: { h: Heterogeneity; s: Series; color: string; title: string; testId: string }) {
  const option = useMemo(() => optionOf(props.h, props.s, props.color), [props.h, props.s, props.color]);
  const raw = last(props.s.raw);
  const eff = last(props.s.effective);
  return (
    <div class="small-multiple" data-testid={props.testId}>
      <h3 style={{ borderLeftColor: props.color }}>
        <Truncate text={props.title} max="14rem" />
        <span class="muted small" data-testid="now">
          {' '}
          now: {num(raw, 0)} held{props.s.capacity ? ` of ${num(last(props.s.capacity), 0)}` : ''}, {num(eff, 2)} effective ({raw > 0 ? pct(eff / raw) : '–'}), {num(last(props.s.queued), 0)} queued
        </span>
      </h3>
      <Chart option={option} height={190} label={`${props.title}: GPUs held, effective and queued over time`} />
    </div>
  );
}

export function HeterogeneityView() {
  const { data: h, error } = useLive<Heterogeneity>('/api/v1/heterogeneity?minutes=60', 3000);
  const total = h?.total;
  return (
    <div class="heterogeneity">
      <ErrorBox error={error} what="Could not load the heterogeneity view" />
      <Section title="Effective against raw GPU use, last hour" aside={<span class="muted">from each round's plan</span>}>
        <p class="muted small">
          <strong>Held</strong> (raw use): GPUs the round's leases hold. <strong>Effective</strong>: the same GPUs, each counted as the job's throughput there ÷ its throughput on its best
          allowed type (a job on a type 4× slower than its best counts ¼). The gap between the two is what running jobs away from their best type costs.{' '}
          <strong>Queued</strong> (demand): GPUs asked for by waiting jobs, on their best type (a job no live worker can hold is left out: its page says why).
        </p>
        {!h ? (
          <p class="muted">Loading…</p>
        ) : h.samples.length === 0 ? (
          <Empty title="No rounds planned in the last hour.">The series start with the first round that has a live worker and a job.</Empty>
        ) : (
          <>
            {total ? (
              <p data-testid="total-now">
                Whole cluster now: {num(last(total.raw), 0)} of {num(last(total.capacity), 0)} GPUs held, worth <strong>{num(last(total.effective), 2)}</strong> GPUs of each job's best type (
                {last(total.raw) > 0 ? pct(last(total.effective) / last(total.raw)) : '–'}); {num(last(total.queued), 0)} GPUs queued.
              </p>
            ) : null}
            <h3 class="sub">By GPU type</h3>
            <div class="multiples">
              {h.byType.map((t) => (
                <SmallChart h={h} s={t} color={typeColor(t.type)} title={t.type} testId={`type-${t.type}`} />
              ))}
            </div>
            <h3 class="sub">By tenant</h3>
            <div class="multiples">
              {h.byTenant.length === 0 ? (
                <Empty title="No tenant held or asked for GPUs in this window." />
              ) : (
                h.byTenant.map((t) => <SmallChart h={h} s={t} color={TENANT_COLOR} title={t.tenant} testId={`tenant-${t.tenant}`} />)
              )}
            </div>
          </>
        )}
      </Section>

      <Section title="Running jobs: where they run against their best type" aside={<span class="muted">slowest first</span>}>
        {!h ? null : h.jobs.length === 0 ? (
          <Empty title="No job is running." />
        ) : (
          <table class="cards" data-testid="het-jobs">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Tenant</th>
                <th scope="col">Runs on</th>
                <th scope="col" class="num">
                  Steps/s there
                </th>
                <th scope="col">Best type</th>
                <th scope="col" class="num">
                  Steps/s there
                </th>
                <th scope="col" class="num">
                  Of best
                </th>
              </tr>
            </thead>
            <tbody>
              {h.jobs.map((j) => (
                <tr data-job={j.id}>
                  <td data-label="Job">
                    {/* one span per cell: on a phone each cell is a row whose label and value sit apart */}
                    <span>
                      <a href={`#/jobs/${encodeURIComponent(j.id)}`}>{j.id}</a> {j.name ? <Truncate text={j.name} max="12rem" class="muted" /> : null}
                    </span>
                  </td>
                  <TenantCell tenant={j.tenant} max="10rem" label="Tenant" />
                  <td data-label="Runs on">
                    <span>
                      <strong style={{ color: typeColor(j.gpuType) }}>{j.gpuType}</strong> ×{j.gpus}
                    </span>
                  </td>
                  <td data-label="Steps/s there" class="num">
                    <span>
                      {num(j.throughput, 2)} <span class="muted small">{j.source ?? ''}</span>
                    </span>
                  </td>
                  <td data-label="Best type">{j.bestType ? <strong style={{ color: typeColor(j.bestType) }}>{j.bestType}</strong> : '–'}</td>
                  <td data-label="Steps/s on best" class="num">
                    <span>
                      {num(j.bestThroughput, 2)} <span class="muted small">{j.bestSource ?? ''}</span>
                    </span>
                  </td>
                  <td data-label="Of best" class={`num ${j.ratio !== null && j.ratio < 0.999 ? 'warn' : ''}`} data-testid="ratio">
                    {j.ratio === null ? '–' : pct(j.ratio)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}
