import { useMemo } from 'preact/hooks';
import type { ClusterHistory, ClusterView as ClusterData } from '../api';
import { Chart, type ChartOption } from '../chart';
import { typeColor } from '../colors';
import { duration, int, num, pct } from '../format';
import { Empty, ErrorBox, Section, Truncate, useLive } from '../ui';

/**
 * Busy GPUs per type as counts, not as a share of today's capacity: a stretch drawn while a worker was away (or
 * before one joined) keeps its height when the cluster changes later.
 */
function utilisationOption(h: ClusterHistory): ChartOption {
  const from = new Date(h.from).getTime();
  const x = (i: number): number => from + (i + 0.5) * h.bucketMs;
  return {
    animation: false,
    color: h.types.map((t) => typeColor(t.type)),
    grid: { left: 48, right: 16, top: 36, bottom: 32 },
    legend: { top: 0, data: h.types.map((t) => t.type) },
    tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => `${num(Number(v), 1)} GPUs` },
    xAxis: { type: 'time', min: from, max: new Date(h.to).getTime() },
    yAxis: { type: 'value', min: 0, minInterval: 1, name: 'busy GPUs', nameGap: 12 },
    series: h.types.map((t) => ({
      name: t.type,
      type: 'line',
      step: 'middle',
      showSymbol: false,
      lineStyle: { width: 2 },
      data: t.busy.map((b, i) => [x(i), b]),
    })),
  };
}

type Worker = ClusterData['workers'][number];

/**
 * A worker that registered again (same machine and name, e.g. after a restart) retires its old registration on the
 * server (`replacedBy`): the live ones are the workers, the retired ones are listed as replaced, the rest as gone.
 */
function splitWorkers(all: readonly Worker[]): { alive: Worker[]; replaced: Worker[]; gone: Worker[] } {
  return {
    alive: all.filter((w) => w.state === 'alive'),
    replaced: all.filter((w) => w.state !== 'alive' && w.replacedBy !== null),
    gone: all.filter((w) => w.state !== 'alive' && w.replacedBy === null),
  };
}

/** The worker-wide index of the first device of its `gi`-th GPU group. */
function deviceOffset(gpus: ReadonlyArray<{ count: number }>, gi: number): number {
  let d = 0;
  for (let i = 0; i < gi; i++) d += gpus[i]!.count;
  return d;
}

export function ClusterView() {
  const cluster = useLive<ClusterData>('/api/v1/cluster');
  const history = useLive<ClusterHistory>('/api/v1/cluster/history?minutes=30', 3000);
  const c = cluster.data;
  const types = useMemo(() => (c ? Object.keys(c.gpus).sort() : []), [c]);
  const option = useMemo(() => (history.data ? utilisationOption(history.data) : null), [history.data]);
  const { alive, replaced, gone } = useMemo(() => splitWorkers(c?.workers ?? []), [c]);
  // Totals from the live workers (a replaced registration's GPUs are counted under the one that replaced it).
  const totals = useMemo(() => {
    const t: Record<string, { total: number; busy: number }> = {};
    for (const w of alive) {
      for (const g of w.gpus) (t[g.type] ??= { total: 0, busy: 0 }).total += g.count;
      for (const r of w.running) (t[r.gpuType] ??= { total: 0, busy: 0 }).busy += r.devices.length;
    }
    return t;
  }, [alive]);

  return (
    <div class="cluster">
      <ErrorBox error={cluster.error} what="Could not load the cluster" />
      {c ? (
        <div class="summary" data-testid="gpu-summary">
          {types.length === 0 ? null : (
            types.map((t) => {
              const g = totals[t] ?? { total: 0, busy: 0 };
              return (
                <div class="stat" style={{ borderTopColor: typeColor(t) }}>
                  <div class="stat-label">
                    <Truncate text={t} max="10rem" />
                  </div>
                  <div class="stat-value">
                    {g.busy} / {g.total} <span class="muted">busy</span>
                  </div>
                  <div class="meter" aria-hidden="true">
                    <span style={{ width: pct(g.total ? g.busy / g.total : 0), background: typeColor(t) }} />
                  </div>
                </div>
              );
            })
          )}
          <div class="stat">
            <div class="stat-label">jobs, all tenants</div>
            <div class="stat-value">
              {int(c.jobs.running)} <span class="muted">running</span> · {int(c.jobs.queued)} <span class="muted">queued</span>
            </div>
            <div class="muted small">
              policy {c.policy}, rounds of {duration(c.roundMs / 1000)}
            </div>
          </div>
        </div>
      ) : null}

      <Section title="Busy GPUs per type, last 30 minutes">
        {option && history.data && history.data.types.length > 0 ? (
          <Chart option={option} height={220} label="busy GPUs per type over the last 30 minutes" testId="utilisation-chart" />
        ) : history.data ? (
          <Empty title="No GPUs yet.">Utilisation appears once a worker has registered.</Empty>
        ) : (
          <p class="muted">Loading…</p>
        )}
      </Section>

      <Section title={`Workers (${alive.length} live${gone.length ? `, ${gone.length} gone` : ''})`}>
        {replaced.length > 0 ? (
          <p class="muted small" data-testid="replaced">
            Registered again after a restart (the old registration is retired):{' '}
            {replaced.map((w) => `${w.name} ${w.id} → ${w.replacedBy}`).join(', ')}.
          </p>
        ) : null}
        {c && c.workers.length === 0 ? (
          <Empty title="No workers have registered.">
            <p>
              Start the server with <code>--local-workers N</code>, or run <code>rondo worker --server URL --token T --gpus v100:4</code> on each GPU machine.
            </p>
          </Empty>
        ) : null}
        <div class="workers">
          {[...alive, ...gone].map((w) => (
            <div class={`worker ${w.state}`} data-worker={w.id}>
              <div class="worker-head">
                <strong>
                  <Truncate text={w.name} max="14rem" />
                </strong>
                <span class="muted">{w.id}</span>
                {w.state !== 'alive' ? <span class="badge gone">gone</span> : null}
              </div>
              {w.gpus.map((g, gi) => (
                <div class="gpu-row" data-type={g.type}>
                  <span class="gpu-type" style={{ color: typeColor(g.type) }}>
                    {g.type}
                  </span>
                  <div class="slots">
                    {Array.from({ length: g.count }, (_, k) => {
                      // Devices are numbered per worker across its types (as the agent sets CUDA_VISIBLE_DEVICES and
                      // as the job page lists them): a worker with v100:2,k80:2 has k80 GPUs 2 and 3.
                      const d = deviceOffset(w.gpus, gi) + k;
                      const r = w.running.find((x) => x.gpuType === g.type && x.devices.includes(d));
                      const label = r ? (r.jobId ?? 'other tenant') : 'idle';
                      const cls = r ? (r.jobId ? 'slot busy' : 'slot other') : 'slot idle';
                      const style = r && r.jobId ? { background: typeColor(g.type) } : undefined;
                      const body = (
                        <>
                          <span class="slot-dev">GPU {d}</span>
                          <span class="slot-job">{label}</span>
                        </>
                      );
                      return r?.jobId ? (
                        <a class={cls} style={style} href={`#/jobs/${r.jobId}`} title={`${g.type} GPU ${d}: ${r.jobId}`} data-device={d} data-slot="busy">
                          {body}
                        </a>
                      ) : (
                        <span class={cls} title={`${g.type} GPU ${d}: ${label}`} data-device={d} data-slot={r ? 'other' : 'idle'}>
                          {body}
                        </span>
                      );
                    })}
                  </div>
                </div>
              ))}
            </div>
          ))}
        </div>
      </Section>
    </div>
  );
}
