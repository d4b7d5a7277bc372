import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, JOB_STATES, type JobState, type QueuePage, type QueueRow } from '../api';
import { typeColor } from '../colors';
import { int, pct, relative, when } from '../format';
import { Empty, ErrorBox, navigate, Progress, StateBadge, TenantCell, Truncate, useApp, useLive } from '../ui';

const PAGE = 50;

function hashWith(params: URLSearchParams, changes: Record<string, string | null>): string {
  const p = new URLSearchParams(params);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === '') p.delete(k);
    else p.set(k, v);
  }
  const q = p.toString();
  return `#/queue${q ? `?${q}` : ''}`;
}

/** Target share (outline) against received share (fill) for each GPU type, as small bars. */
export function Shares(props: { types: readonly string[]; target: readonly number[] | null; received: readonly number[] }) {
  const { types } = props;
  if (types.length === 0) return <span class="muted">–</span>;
  const title = types
    .map((t, k) => `${t}: target ${props.target ? pct(props.target[k] ?? 0) : '–'}, received ${pct(props.received[k] ?? 0)}`)
    .join('\n');
  return (
    <span class="shares" title={title} aria-label={title}>
      {types.map((t, k) => {
        const target = props.target?.[k] ?? 0;
        const got = props.received[k] ?? 0;
        const c = typeColor(t);
        return (
          <span class="share" data-type={t}>
            <svg width="44" height="14" viewBox="0 0 44 14" aria-hidden="true">
              <rect x="0.5" y="0.5" width="43" height="5" fill="none" stroke="#c8c8c8" />
              {props.target ? <rect x="0.5" y="0.5" width={Math.max(0, 43 * Math.min(1, target))} height="5" fill="none" stroke={c} stroke-width="1.5" /> : null}
              <rect x="0" y="8" width={44 * Math.min(1, got)} height="6" fill={c} data-fill="received" />
            </svg>
            <span class="share-type">
              {t} <span class="share-num">{props.target ? `${Math.round(100 * target)}/${Math.round(100 * got)}%` : `–/${Math.round(100 * got)}%`}</span>
            </span>
          </span>
        );
      })}
    </span>
  );
}

/** A cancel button that asks once more before it acts (a cancelled job cannot be resumed). */
export function CancelButton(props: { job: { id: string; state: JobState; cancelRequested: boolean }; onDone?: () => void }) {
  const [armed, setArmed] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const { job } = props;
  if (job.state !== 'queued' && job.state !== 'running') return null;
  if (job.cancelRequested) return <span class="muted">stopping…</span>;
  const click = async (e: Event): Promise<void> => {
    e.stopPropagation();
    if (!armed) {
      setArmed(true);
      timer.current = window.setTimeout(() => setArmed(false), 4000);
      return;
    }
    window.clearTimeout(timer.current);
    setBusy(true);
    try {
      await api('POST', `/api/v1/jobs/${encodeURIComponent(job.id)}/cancel`);
      setError(null);
      props.onDone?.();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
      setArmed(false);
    }
  };
  return (
    <span class="cancel">
      <button type="button" class={armed ? 'danger' : 'secondary'} disabled={busy} onClick={(e) => void click(e)} aria-label={armed ? `confirm cancelling ${job.id}` : `cancel ${job.id}`}>
        {busy ? 'Cancelling…' : armed ? 'Confirm' : 'Cancel'}
      </button>
      {error ? (
        <span class="error-inline" role="alert" title={error}>
          {error}
        </span>
      ) : null}
    </span>
  );
}

