import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, type JobDetail, type JobWhy, type LogLine, type LogPage, type Timeline } from '../api';
import { Chart, echarts, type ChartOption } from '../chart';
import { typeColor } from '../colors';
import { duration, num, pct, relative, when } from '../format';
import { Empty, ErrorBox, Progress, Section, StateBadge, Truncate, useApp, useLive } from '../ui';
import { CancelButton } from './queue';

interface CustomApi {
  value(dim: number): number;
  coord(v: [number, number]): [number, number];
  size(v: [number, number]): [number, number];
  visual(name: 'color'): string;
}

/** One bar per attempt (the time the process ran) on its GPU type's row; thin ticks mark the rounds it was placed in. */
function timelineOption(t: Timeline, types: readonly string[]): ChartOption {
  const now = Date.now();
  const bars = t.attempts
    .filter((a) => a.startedAt)
    .map((a) => ({
      value: [types.indexOf(a.gpuType), new Date(a.startedAt!).getTime(), new Date(a.endedAt ?? now).getTime(), a.id],
      itemStyle: { color: typeColor(a.gpuType) },
      info: `attempt ${a.id} on ${a.workerName} (${a.gpuType} GPU ${a.devices.join(',')}): ${when(a.startedAt)} – ${a.endedAt ? when(a.endedAt) : 'now'}${a.endReason ? `, ${a.endReason}` : ', running'}`,
    }));
  const rounds = t.rounds.map((r) => ({
    value: [types.indexOf(r.gpuType), new Date(r.start).getTime(), new Date(r.end).getTime(), r.round],
    info: `round ${r.round} on ${r.workerId} (${r.gpuType})${r.leaseExtended ? ', lease extended' : ''}`,
  }));
  const start = new Date(t.submittedAt).getTime();
  const end = Math.max(start + 1000, t.finishedAt ? new Date(t.finishedAt).getTime() : now);
  const rect = (yOffset: number, hFrac: number) => (params: unknown, api: CustomApi) => {
    const y = api.value(0);
    const [x0, yc] = api.coord([api.value(1), y]);
    const [x1] = api.coord([api.value(2), y]);
    const h = api.size([0, 1])[1] * hFrac;
    const shape = echarts.graphic.clipRectByRect(
      { x: x0, y: yc - h / 2 + yOffset * api.size([0, 1])[1], width: Math.max(1, x1 - x0), height: h },
      (params as { coordSys: { x: number; y: number; width: number; height: number } }).coordSys,
    );
    return shape ? { type: 'rect', shape, style: { fill: api.visual('color') } } : null;
  };
  return {
    animation: false,
    grid: { left: 72, right: 16, top: 8, bottom: 32 },
    tooltip: { formatter: (p: { data: { info: string } }) => p.data.info },
    xAxis: { type: 'time', min: start, max: end },
    yAxis: { type: 'category', data: [...types] },
    series: [
      { type: 'custom', name: 'attempts', renderItem: rect(-0.1, 0.45), encode: { x: [1, 2], y: 0 }, data: bars },
      { type: 'custom', name: 'rounds', renderItem: rect(0.25, 0.12), encode: { x: [1, 2], y: 0 }, itemStyle: { color: '#9a9a9a' }, data: rounds },
    ],
  };
}

function throughputOption(tp: Record<string, number>): ChartOption {
  const ks = Object.keys(tp).sort();
  return {
    animation: false,
    grid: { left: 56, right: 16, top: 32, bottom: 28 },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v: unknown) => `${num(Number(v), 2)} steps/s` },
    xAxis: { type: 'category', data: ks },
    yAxis: { type: 'value', name: 'steps/s' },
    series: [{ type: 'bar', barMaxWidth: 48, data: ks.map((k) => ({ value: tp[k], itemStyle: { color: typeColor(k) } })) }],
  };
}

/**
 * The agent's own lines name an attempt by its server-wide id ("started attempt 15"); the page numbers a job's
 * attempts 1, 2, … as they ran, so the lines say the same number (with the id, which the agent's log uses).
 */
function numbered(text: string, attemptNo: ReadonlyMap<number, number>): string {
  return text.replace(/\battempt (\d+)\b/g, (m, id: string) => {
    const n = attemptNo.get(Number(id));
    return n === undefined ? m : `attempt ${n} (id ${id})`;
  });
}

