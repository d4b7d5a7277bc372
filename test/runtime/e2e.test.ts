import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/runtime/server/store/index.js';
import { statSync } from 'node:fs';
import { checkpointStep, counterJob, EXAMPLE, ensureBuilt, freePort, killAll, rondo, startServer, startWorker, stepLog, tempDir, waitFor, type JobView } from './harness.js';

const TERMINAL = ['completed', 'failed', 'cancelled'];

describe('rondo serve + 2 rondo workers (real processes)', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterAll(killAll);

  it('runs, preempts and resumes several jobs to exact completion; failures, cancels and logs work', async () => {
    const dir = tempDir('e2e');
    const db = join(dir, 'r.db');
    const srv = await startServer(db, await freePort());
    await startWorker(srv.url, srv.admin, 'v100:2', 'big');
    await startWorker(srv.url, srv.admin, 'k80:1', 'small');

    // Five 1-GPU jobs and one 2-GPU job on 3 GPUs: the policy has to rotate them, so jobs get preempted at lease
    // ends and resume from their checkpoints, possibly on the other worker. Each job needs over a second of work
    // (1 s rounds): at 0.03 s a step the shorter ones fit in one lease, and a loaded CI run once saw no preemption.
    const steps = [40, 40, 30, 30, 20];
    const ids: string[] = [];
    for (const n of steps) ids.push((await srv.admin.post<JobView>('/api/v1/jobs', counterJob(dir, n, 0.06))).id);
    const gang = (await srv.admin.post<JobView>('/api/v1/jobs', { ...counterJob(dir, 20, 0.06), scaleFactor: 2 })).id;
    // Progress by the documented stdout line instead of the client; and the GPUs the worker assigned.
    const printer = (
      await srv.admin.post<JobView>('/api/v1/jobs', {
        command: ['python3', '-c', "import os; print('gpus=' + os.environ['CUDA_VISIBLE_DEVICES']); print('RONDO_PROGRESS steps=7 total=7', flush=True)"],
        cwd: dir,
      })
    ).id;
    const failing = (await srv.admin.post<JobView>('/api/v1/jobs', { command: ['python3', '-c', 'import sys; sys.exit(3)'], cwd: dir })).id;
    const missing = (await srv.admin.post<JobView>('/api/v1/jobs', { command: ['definitely-not-a-program-rondo'], cwd: dir })).id;
    const long = (await srv.admin.post<JobView>('/api/v1/jobs', counterJob(dir, 100000, 0.05))).id;

    await waitFor('the long job to start', async () => (await srv.admin.get<JobView>(`/api/v1/jobs/${long}`)).stepsDone > 0, 30_000);
    const cancelled = await srv.admin.post<JobView>(`/api/v1/jobs/${long}/cancel`);
    expect(['cancelled', 'running', 'queued']).toContain(cancelled.state);

    const all = [...ids, gang, printer, failing, missing, long];
    const final = await waitFor(
      'every job to end',
      async () => {
        const jobs = await Promise.all(all.map((id) => srv.admin.get<JobView>(`/api/v1/jobs/${id}`)));
        return jobs.every((j) => TERMINAL.includes(j.state)) ? jobs : undefined;
      },
      // Well under a minute idle; each preemption restarts a Python process, slow on a loaded machine.
      150_000,
      200,
    );
    const byId = new Map(final.map((j) => [j.id, j]));
    const ckpt = `${db}.checkpoints`;
    for (const [i, id] of [...ids, gang].entries()) {
      const n = i < steps.length ? steps[i]! : 20;
      expect(byId.get(id)!.state, id).toBe('completed');
      expect(byId.get(id)!.stepsDone, id).toBe(n);
      expect(checkpointStep(ckpt, id), id).toBe(n);
      // Every step ran exactly once: no duplicate process, nothing lost across preemptions.
      expect(stepLog(ckpt, id), id).toEqual(Array.from({ length: n }, (_, k) => k + 1));
    }
    const preempted = final.filter((j) => j.attempts > 1).length;
    expect(preempted, 'some jobs were preempted and resumed').toBeGreaterThan(0);

    expect(byId.get(printer)!.state).toBe('completed');
    expect(byId.get(printer)!.stepsDone).toBe(7);
    const logs = await srv.admin.get<{ lines: Array<{ text: string }> }>(`/api/v1/jobs/${printer}/logs`);
    expect(logs.lines.map((l) => l.text).join('\n')).toMatch(/gpus=\d/);

    expect(byId.get(failing)!.state).toBe('failed');
    expect(byId.get(failing)!.exitCode).toBe(3);
    expect(byId.get(missing)!.state).toBe('failed');
    expect(byId.get(missing)!.failure).toMatch(/command not found/);
    expect(byId.get(long)!.state).toBe('cancelled');

    const metrics = await srv.admin.get<string>('/metrics');
    expect(metrics).toMatch(/^rondo_queue_length 0$/m);
    expect(metrics).toMatch(/^rondo_gpus\{type="v100"\} 2$/m);
    expect(metrics).toMatch(/^rondo_solver_seconds_count [1-9]/m);

    const store = new Store(db);
    try {
      expect(store.checkInvariants()).toEqual([]);
    } finally {
      store.close();
    }
  }, 300_000);

  it('embedded mode (serve --local-workers) with the CLI clients: submit, status, logs, cancel', async () => {
    const dir = tempDir('local');
    const db = join(dir, 'r.db');
    const srv = await startServer(db, await freePort(), ['--local-workers', '1', '--local-gpus', 'v100:2']);
    expect(srv.proc.stdout).toMatch(/admin token \(shown once/);
    expect(statSync(`${db}.admin-token`).mode & 0o777).toBe(0o600);
    const env = { RONDO_SERVER: srv.url, RONDO_TOKEN: srv.token };
    const run = async (args: string[], extraEnv: Record<string, string> = env) => {
      const p = rondo(args, extraEnv);
      const { code } = await p.exited;
      return { code, out: p.stdout, err: p.stderr };
    };
    const sub = await run(['submit', '--gpus', '2', '--steps', '15', '--cwd', dir, '--', 'python3', EXAMPLE, '--steps', '15', '--step-seconds', '0.02']);
    expect(sub.code, sub.err).toBe(0);
    const id = sub.out.trim();
    expect(id).toMatch(/^job-\d+$/);
    await waitFor('the job to complete', async () => (await srv.admin.get<JobView>(`/api/v1/jobs/${id}`)).state === 'completed', 60_000, 100);
    const status = await run(['status']);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(new RegExp(`${id}\\s+default\\s+completed\\s+2\\s+15/15`));
    const logs = await run(['logs', id]);
    expect(logs.out).toMatch(/done: 15 steps/);
    const long = (await run(['submit', '--cwd', dir, '--', 'python3', EXAMPLE, '--steps', '100000'])).out.trim();
    const cancel = await run(['cancel', long]);
    expect(cancel.code).toBe(0);
    await waitFor('the cancel to land', async () => (await srv.admin.get<JobView>(`/api/v1/jobs/${long}`)).state === 'cancelled', 60_000, 100);
    // User errors: one line, exit 2.
    const noToken = await run(['status'], { RONDO_SERVER: srv.url, RONDO_TOKEN: '' });
    expect(noToken.code).toBe(2);
    const other = await run(['status', 'job-999999']);
    expect(other.code).toBe(2);
    expect(other.err.trim().split('\n')).toHaveLength(1);
    expect(other.err).toMatch(/404: no job job-999999/);
  }, 240_000);
});