function Where(props: { row: QueueRow; horizon: string | null; skipped: string | null }) {
  const r = props.row;
  if (r.state === 'running') {
    const on = r.runningOn;
    return <span title={r.startedAt ? `first started ${when(r.startedAt)}` : ''}>{on ? `on ${on.workerId} · ${on.gpuType}` : 'starting'}</span>;
  }
  if (r.state === 'queued') {
    if (r.why?.kind === 'never' || !r.fits) {
      const what = `${r.scaleFactor} GPU${r.scaleFactor > 1 ? 's' : ''}${r.gpuTypes ? ` of ${r.gpuTypes.join(' or ')}` : ''}`;
      return (
        <span class="warn-text why-text-inline" data-testid="why-inline">
          {r.why?.text ?? `cannot run on the live workers: needs ${what} on one worker`}
        </span>
      );
    }
    if (r.estimatedStart) return <span title={`estimated start ${when(r.estimatedStart)} (simulated forward from now)`}>starts {relative(r.estimatedStart)}</span>;
    if (props.skipped) return <span class="muted" title={props.skipped}>waiting</span>;
    if (!r.estimated) return <span class="muted">estimating…</span>;
    if (props.horizon) return <span class="muted" title="the estimate simulates a bounded horizon; this job starts after it">after {when(props.horizon)}</span>;
    return <span class="muted" title="the estimate found no round that places this job">not estimated</span>;
  }
  const verb = r.state === 'completed' ? 'finished' : r.state;
  if (r.state === 'failed' && r.failure) return <Truncate text={`failed ${relative(r.finishedAt)}: ${r.failure}`} max="16rem" />;
  return <span title={when(r.finishedAt)}>{verb} {relative(r.finishedAt)}</span>;
}

/** Result count and page buttons; shown above and below the table. */
function Pager(props: { data: QueuePage; page: number; pages: number; params: URLSearchParams; note?: boolean }) {
  const { data, page, pages, params } = props;
  return (
    <div class="pager" aria-label="pages">
      <span>
        {int(data.offset + 1)}–{int(data.offset + data.jobs.length)} of {int(data.total)} jobs
      </span>
      <button type="button" class="secondary" disabled={page <= 1} onClick={() => navigate(hashWith(params, { page: String(page - 1) }))}>
        ‹ Previous
      </button>
      <span>
        page {page} of {pages}
      </span>
      <button type="button" class="secondary" disabled={page >= pages} onClick={() => navigate(hashWith(params, { page: String(page + 1) }))}>
        Next ›
      </button>
      {props.note ? (
        <span class="muted estimates-note" title="estimates run the server's policy forward from the live state (rondo whatif)">
          {data.estimates.skipped ?? (
            <>
              estimates from {when(data.estimates.at)}
              {data.estimates.horizon ? `, looking ahead to ${when(data.estimates.horizon)}` : ''}
            </>
          )}
        </span>
      ) : null}
    </div>
  );
}