/** The job's captured output, fetched in pieces as it grows; follows the end unless the reader scrolled up. */
function Logs(props: { id: string; attemptNo: ReadonlyMap<number, number> }) {
  const { version } = useApp();
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<ApiError | undefined>();
  const after = useRef(0);
  const busy = useRef(false);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    after.current = 0;
    setLines([]);
  }, [props.id]);
  useEffect(() => {
    if (busy.current) return;
    busy.current = true;
    const el = box.current;
    const atEnd = !el || el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
    api<LogPage>('GET', `/api/v1/jobs/${encodeURIComponent(props.id)}/logs?after=${after.current}&limit=2000`)
      .then((r) => {
        setError(undefined);
        if (r.lines.length === 0) return;
        after.current = r.lines[r.lines.length - 1]!.id;
        setLines((old) => [...old, ...r.lines].slice(-5000));
        if (atEnd) requestAnimationFrame(() => box.current && (box.current.scrollTop = box.current.scrollHeight));
      })
      .catch((e: unknown) => setError(e instanceof ApiError ? e : new ApiError(0, 'E_CLIENT', String(e))))
      .finally(() => (busy.current = false));
  }, [props.id, version]);
  return (
    <>
      <ErrorBox error={error} what="Could not load the logs" />
      {lines.length === 0 ? (
        <Empty title="No output yet.">Lines the job prints on stdout and stderr appear here as it runs.</Empty>
      ) : (
        <pre class="logs" ref={box} data-testid="logs" tabIndex={0} aria-label="job output">
          {lines.map((l) => (
            <div class={`log-${l.stream}`}>
              <span class="log-time">{when(l.at)}</span> {l.stream === 'system' ? numbered(l.text, props.attemptNo) : l.text}
            </div>
          ))}
        </pre>
      )}
    </>
  );
}

/** Where a job stands and why, in words, on the page (never only in a tooltip): the planner's own reason. */
function WhyPanel(props: { why: JobWhy | undefined; job: JobDetail }) {
  const w = props.why;
  const j = props.job;
  if (!w || (j.state !== 'queued' && j.state !== 'running')) return null;
  const lastPreemption = w.preemption ? (
    <p class="why-line" data-testid="why-preemption">
      <strong>Last {w.preemption.kind === 'moved' ? 'move' : 'preemption'}:</strong> {w.preemption.text}
      {w.preemptions > 1 ? <span class="muted"> ({w.preemptions} preemptions in all)</span> : null}
    </p>
  ) : null;
  if (j.state === 'running') return lastPreemption ? <div class="card why" data-testid="why">{lastPreemption}</div> : null;
  const never = w.why?.kind === 'never';
  return (
    <div class={`card why ${never ? 'why-never' : ''}`} data-testid="why" data-kind={w.why?.kind ?? 'unknown'}>
      <p class="why-line why-head">
        {never ? (
          <strong>Cannot start on the current workers.</strong>
        ) : (
          <>
            <strong>Waiting</strong>
            {w.position !== null ? (
              <>
                {' '}
                — position <span data-testid="why-position">{w.position}</span> of {w.queued} in the queue
              </>
            ) : null}
            {w.estimatedStart ? (
              <>
                ; estimated start <span data-testid="why-start">{when(w.estimatedStart)}</span> ({relative(w.estimatedStart)})
              </>
            ) : w.estimated ? (
              '; no start within the estimate’s horizon'
            ) : (
              '; estimating its start…'
            )}
            {w.estimatedFinish ? <>, finish {when(w.estimatedFinish)}</> : null}.
          </>
        )}
      </p>
      <p class="why-line" data-testid="why-text">
        <strong>Why:</strong> {w.why ? w.why.text : 'the scheduler has not planned a round since it arrived.'}
        {w.why?.round ? <span class="muted"> (round {w.why.round})</span> : null}
      </p>
      {lastPreemption}
    </div>
  );
}

/**
 * The job's throughput where it runs now against its best allowed type, from what the scheduler assumes (measured,
 * the throughput table, or estimated from it, each named): what heterogeneity costs it (the Heterogeneity view shows
 * the same for every running job and over time).
 */
