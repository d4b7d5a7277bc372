import { useEffect, useState } from 'preact/hooks';
import { shapeProblem } from '../../../src/model/worker-fit';
import { api, ApiError, type ClusterView, type JobDetail } from '../api';
import { typeColor } from '../colors';
import { relative, splitCommand, when } from '../format';
import { useApp, useLive } from '../ui';

interface Form {
  name: string;
  command: string;
  cwd: string;
  scaleFactor: string;
  gpuTypes: string;
  totalSteps: string;
  priorityWeight: string;
  tenant: string;
  env: string;
  /** Minutes the job would run alone on its GPUs: only for the what-if estimate, not sent with the job. */
  minutes: string;
}

interface Estimate {
  type: string;
  start: string | null;
  finish: string | null;
  /** Finish-time fairness: time to finish ÷ time on an equal 1/n share of the cluster (n: the active jobs and this one). */
  rho: number | null;
}

/** Estimated start and finish on each GPU type the job may use, from the server's what-if simulation. */
function WhatIf(props: { scaleFactor: number; types: readonly string[]; minutes: number; priorityWeight: number }) {
  const [rows, setRows] = useState<Estimate[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const key = JSON.stringify(props);
  useEffect(() => {
    let live = true;
    setRows(null);
    // Asked once the form stops changing for a moment: each answer is a forward simulation on the server.
    const timer = window.setTimeout(() => {
      void Promise.all(
        props.types.map(async (t) => {
          const r = await api<{ hypothetical?: { estimatedStart: string | null; estimatedFinish: string | null; rho: number | null } }>('POST', '/api/v1/whatif', {
            scaleFactor: props.scaleFactor,
            durationS: props.minutes * 60,
            gpuTypes: [t],
            priorityWeight: props.priorityWeight,
          });
          return { type: t, start: r.hypothetical?.estimatedStart ?? null, finish: r.hypothetical?.estimatedFinish ?? null, rho: r.hypothetical?.rho ?? null };
        }),
      )
        .then((r) => {
          if (live) {
            setRows(r);
            setError(null);
          }
        })
        .catch((e: unknown) => live && setError(e instanceof ApiError ? e.message : String(e)));
    }, 600);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [key]);
  if (error) return <p class="warn-text">No estimate: {error}</p>;
  if (!rows) return <p class="muted">Estimating…</p>;
  return (
    <table class="whatif cards" data-testid="whatif">
      <thead>
        <tr>
          <th scope="col">Only on</th>
          <th scope="col">Estimated start</th>
          <th scope="col">Estimated finish</th>
          <th scope="col" class="num" title="finish-time fairness (Themis): time from now to the finish ÷ the time on an equal 1/n share of the cluster; ≤ 1 is at least as good as an equal split">
            ρ (finish-time fairness)
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr data-type={r.type}>
            <td data-label="Only on">
              <strong style={{ color: typeColor(r.type) }}>{r.type}</strong>
            </td>
            <td data-label="Estimated start">{r.start ? `${when(r.start)} (${relative(r.start)})` : 'beyond the estimate'}</td>
            <td data-label="Estimated finish">{r.finish ? when(r.finish) : '–'}</td>
            <td data-label="ρ (finish-time fairness)" class={`num ${r.rho !== null && r.rho > 1 ? 'warn' : ''}`} data-testid="whatif-rho">
              {r.rho !== null ? r.rho.toFixed(2) : '–'}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Turns the form into the API's submit body, or says which field is wrong. */
function toBody(f: Form, admin: boolean): { body?: Record<string, unknown>; error?: string } {
  let command: string[];
  try {
    command = splitCommand(f.command);
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (command.length === 0) return { error: 'Command: enter the program and its arguments, e.g. python3 train.py --epochs 3' };
  if (!f.cwd.trim().startsWith('/')) return { error: 'Working directory: give an absolute path on the worker machines, e.g. /home/me/project' };
  const body: Record<string, unknown> = { command, cwd: f.cwd.trim() };
  if (f.name.trim()) body.name = f.name.trim();
  const sf = Number(f.scaleFactor);
  if (!Number.isInteger(sf) || sf < 1) return { error: 'GPUs: a whole number, 1 or more' };
  body.scaleFactor = sf;
  if (f.gpuTypes.trim()) body.gpuTypes = f.gpuTypes.split(',').map((s) => s.trim()).filter(Boolean);
  if (f.totalSteps.trim()) {
    const n = Number(f.totalSteps);
    if (!(n > 0)) return { error: 'Total steps: a positive number, or leave it empty' };
    body.totalSteps = n;
  }
  if (f.priorityWeight.trim()) {
    const w = Number(f.priorityWeight);
    // The server's bounds (src/runtime/server/schemas.ts BOUNDS.priorityWeight).
    if (!(w >= 0.01 && w <= 100)) return { error: 'Priority weight: a number from 0.01 to 100' };
    body.priorityWeight = w;
  }
  if (admin && f.tenant.trim()) body.tenant = f.tenant.trim();
  const env: Record<string, string> = {};
  for (const [i, line] of f.env.split('\n').entries()) {
    if (!line.trim()) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { error: `Environment line ${i + 1}: write NAME=value` };
    env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  if (Object.keys(env).length) body.env = env;
  return { body };
}

export function SubmitView() {
  const { me } = useApp();
  const [f, setF] = useState<Form>({
    name: '',
    command: '',
    cwd: me.jobRoots[0] ?? '',
    scaleFactor: '1',
    gpuTypes: '',
    totalSteps: '',
    priorityWeight: '1',
    tenant: '',
    env: '',
    minutes: '',
  });
  const cluster = useLive<ClusterView>('/api/v1/cluster', 3000);
  const workers = cluster.data?.workers.filter((w) => w.state === 'alive') ?? [];
  const liveTypes = [...new Set(workers.flatMap((w) => w.gpus.map((g) => g.type)))].sort();
  const wanted = f.gpuTypes.split(',').map((t) => t.trim()).filter(Boolean);
  const sf = Number(f.scaleFactor);
  // Checked against the live workers as the user types: a shape none of them can hold would wait forever.
  const problem = cluster.data && Number.isInteger(sf) && sf >= 1 ? shapeProblem({ scaleFactor: sf, gpuTypes: wanted.length ? wanted : null }, workers) : null;
  const fitTypes = (wanted.length ? wanted : liveTypes).filter((t) => shapeProblem({ scaleFactor: sf, gpuTypes: [t] }, workers) === null);
  const minutes = Number(f.minutes);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<JobDetail[]>([]);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof Form) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value });

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const { body, error: bad } = toBody(f, me.kind === 'admin');
    if (!body) {
      setError(bad!);
      return;
    }
    if (problem) {
      setError(`GPUs: this job could never start on the current workers: ${problem}.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const job = await api<JobDetail>('POST', '/api/v1/jobs', body);
      setDone([job, ...done].slice(0, 5));
    } catch (err) {
      setError(err instanceof ApiError ? `The server refused the job: ${err.message}` : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="submit-page">
      <form class="card form" onSubmit={(e) => void submit(e)} aria-label="submit a job">
        <h2>New job</h2>
        <p class="muted">
          {me.kind === 'tenant' ? `Runs as tenant ${me.tenant}. ` : ''}The command runs as an argument list on a worker (no shell): quotes group words. It should checkpoint on SIGTERM; see
          docs/runtime.md.
        </p>
        <div class="grid2">
          <label>
<span class="caption">Name <span class="muted">(optional)</span></span>
            <input name="name" value={f.name} onInput={set('name')} maxLength={256} placeholder="resnet50 lr=0.1" />
          </label>
          {me.kind === 'admin' ? (
            <label>
<span class="caption">Tenant <span class="muted">(default: default)</span></span>
              <input name="tenant" value={f.tenant} onInput={set('tenant')} placeholder="default" />
            </label>
          ) : (
            <label>
<span class="caption">Tenant</span>
              <input name="tenant" value={me.tenant ?? ''} disabled />
            </label>
          )}
        </div>
        <label>
<span class="caption">Command</span>
          <input name="command" value={f.command} onInput={set('command')} required placeholder="python3 train.py --epochs 3" class="mono" />
        </label>
        <label>
<span class="caption">Working directory <span class="muted">(absolute, on the workers)</span></span>
          <input name="cwd" value={f.cwd} onInput={set('cwd')} required placeholder="/home/me/project" class="mono" />
        </label>
        <div class="grid4">
          <label>
<span class="caption">GPUs</span>
            <input name="scaleFactor" type="number" min={1} step={1} value={f.scaleFactor} onInput={set('scaleFactor')} />
          </label>
          <label>
<span class="caption">GPU types <span class="muted">(any)</span></span>
            <input name="gpuTypes" value={f.gpuTypes} onInput={set('gpuTypes')} placeholder="v100,a100" />
          </label>
          <label>
<span class="caption">Total steps <span class="muted">(if known)</span></span>
            <input name="totalSteps" type="number" min={1} value={f.totalSteps} onInput={set('totalSteps')} />
          </label>
          <label>
<span class="caption">Priority weight</span>
            <input name="priorityWeight" type="number" min={0.01} max={100} step="any" value={f.priorityWeight} onInput={set('priorityWeight')} />
          </label>
        </div>
        {problem ? (
          <div class="error" role="alert" data-testid="shape-check">
            Cannot run on the current workers: {problem}.
          </div>
        ) : cluster.data ? (
          <p class="muted small" data-testid="shape-check">
            Fits on: {fitTypes.join(', ') || '–'} (live workers: {liveTypes.map((t) => `${t} up to ${Math.max(...workers.map((w) => w.gpus.find((g) => g.type === t)?.count ?? 0))} per worker`).join(', ')}).
          </p>
        ) : null}
        <details class="whatif-box">
          <summary>When would it run? (what-if)</summary>
          <label>
            <span class="caption">
              Run time alone <span class="muted">(minutes on its GPUs; for the estimate only)</span>
            </span>
            <input name="minutes" type="number" min={0} step="any" value={f.minutes} onInput={set('minutes')} placeholder="60" />
          </label>
          {minutes > 0 && !problem && fitTypes.length > 0 ? (
            <WhatIf scaleFactor={sf} types={fitTypes} minutes={minutes} priorityWeight={Number(f.priorityWeight) > 0 ? Number(f.priorityWeight) : 1} />
          ) : (
            <p class="muted small">Give a run time to see the estimated start and finish on each GPU type the job may use.</p>
          )}
        </details>
        <label>
<span class="caption">Environment <span class="muted">(NAME=value per line, optional)</span></span>
          <textarea name="env" rows={2} value={f.env} onInput={set('env')} class="mono" />
        </label>
        {error ? (
          <div class="error" role="alert">
            {error}
          </div>
        ) : null}
        <div class="form-actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Submitting…' : 'Submit job'}
          </button>
          <a href="#/queue">Back to the queue</a>
        </div>
        {done.length > 0 ? (
          <div class="notice" role="status">
            Submitted{' '}
            {done.map((j, i) => (
              <>
                {i > 0 ? ', ' : ''}
                <a href={`#/jobs/${j.id}`} data-testid="submitted">
                  {j.id}
                </a>
              </>
            ))}
            .
          </div>
        ) : null}
      </form>
    </div>
  );
}