export function QueueView(props: { params: URLSearchParams }) {
  const { me } = useApp();
  const { params } = props;
  const states = (params.get('state') ?? '').split(',').filter((s): s is JobState => (JOB_STATES as readonly string[]).includes(s));
  const tenant = me.kind === 'admin' ? (params.get('tenant') ?? '') : '';
  const q = params.get('q') ?? '';
  const page = Math.max(1, Number(params.get('page') ?? '1') || 1);
  const query = new URLSearchParams();
  if (states.length) query.set('state', states.join(','));
  if (tenant) query.set('tenant', tenant);
  if (q) query.set('q', q);
  query.set('offset', String((page - 1) * PAGE));
  query.set('limit', String(PAGE));
  const { data, error, reload } = useLive<QueuePage>(`/api/v1/queue?${query}`);
  const [search, setSearch] = useState(q);
  useEffect(() => setSearch(q), [q]);

  const toggle = (s: JobState): void => {
    const next = states.includes(s) ? states.filter((x) => x !== s) : [...states, s];
    navigate(hashWith(params, { state: next.join(','), page: null }));
  };
  const filtered = states.length > 0 || tenant !== '' || q !== '';
  const total = data ? Object.values(data.counts).reduce((a, b) => a + b, 0) : 0;
  const pages = data ? Math.max(1, Math.ceil(data.total / PAGE)) : 1;

  return (
    <div class="queue">
      <div class="toolbar" role="toolbar" aria-label="filters">
        <div class="chips" role="group" aria-label="state">
          <button type="button" class={`chip ${states.length === 0 ? 'on' : ''}`} aria-pressed={states.length === 0} onClick={() => navigate(hashWith(params, { state: null, page: null }))}>
            all <span class="count">{data ? int(total) : ''}</span>
          </button>
          {JOB_STATES.map((s) => (
            <button type="button" class={`chip ${states.includes(s) ? 'on' : ''}`} aria-pressed={states.includes(s)} onClick={() => toggle(s)} data-testid={`chip-${s}`}>
              {s} <span class="count">{data ? int(data.counts[s]) : ''}</span>
            </button>
          ))}
        </div>
        {me.kind === 'admin' ? (
          <label class="inline">
            Tenant{' '}
            <select value={tenant} onChange={(e) => navigate(hashWith(params, { tenant: (e.target as HTMLSelectElement).value, page: null }))} data-testid="tenant-filter">
              <option value="">all tenants</option>
              {(data?.tenants ?? (tenant ? [tenant] : [])).map((t) => (
                <option value={t}>{t}</option>
              ))}
            </select>
          </label>
        ) : null}
        <form
          class="inline"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            navigate(hashWith(params, { q: search.trim(), page: null }));
          }}
        >
          <input type="search" placeholder="job id or name" aria-label="search jobs" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
        </form>
      </div>

      <ErrorBox error={error} what="Could not load the queue" />

      {data && data.total === 0 ? (
        filtered ? (
          <Empty title="No jobs match these filters.">
            <button type="button" class="secondary" onClick={() => navigate('#/queue')}>
              Show all jobs
            </button>
          </Empty>
        ) : (
          <Empty title="No jobs yet.">
            <p>
              Submit one with <a href="#/submit">New job</a>, or from a shell: <code>rondo submit --steps 200 -- python3 train.py</code>
            </p>
          </Empty>
        )
      ) : null}

      {data && data.total > 0 ? (
        <>
          {data.total > PAGE ? <Pager data={data} page={page} pages={pages} params={params} /> : null}
          <div class="table-wrap">
            <table class="jobs cards" data-testid="queue-table">
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  {me.kind === 'admin' ? <th scope="col">Tenant</th> : null}
                  <th scope="col">State</th>
                  <th scope="col" class="num" title="place among queued jobs, by estimated start">
                    Pos.
                  </th>
                  <th scope="col">Where / when</th>
                  <th scope="col" class="num">
                    GPUs
                  </th>
                  <th scope="col">Progress</th>
                  <th scope="col" title="per GPU type: the allocation's time share (outline) and the share of time received since submission (filled)">
                    Share: target / received
                  </th>
                  <th scope="col" class="num" title="times the job was stopped before it was done (lease end or lost worker)">
                    Preempt.
                  </th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.jobs.map((r) => (
                  <tr key={r.id} data-job={r.id} data-state={r.state} onClick={() => navigate(`#/jobs/${r.id}`)} class="clickable">
                    <td data-label="Job">
                      <div class="job-cell">
                        <a href={`#/jobs/${r.id}`} onClick={(e) => e.stopPropagation()}>
                          {r.id}
                        </a>
                        {r.name ? <Truncate text={r.name} class="job-name" max="14rem" /> : null}
                      </div>
                    </td>
                    {me.kind === 'admin' ? (
                      <TenantCell tenant={r.tenant} max="8rem" label="Tenant" />
                    ) : null}
                    <td data-label="State">
                      <StateBadge state={r.state} cancelling={r.cancelRequested} />
                    </td>
                    <td class="num" data-label="Position">{r.position ?? ''}</td>
                    <td class="where" data-label="Where / when">
                      <Where row={r} horizon={data.estimates.horizon} skipped={data.estimates.skipped} />
                    </td>
                    <td class="num" data-label="GPUs" title={r.gpuTypes ? `only on ${r.gpuTypes.join(', ')}` : 'any GPU type'}>
                      <span>
                        {r.scaleFactor}
                        {r.gpuTypes ? <span class="muted"> {r.gpuTypes.join(',')}</span> : null}
                      </span>
                    </td>
                    <td data-label="Progress">
                      <Progress done={r.stepsDone} total={r.totalSteps} />
                    </td>
                    <td data-label="Share: target / received">
                      {r.state === 'queued' || r.state === 'running' ? <Shares types={data.gpuTypes} target={r.targetShare} received={r.receivedShare} /> : <span class="muted">–</span>}
                    </td>
                    <td class="num" data-label="Preemptions">{r.preemptions || ''}</td>
                    <td class="actions">
                      <CancelButton job={r} onDone={reload} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager data={data} page={page} pages={pages} params={params} note />
        </>
      ) : null}
      {!data && !error ? <p class="muted">Loading…</p> : null}
    </div>
  );
}