function Heterogeneity(props: { throughputs: NonNullable<JobDetail['throughputs']>; allowed: readonly string[] | null; current: string | null }) {
  const entries = props.throughputs.filter((t) => t.value > 0 && (props.allowed === null || props.allowed.includes(t.gpuType)));
  if (entries.length === 0) return null;
  const best = entries.reduce((b, e) => (e.value > b.value ? e : b));
  const now = props.current ? entries.find((t) => t.gpuType === props.current) : undefined;
  const type = (t: string) => <strong style={{ color: typeColor(t) }}>{t}</strong>;
  return (
    <p data-testid="heterogeneity">
      {props.current && now ? (
        now.gpuType === best.gpuType ? (
          <>
            Runs on {type(now.gpuType)}, its best allowed type ({num(now.value, 2)} steps/s, {now.source}).
          </>
        ) : (
          <>
            Runs on {type(now.gpuType)} at {num(now.value, 2)} steps/s ({now.source}): <strong data-testid="heterogeneity-ratio">{pct(now.value / best.value)}</strong> of its best type,{' '}
            {type(best.gpuType)} ({num(best.value, 2)} steps/s, {best.source}).
          </>
        )
      ) : (
        <>
          Not running now. Its best type is {type(best.gpuType)} ({num(best.value, 2)} steps/s, {best.source})
          {entries.length > 1 ? `, ${num(best.value / Math.min(...entries.map((e) => e.value)), 1)}× its slowest allowed type` : ''}.
        </>
      )}{' '}
      <a href="#/heterogeneity" class="small">
        All jobs, over time →
      </a>
    </p>
  );
}

/** One clean view for a job that does not exist or belongs to another tenant: nothing else is fetched. */
function NotFound(props: { id: string; error: ApiError }) {
  const gone = props.error.status === 404 || props.error.status === 403;
  return (
    <div class="job-page" data-testid="job-not-found">
      <p>
        <a href="#/queue">← Queue</a>
      </p>
      {gone ? (
        <Empty title={`No job ${props.id}.`}>
          <p>There is no job with this id that this token can see. Jobs of other tenants are not shown.</p>
        </Empty>
      ) : (
        <ErrorBox error={props.error} what={`Job ${props.id}`} />
      )}
    </div>
  );
}

/** "Failed (exit code 3)" once, not "Failed (exit code 3): exit code 3"; other reasons in full. */
export function failureText(failure: string, exitCode: number | null): string {
  const code = exitCode !== null ? ` (exit code ${exitCode})` : '';
  const plain = failure.trim().replace(/\.$/, '');
  return exitCode !== null && new RegExp(`^(exit(ed)?( with)?( code)? ${exitCode}|exit code ${exitCode})$`, 'i').test(plain) ? `Failed${code}` : `Failed${code}: ${failure}`;
}

