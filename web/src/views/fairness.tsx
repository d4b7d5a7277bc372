import { useMemo } from 'preact/hooks';
import type { FairnessView as FairnessData } from '../api';
import { Chart, type ChartOption } from '../chart';
import { OKABE_ITO } from '../colors';
import { num, pct, when } from '../format';
import { Empty, ErrorBox, Section, StateBadge, TenantCell, Truncate, useApp, useLive } from '../ui';
import { TenantQuotas } from './tenant-quotas';

const MAX_BARS = 60;

/** A lower bound under 1 says nothing about unfairness; one above 1 says the job is treated unfairly whatever comes. */
function boundWorthShowing(b: number | null): number | null {
  return b !== null && b > 1 ? b : null;
}

/** Bars of estimated rho, worst first; a job that finishes beyond the simulated horizon shows its lower bound, paler. */
function rhoOption(jobs: FairnessData['jobs']): ChartOption {
  const shown = jobs
    .map((j) => ({ j, v: j.rho ?? boundWorthShowing(j.rhoAtLeast), bound: j.rho === null }))
    .filter((x): x is { j: FairnessData['jobs'][number]; v: number; bound: boolean } => x.v !== null)
    .sort((a, b) => b.v - a.v);
  const color = (x: { v: number; bound: boolean }): string => (x.v > 1 ? OKABE_ITO[3] : OKABE_ITO[0]) + (x.bound ? '66' : '');
  return {
    animation: false,
    grid: { left: 56, right: 16, top: 24, bottom: shown.length > MAX_BARS ? 72 : 48 },
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      formatter: (ps: Array<{ dataIndex: number }>) => {
        const x = shown[ps[0]!.dataIndex]!;
        return `${x.j.id} (${x.j.tenant}): ρ ${x.bound ? '≥ ' : ''}${num(x.v, 2)}${x.bound ? ' (finishes after the simulated horizon)' : ''}`;
      },
    },
    xAxis: { type: 'category', data: shown.map((x) => x.j.id), axisLabel: { rotate: shown.length > 12 ? 45 : 0, hideOverlap: true } },
    yAxis: { type: 'value', name: 'ρ', min: 0 },
    ...(shown.length > MAX_BARS ? { dataZoom: [{ type: 'slider', start: 0, end: (100 * MAX_BARS) / shown.length, bottom: 8, height: 16 }, { type: 'inside' }] } : {}),
    series: [
      {
        type: 'bar',
        data: shown.map((x) => ({ value: x.v, itemStyle: { color: color(x) } })),
        markLine: { silent: true, symbol: 'none', lineStyle: { color: '#333', type: 'dashed' }, label: { formatter: 'fair (ρ = 1)', position: 'insideEndTop' }, data: [{ yAxis: 1 }] },
      },
    ],
  };
}

