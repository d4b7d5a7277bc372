import { useState } from 'preact/hooks';
import { api, ApiError, type JobDetail } from '../api';
import { splitCommand } from '../format';
import { useApp } from '../ui';

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
  });
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