export function JobView(props: { id: string }) {
  const id = props.id;
  const job = useLive<JobDetail>(`/api/v1/jobs/${encodeURIComponent(id)}`);
  const j = job.data;
  // The rest is asked for only once the job is known to be visible.
  const tl = useLive<Timeline>(j ? `/api/v1/jobs/${encodeURIComponent(id)}/timeline` : null, 1500);
  const why = useLive<JobWhy>(j && (j.state === 'queued' || j.state === 'running') ? `/api/v1/jobs/${encodeURIComponent(id)}/why` : null, 1500);
  const types = useMemo(() => {
    const t = tl.data;
    return t ? [...new Set([...t.attempts.map((a) => a.gpuType), ...t.rounds.map((r) => r.gpuType), ...Object.keys(t.throughputs)])].sort() : [];
  }, [tl.data]);
  const timeline = useMemo(() => (tl.data && types.length ? timelineOption(tl.data, types) : null), [tl.data, types]);
  const throughput = useMemo(() => (tl.data && Object.keys(tl.data.throughputs).length ? throughputOption(tl.data.throughputs) : null), [tl.data]);

  if (job.error && !j) return <NotFound id={id} error={job.error} />;
  if (!j) return <p class="muted">Loading…</p>;
  const ran = tl.data?.attempts.filter((a) => a.startedAt) ?? [];
  return (
    <div class="job-page" data-job={j.id} data-state={j.state}>
      <p class="crumbs">
        <a href="#/queue">← Queue</a>
      </p>
      <header class="job-head card">
        <div class="job-title">
          <h1>
            {j.id}
            {j.name ? (
              <>
                {' '}
                <Truncate text={j.name} max="32rem" class="job-name-big" />
              </>
            ) : null}
          </h1>
          <StateBadge state={j.state} cancelling={j.cancelRequested} />
          <CancelButton job={j} onDone={job.reload} />
        </div>
        <dl class="facts">
          <div>
            <dt>Tenant</dt>
            <dd>
              <Truncate text={j.tenant} max="12rem" />
            </dd>
          </div>
          <div>
            <dt>Progress</dt>
            <dd>
              <Progress done={j.stepsDone} total={j.totalSteps} />
            </dd>
          </div>
          <div>
            <dt>GPUs</dt>
            <dd>
              {j.scaleFactor} × {j.gpuTypes ? j.gpuTypes.join(', ') : 'any type'}
            </dd>
          </div>
          <div>
            <dt>Submitted</dt>
            <dd title={j.submittedAt}>
              {when(j.submittedAt)} <span class="muted">({relative(j.submittedAt)})</span>
            </dd>
          </div>
          <div>
            <dt>{j.finishedAt ? 'Finished' : 'Started'}</dt>
            <dd>{j.finishedAt ? `${when(j.finishedAt)} (took ${duration((new Date(j.finishedAt).getTime() - new Date(j.submittedAt).getTime()) / 1000)})` : when(j.startedAt)}</dd>
          </div>
          <div>
            <dt>Attempts</dt>
            <dd title="times a process of the job was started">{ran.length}</dd>
          </div>
        </dl>
        <div class="command">
          <span class="muted">command</span> <Truncate text={j.command.join(' ')} class="mono" max="100%" />
          <span class="muted">in</span> <Truncate text={j.cwd} class="mono" max="24rem" />
        </div>
        {j.failure ? (
          <div class="error" role="alert" data-testid="failure">
            {failureText(j.failure, j.exitCode)}
          </div>
        ) : null}
      </header>
      <WhyPanel why={why.data} job={j} />

      <div class="two-col">
        <Section title="Timeline: attempts and rounds by GPU type">
          <ErrorBox error={tl.error} what="Could not load the timeline" />
          {timeline ? (
            <>
              <Chart option={timeline} height={70 + 44 * types.length} label="timeline of the job's attempts and rounds" testId="timeline-chart" />
              <p class="muted small">Thick bars: the process ran; thin grey bars: rounds in which the job held GPUs.</p>
              {tl.data?.roundsPruned ? (
                <p class="muted small" data-testid="rounds-pruned">
                  Rounds up to {tl.data.roundsPruned.last} ({tl.data.roundsPruned.count}) have no grey bars: the server keeps the plans of recent rounds only
                  (rondo serve --keep-plans).
                </p>
              ) : null}
            </>
          ) : tl.data ? (
            <Empty title="Not placed yet.">The job has waited since {when(j.submittedAt)}; it appears here once a round gives it GPUs (why it waits: above).</Empty>
          ) : null}
        </Section>
        <Section title="Throughput per GPU type">
          {j.throughputs ? <Heterogeneity throughputs={j.throughputs} allowed={j.gpuTypes} current={ran.find((a) => a.state === 'running')?.gpuType ?? null} /> : null}
          {throughput ? (
            <>
              <Chart option={throughput} height={180} label="measured throughput per GPU type" testId="throughput-chart" />
            </>
          ) : (
            <Empty title="No throughput reported yet.">Jobs report steps/s through the Rondo client or a RONDO_PROGRESS line.</Empty>
          )}
          {j.throughputs && j.throughputs.length > 0 ? (
            <div class="table-wrap">
              <table data-testid="throughput-sources">
                <caption class="muted small">What the scheduler assumes: measured, from the throughput table, or estimated from it.</caption>
                <thead>
                  <tr>
                    <th scope="col">GPU</th>
                    <th scope="col" class="num">
                      steps/s
                    </th>
                    <th scope="col">source</th>
                    <th scope="col" class="num">
                      confidence
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {j.throughputs.map((t) => (
                    <tr data-source={t.source}>
                      <td>{t.gpuType}</td>
                      <td class="num">{num(t.value)}</td>
                      <td title={t.source === 'estimated' ? `about ±${Math.round(t.uncertainty * 100)}% (one standard deviation)` : undefined}>{t.source}</td>
                      <td class="num">{t.confidence.toFixed(2)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </Section>
      </div>

      {ran.length > 0 ? (
        <Section title="Attempts">
          <div class="table-wrap">
            <table data-testid="attempts-table">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Worker</th>
                  <th scope="col">GPU</th>
                  <th scope="col">Ran</th>
                  <th scope="col">Ended</th>
                  <th scope="col" class="num">
                    From step
                  </th>
                </tr>
              </thead>
              <tbody>
                {ran.map((a, n) => (
                  <tr>
                    <td title={`attempt id ${a.id} (the logs say both)`}>{n + 1}</td>
                    <td>
                      <Truncate text={a.workerName} max="12rem" />
                    </td>
                    <td>
                      {a.gpuType} GPU {a.devices.join(', ')}
                    </td>
                    <td>
                      {when(a.startedAt)} – {a.endedAt ? when(a.endedAt) : 'now'}
                    </td>
                    <td>{a.endReason ?? (a.state === 'running' ? 'running' : a.state)}</td>
                    <td class="num">{a.stepsAtStart}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Section>
      ) : null}

      <Section title="Logs">
        <Logs id={j.id} attemptNo={new Map(ran.map((a, n) => [a.id, n + 1]))} />
      </Section>
    </div>
  );
}