function heatOption(a: FairnessData['allocation']): ChartOption {
  const rows = a.rows;
  const data: Array<[number, number, number]> = [];
  // Types a job may not use are hatched grey cells labelled "not allowed", apart from a 0% share it could get.
  const notAllowed: Array<{ value: [number, number] }> = [];
  rows.forEach((r, y) =>
    r.shares.forEach((v, x) => {
      if (r.allowed && !r.allowed.includes(a.gpuTypes[x]!)) notAllowed.push({ value: [x, y] });
      else data.push([x, y, Math.round(v * 10000) / 10000]);
    }),
  );
  // Colour scale up to the largest share, so 1,000 jobs with 0.2% each are still told apart from 0.
  const top = Math.max(0.01, ...data.map((d) => d[2]));
  const visible = 30;
  return {
    animation: false,
    grid: { left: 80, right: 24, top: 8, bottom: 72 },
    tooltip: { formatter: (p: { value: [number, number, number] }) => `${rows[p.value[1]]?.jobId} (${rows[p.value[1]]?.tenant}) on ${a.gpuTypes[p.value[0]]}: ${pct(p.value[2], 1)} of the time` },
    xAxis: { type: 'category', data: a.gpuTypes, splitArea: { show: true } },
    yAxis: { type: 'category', data: rows.map((r) => r.jobId), inverse: true, axisLabel: { hideOverlap: true } },
    visualMap: { min: 0, max: top, calculable: false, orient: 'horizontal', left: 'center', bottom: 4, itemHeight: 120, text: [`${pct(top, top < 0.1 ? 1 : 0)} of the time`, '0'], inRange: { color: ['#f4f8fb', '#56B4E9', '#0072B2', '#003b5c'] } },
    ...(rows.length > visible ? { dataZoom: [{ type: 'slider', yAxisIndex: 0, right: 0, width: 14, start: 0, end: (100 * visible) / rows.length }, { type: 'inside', yAxisIndex: 0 }] } : {}),
    series: [
      {
        type: 'heatmap',
        data,
        label: { show: rows.length <= visible && a.gpuTypes.length <= 8, formatter: (p: { value: [number, number, number] }) => (p.value[2] > 0 ? pct(p.value[2]) : '0%') },
      },
      {
        type: 'custom',
        name: 'not allowed',
        data: notAllowed,
        encode: { x: 0, y: 1 },
        tooltip: { formatter: (p: { value: [number, number] }) => `${rows[p.value[1]]?.jobId} may not run on ${a.gpuTypes[p.value[0]]}` },
        renderItem: (_p: unknown, api: { value(d: number): number; coord(v: [number, number]): [number, number]; size(v: [number, number]): [number, number] }) => {
          const [cx, cy] = api.coord([api.value(0), api.value(1)]);
          const [w, h] = api.size([1, 1]);
          return {
            type: 'group',
            children: [
              { type: 'rect', shape: { x: cx - w / 2 + 1, y: cy - h / 2 + 1, width: w - 2, height: h - 2 }, style: { fill: '#8c8c8c33', stroke: '#8c8c8c' } },
              ...(h >= 14 && w >= 70 ? [{ type: 'text', style: { x: cx, y: cy, text: 'not allowed', align: 'center', verticalAlign: 'middle', fill: '#8c8c8c', fontSize: 11 } }] : []),
            ],
          };
        },
      },
    ],
  };
}

