import { useMemo, useState } from 'preact/hooks';
import type { ChartOption } from '../chart';
import { Chart } from '../chart';
import { OKABE_ITO } from '../colors';
import { num, pct, when } from '../format';
import type { TenantHistory, TenantRound, TenantsView } from '../api';
import { ErrorBox, Section, TenantCell, useLive } from '../ui';

/**
 * The fairness view's tenant quotas (`rondo serve --tenants FILE`, docs/tenants.md): each tenant's guarantee, what
 * it is worth to the tenant's own jobs (entitlement), what it receives, and the GPUs it borrows and lends, now and
 * over the server's per-round history. Nothing shows on a server without a tenant tree.
 */

/** Charts drawn side by side at most; with more tenants, one picked from a list. */
const MAX_CHARTS = 8;

function guaranteeText(g: Readonly<Record<string, number>> | null): string {
  if (!g) return 'none';
  if ('normalized' in g) return `${num(g.normalized, 1)} normalised`;
  const parts = Object.entries(g).map(([t, n]) => `${n} ${t}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

function tenantOption(rows: readonly TenantRound[]): ChartOption {
  const pts = (f: (r: TenantRound) => number | null): Array<[number, number | null]> => rows.map((r) => [r.at, f(r)]);
  return {
    animation: false,
    // The legend below the time axis: on a phone it takes two lines, which above would cover the axis names.
    grid: { left: 44, right: 44, top: 28, bottom: 68 },
    legend: { bottom: 0, itemWidth: 14, textStyle: { fontSize: 11 } },
    tooltip: { trigger: 'axis', valueFormatter: (v: number | null) => num(v) },
    xAxis: { type: 'time' },
    yAxis: [
      { type: 'value', name: 'normalised', min: 0, nameTextStyle: { fontSize: 10 } },
      { type: 'value', name: 'GPUs', min: 0, splitLine: { show: false }, nameTextStyle: { fontSize: 10 } },
    ],
    series: [
      { name: "guarantee's worth", type: 'line', step: 'end', symbol: 'none', lineStyle: { type: 'dashed', color: OKABE_ITO[7] }, itemStyle: { color: OKABE_ITO[7] }, data: pts((r) => (r.activeJobs > 0 ? r.entitlement : null)) },
      { name: 'received', type: 'line', step: 'end', symbol: 'none', lineStyle: { width: 2, color: OKABE_ITO[0] }, itemStyle: { color: OKABE_ITO[0] }, data: pts((r) => r.received) },
      { name: 'borrowed GPUs', type: 'line', step: 'end', symbol: 'none', yAxisIndex: 1, lineStyle: { color: OKABE_ITO[1] }, itemStyle: { color: OKABE_ITO[1] }, areaStyle: { opacity: 0.15 }, data: pts((r) => r.borrowed) },
      { name: 'lent GPUs', type: 'line', step: 'end', symbol: 'none', yAxisIndex: 1, lineStyle: { color: OKABE_ITO[2], type: 'dotted' }, itemStyle: { color: OKABE_ITO[2] }, data: pts((r) => r.lent) },
    ],
  };
}

export function TenantQuotas() {
  const now = useLive<TenantsView>('/api/v1/tenants', 2000);
  const history = useLive<TenantHistory>('/api/v1/tenants/history?rounds=240', 2000);
  const [picked, setPicked] = useState<string | null>(null);
  const byTenant = useMemo(() => {
    const m = new Map<string, TenantRound[]>();
    for (const r of history.data?.rows ?? []) {
      let l = m.get(r.tenant);
      if (!l) m.set(r.tenant, (l = []));
      l.push(r);
    }
    return m;
  }, [history.data]);
  const data = now.data;
  const names = data?.tenants.map((t) => t.tenant) ?? [];
  const shown = names.length <= MAX_CHARTS ? names : [picked ?? names[0]!];
  const options = useMemo(() => new Map(shown.map((t) => [t, tenantOption(byTenant.get(t) ?? [])])), [byTenant, shown.join('\n')]);
  if (!data || data.file === null) return now.error ? <ErrorBox error={now.error} what="Could not load the tenant quotas" /> : null;

  return (
    <Section title="Tenant quotas" aside={<span class="muted" title={data.file}>
          tree {data.file.split('/').pop()}
          {data.loadedAt ? `, read ${when(data.loadedAt)}` : ''}
        </span>}>
      {data.lastError ? <p class="warn small">The last reload failed and the tree above stays in force: {data.lastError}</p> : null}
      <p class="muted small">
        Normalised = V100-equivalents of the tenant's own jobs. Guarantee's worth: what its guaranteed GPUs would do for its active jobs; received: what the current allocation
        gives them. Borrowed: GPUs above its guarantee; lent: GPUs of its unused guarantee other tenants use.
      </p>
      <div class="table-wrap">
        <table data-testid="quota-table">
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              <th scope="col">Guarantee</th>
              <th scope="col" class="num">Worth</th>
              <th scope="col" class="num">Received</th>
              <th scope="col" class="num">Borrowed</th>
              <th scope="col" class="num">Lent</th>
              <th scope="col" class="num">Queued</th>
              <th scope="col" class="num" title="rounds with jobs in which it received under 95% of its guarantee's worth">
                Below guarantee
              </th>
            </tr>
          </thead>
          <tbody>
            {data.tenants.map((t) => (
              <tr>
                <TenantCell tenant={t.tenant} max="12rem">
                  {t.cohorts.length > 0 ? <span class="muted small"> in {t.cohorts.join(' / ')}</span> : null}
                </TenantCell>
                <td>{guaranteeText(t.guarantee)}</td>
                <td class="num">{num(t.entitlement)}</td>
                <td class={`num ${t.activeJobs > 0 && t.entitlement > 0 && t.received < 0.95 * t.entitlement ? 'warn' : ''}`}>{num(t.received)}</td>
                <td class="num">{t.borrowedGpus === null ? '–' : num(t.borrowedGpus, 1)}</td>
                <td class="num">{t.lentGpus === null ? '–' : num(t.lentGpus, 1)}</td>
                <td class="num">{t.queuedJobs}</td>
                <td class="num">{t.roundsWithDemand > 0 ? `${pct(t.roundsBelowGuarantee / t.roundsWithDemand)} of ${t.roundsWithDemand}` : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {names.length > MAX_CHARTS ? (
        <p>
          <label>
            Tenant{' '}
            <select value={shown[0]} onChange={(e) => setPicked((e.target as HTMLSelectElement).value)} data-testid="quota-pick">
              {names.map((n) => (
                <option value={n}>{n}</option>
              ))}
            </select>
          </label>
        </p>
      ) : null}
      <ErrorBox error={history.error} what="Could not load the tenant history" />
      <div class="grid2" data-testid="quota-charts">
        {shown.map((t) =>
          (byTenant.get(t)?.length ?? 0) > 0 ? (
            // min-width 0: a grid item may shrink below its chart's last drawn width (a window made narrower).
            <div style={{ minWidth: 0 }}>
              <h3 class="small">{t}</h3>
              <Chart option={options.get(t)!} height={240} label={`tenant ${t}: guarantee's worth, received, borrowed and lent over time`} testId={`quota-chart-${t}`} />
            </div>
          ) : (
            <p class="muted small">
              {t}: no rounds recorded yet.
            </p>
          ),
        )}
      </div>
    </Section>
  );
}