export function FairnessView() {
  const { me } = useApp();
  const { data, error } = useLive<FairnessData>('/api/v1/fairness', 2000);
  const rho = useMemo(() => (data ? rhoOption(data.jobs) : null), [data]);
  const heat = useMemo(() => (data ? heatOption(data.allocation) : null), [data]);
  const unfair = data ? data.jobs.filter((j) => (j.rho ?? j.rhoAtLeast ?? 0) > 1).length : 0;
  const beyond = data ? data.jobs.filter((j) => j.rho === null && j.rhoAtLeast !== null).length : 0;
  const unknown = data ? data.jobs.filter((j) => j.rho === null && j.rhoAtLeast === null).length : 0;
  const drawable = data ? data.jobs.some((j) => j.rho !== null || boundWorthShowing(j.rhoAtLeast) !== null) : false;
  const ranked = data ? data.jobs.filter((j) => j.rho !== null).sort((a, b) => b.rho! - a.rho!) : [];

  return (
    <div class="fairness">
      <ErrorBox error={error} what="Could not load fairness" />
      <TenantQuotas />
      {!data && !error ? <p class="muted">Loading…</p> : null}
      {data ? (
        <>
          <Section title={me.kind === 'admin' ? 'Tenants' : `Tenant ${me.tenant}`} aside={<span class="muted">policy {data.policy}</span>}>
            {data.tenants.length === 0 ? (
              <Empty title="No active jobs.">Fairness is about jobs that wait or run; there are none now.</Empty>
            ) : (
              <div class="table-wrap">
                <table data-testid="tenant-table">
                  <thead>
                    <tr>
                      <th scope="col">Tenant</th>
                      <th scope="col" class="num">
                        Active jobs
                      </th>
                      <th scope="col" class="num">
                        GPUs held
                      </th>
                      <th scope="col" title="share of the busy GPUs this tenant holds, against an equal split among tenants with work">
                        GPU share / equal split
                      </th>
                      <th scope="col" class="num" title="mean estimated finish-time fairness of the tenant's jobs">
                        Mean <span class="nocase">ρ</span>
                      </th>
                      <th scope="col" class="num">
                        Worst <span class="nocase">ρ</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.tenants.map((t) => (
                      <tr>
                        <TenantCell tenant={t.tenant} max="14rem" />
                        <td class="num">{t.activeJobs}</td>
                        <td class="num">{t.gpusHeld}</td>
                        <td>
                          <span class="meter inline-meter" title={`${pct(t.gpuShare)} held, ${pct(t.fairShare)} would be an equal split`}>
                            <span style={{ width: pct(t.gpuShare), background: OKABE_ITO[0] }} />
                            <i style={{ left: pct(t.fairShare) }} />
                          </span>{' '}
                          {pct(t.gpuShare)} / {pct(t.fairShare)}
                        </td>
                        <td class="num">{num(t.meanRho)}</td>
                        <td class={`num ${t.maxRho !== null && t.maxRho > 1 ? 'warn' : ''}`}>{num(t.maxRho)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Section>

          <Section
            title="Finish-time fairness per job (estimated)"
            aside={
              <span class="muted">
                {unfair} of {data.jobs.length} jobs above 1{beyond ? `; ${beyond} finish beyond the simulated horizon` : ''}
                {unknown ? `; ${unknown} without an estimate (length unknown, or no GPU fits)` : ''}
              </span>
            }
          >
            <p class="muted small">
              ρ = (estimated finish − submission) ÷ the time the job would take on an equal 1/n share of the cluster, n = jobs active now (Themis). ρ ≤ 1: at least as good
              as an equal split. Estimates from {when(data.at)}.
            </p>
            {drawable && rho ? (
              <>
                <Chart option={rho} height={240} label="estimated finish-time fairness per job" testId="rho-chart" />
                {beyond ? <p class="muted small">Pale bars: jobs that finish beyond the simulated horizon; their ρ is at least that high.</p> : null}
              </>
            ) : data.estimatesSkipped ? (
              <Empty title="No estimates for a queue this long.">{data.estimatesSkipped}.</Empty>
            ) : beyond > 0 ? (
              <Empty title="These jobs finish beyond the simulated horizon.">
                The estimate simulates a bounded stretch of the future so that it stays fast; ρ will show once jobs come within it.
              </Empty>
            ) : (
              <Empty title="No estimates to show.">Jobs need a known length (total steps) and a GPU type that can run them.</Empty>
            )}
          </Section>

          <Section title="Current allocation" aside={<span class="muted">time share of each job on each GPU type, from the last round</span>}>
            {data.allocation.rows.length > 0 && heat ? (
              <>
                <Chart option={heat} height={Math.min(640, 110 + 22 * Math.min(30, data.allocation.rows.length))} label="allocation matrix heat map" testId="allocation-heatmap" />
                <p class="muted small">Blue: the job's share of that type's time (0% when the policy gives it none). Grey outlined cells: the job may not run on that type.</p>
              </>
            ) : (
              <Empty title="The allocation is empty.">It is computed at each round for the jobs that wait or run.</Empty>
            )}
          </Section>

          {ranked.length > 0 ? (
            <Section title="Least fairly treated jobs">
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Job</th>
                      <th scope="col">Tenant</th>
                      <th scope="col">State</th>
                      <th scope="col">Estimated finish</th>
                      <th scope="col" class="num">
                        <span class="nocase">ρ</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {ranked.slice(0, 10).map((j) => (
                        <tr>
                          <td>
                            <a href={`#/jobs/${j.id}`}>{j.id}</a> {j.name ? <Truncate text={j.name} max="16rem" class="job-name" /> : null}
                          </td>
                          <TenantCell tenant={j.tenant} max="10rem" />
                          <td>
                            <StateBadge state={j.state} />
                          </td>
                          <td>{when(j.estimatedFinish)}</td>
                          <td class={`num ${j.rho! > 1 ? 'warn' : ''}`}>{num(j.rho)}</td>
                        </tr>
                      ))}
                  </tbody>
                </table>
              </div>
            </Section>
          ) : null}
        </>
      ) : null}
    </div>
  );
}
