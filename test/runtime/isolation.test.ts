/**
 * Findings 2, 3, 5 and 6 of issue 21 replayed as a hostile tenant would, with real processes: a job snooping `ps`
 * and /proc for the worker token and another tenant's secrets, reaching for the admin token and the store through
 * RONDO_CHECKPOINT_DIR, writing into another job's checkpoint directory, dumping its environment, starting in `/`,
 * and a job re-leased after its worker was killed. The uid-based parts need root (as here and in CI); they are
 * skipped, saying so, otherwise.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KILL_SLACK_MS } from '../../src/runtime/agent/job-rules.js';
import { autoUid } from '../../src/runtime/agent/sandbox.js';
import { ApiClient, HttpError } from '../../src/runtime/client/http-client.js';
import { ensureBuilt, freePort, killAll, rondo, startServer, tempDir, waitFor, type JobView } from './harness.js';
import { goneWithin, isRoot, KILLED_AT_ONCE_MS, procsWith } from './procs.js';

interface Attempt {
  id: number;
  workerId: string;
  state: string;
  endReason: string | null;
  startedAt: string | null;
  endedAt: string | null;
  leaseEnd: string;
}

/** Round length of the worker-kill scenario: long beside the worker timeout (0.8 s) and the heartbeat (0.1 s). */
const ROUND_S = 4;

async function logsOf(admin: ApiClient, id: string): Promise<string> {
  const r = await admin.get<{ lines: Array<{ text: string }> }>(`/api/v1/jobs/${id}/logs?limit=1000`);
  return r.lines.map((l) => l.text).join('\n');
}

async function tenantClient(url: string, admin: ApiClient, tenant: string): Promise<ApiClient> {
  const { token } = await admin.post<{ token: string }>('/api/v1/tokens', { kind: 'tenant', tenant });
  return new ApiClient({ server: url, token });
}

/** Splits a secret over two variables, so the snooping job's own environment never holds it whole. */
function halves(prefix: string, secret: string): Record<string, string> {
  const k = Math.floor(secret.length / 2);
  return { [`${prefix}A`]: secret.slice(0, k), [`${prefix}B`]: secret.slice(k) };
}

/** Tries each attack; prints NAME=found/denied lines. "found" for the first two is the control: reading works. */
const SNOOP = `
T="$TOKA$TOKB"; S="$SECA$SECB"; W=$(mktemp -d)
check() { if eval "$2" >/dev/null 2>&1; then echo "$1=found"; else echo "$1=denied"; fi; }
check OWN_ENVIRON 'cat /proc/self/environ | tr "\\0" "\\n" | grep -q ^TOKA='
ps -eo args > "$W/ps"; check PS_LISTS_PROCESSES 'test -s "$W/ps"'
check TOKEN_IN_PS 'grep -qF "$T" "$W/ps"'
for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat "$f" 2>/dev/null; echo; done > "$W/env"
check TOKEN_IN_PROC 'grep -qaF "$T" "$W/env"'
check OTHER_SECRET_IN_PROC 'grep -qaF "$S" "$W/env"'
check LIST_CHECKPOINT_ROOT 'ls "$(dirname "$RONDO_CHECKPOINT_DIR")"'
check READ_OTHER_CHECKPOINT 'cat "$OTHER_DIR/secret.txt"'
check WRITE_OTHER_CHECKPOINT 'echo pwned > "$OTHER_DIR/pwned.txt"'
check ADMIN_TOKEN_DERIVED 'cat "\${RONDO_CHECKPOINT_DIR%.checkpoints/*}.admin-token"'
check ADMIN_TOKEN 'cat "$DB.admin-token"'
check STORE 'head -c 1 "$DB"'
check OWN_CHECKPOINT 'echo ok > "$RONDO_CHECKPOINT_DIR/mine.txt"'
rm -rf "$W"
`;

describe('jobs isolated from each other and from the scheduler (real processes)', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterAll(killAll);

  it.skipIf(!isRoot)('with a Unix user per tenant (root), a tenant job finds no token, no other tenant secret, no store, and cannot touch another checkpoint', async () => {
    const dir = tempDir('iso-snoop');
    const db = join(dir, 'r.db');
    const srv = await startServer(db, await freePort());
    const { token: workerToken } = await srv.admin.post<{ token: string }>('/api/v1/tokens', { kind: 'worker', label: 'w' });
    const w = rondo(['worker', '--server', srv.url, '--gpus', 'v100:2', '--name', 'w', '--quiet'], { RONDO_WORKER_TOKEN: workerToken });
    await waitFor('worker', () => w.stdout.includes('ready'), 60_000);
    const bob = await tenantClient(srv.url, srv.admin, 'bob');
    const alice = await tenantClient(srv.url, srv.admin, 'alice');
    const bobSecret = `bob-s3cret-${process.pid}-${Date.now()}`;
    const marker = `3600.${process.pid}77`;
    const bobJob = await bob.post<JobView>('/api/v1/jobs', {
      command: ['sh', '-c', `echo bobdata > "$RONDO_CHECKPOINT_DIR/secret.txt"; echo ready; sleep ${marker}`],
      cwd: dir,
      env: { BOB_SECRET: bobSecret },
    });
    await waitFor('bob\'s job to run', async () => (await logsOf(srv.admin, bobJob.id)).includes('ready'), 60_000, 100);
    // Control: the secret is there to find for someone allowed to (root, the same user).
    const environs = (): string => procsWith(marker).map((p) => { try { return readFileSync(`/proc/${p}/environ`, 'utf8'); } catch { return ''; } }).join('\n');
    await waitFor('bob\'s secret in his job\'s environment, as root sees it', () => environs().includes(bobSecret), 10_000, 50);
    const ckRoot = `${db}.checkpoints`;
    const bobDir = join(ckRoot, bobJob.id);
    expect(statSync(bobDir).mode & 0o777).toBe(0o700);
    expect(statSync(bobDir).uid).toBe(autoUid('bob'));
    expect(statSync(ckRoot).mode & 0o777).toBe(0o711);

    const snoop = await alice.post<JobView>('/api/v1/jobs', {
      command: ['sh', '-c', SNOOP],
      cwd: dir,
      env: { ...halves('TOK', workerToken), ...halves('SEC', bobSecret), OTHER_DIR: bobDir, DB: db },
    });
    const done = await waitFor('the snooping job to end', async () => {
      const j = await srv.admin.get<JobView>(`/api/v1/jobs/${snoop.id}`);
      return j.state === 'completed' || j.state === 'failed' ? j : undefined;
    }, 60_000, 100);
    const out = await logsOf(srv.admin, snoop.id);
    expect(done.state, out).toBe('completed');
    const result = Object.fromEntries([...out.matchAll(/^([A-Z_]+)=(found|denied)$/gm)].map((m) => [m[1], m[2]]));
    expect(result).toEqual({
      OWN_ENVIRON: 'found',
      PS_LISTS_PROCESSES: 'found',
      TOKEN_IN_PS: 'denied',
      TOKEN_IN_PROC: 'denied',
      OTHER_SECRET_IN_PROC: 'denied',
      LIST_CHECKPOINT_ROOT: 'denied',
      READ_OTHER_CHECKPOINT: 'denied',
      WRITE_OTHER_CHECKPOINT: 'denied',
      ADMIN_TOKEN_DERIVED: 'denied',
      ADMIN_TOKEN: 'denied',
      STORE: 'denied',
      OWN_CHECKPOINT: 'found',
    });
    expect(out).toMatch(new RegExp(`as uid ${autoUid('alice')}`));
    await srv.admin.post(`/api/v1/jobs/${bobJob.id}/cancel`, {});
    await goneWithin(marker, Date.now(), 10_000);
  }, 150_000);

  it('a job sees only the allow-listed environment, --pass-env names and what it declared; tenants cannot start jobs in / or /root/.ssh', async () => {
    const dir = tempDir('iso-env');
    const db = join(dir, 'r.db');
    const srv = await startServer(db, await freePort(), ['--local-workers', '1', '--pass-env', 'PASSED_ON'], {
      LEAKY_SERVER_VAR: 'leak-1',
      RONDO_SERVE_ONLY: 'leak-2',
      AWS_SECRET_ACCESS_KEY: 'leak-3',
      PASSED_ON: 'passed-4',
    });
    const carol = await tenantClient(srv.url, srv.admin, 'carol');
    const job = await carol.post<JobView>('/api/v1/jobs', { command: ['sh', '-c', 'env; echo END'], cwd: dir, env: { DECLARED_VAR: 'declared-5' } });
    await waitFor('the env dump', async () => (await srv.admin.get<JobView>(`/api/v1/jobs/${job.id}`)).state === 'completed', 60_000, 100);
    const out = await logsOf(srv.admin, job.id);
    expect(out).toContain('END');
    for (const leak of ['leak-1', 'leak-2', 'leak-3', 'rdo_wrk_', 'rdo_adm_']) expect(out).not.toContain(leak);
    expect(out).toMatch(/^PASSED_ON=passed-4$/m);
    expect(out).toMatch(/^DECLARED_VAR=declared-5$/m);
    expect(out).toMatch(/^PATH=/m);
    expect(out).toMatch(new RegExp(`^RONDO_CHECKPOINT_DIR=${join(`${db}.checkpoints`, job.id)}$`, 'm'));
    const names = [...out.matchAll(/^([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]!);
    const expected = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|TZ|TMPDIR|LC_\w+|PWD|OLDPWD|SHLVL|_|PASSED_ON|DECLARED_VAR|CUDA_VISIBLE_DEVICES|RONDO_(JOB_ID|ATTEMPT_ID|LEASE_END|CHECKPOINT_DIR|SERVER|LEASE_TOKEN|GPU_TYPE))$/;
    expect(names.filter((n) => !expected.test(n))).toEqual([]);

    for (const cwd of ['/', '/root/.ssh', '/etc']) {
      const err = await carol.post('/api/v1/jobs', { command: ['true'], cwd }).catch((e: unknown) => e);
      expect(err, cwd).toBeInstanceOf(HttpError);
      expect((err as HttpError).status).toBe(403);
      expect((err as HttpError).message).toMatch(/working directory must be inside \/home or /);
    }
  }, 120_000);

  it('kill -9 of rondo serve --local-workers: no process of its jobs survives it', async () => {
    const dir = tempDir('iso-serve9');
    // Two local workers share one warden; each runs one job.
    const srv = await startServer(join(dir, 'r.db'), await freePort(), ['--local-workers', '2']);
    const marker = `3600.${process.pid}99`;
    for (let i = 0; i < 2; i++) {
      await srv.admin.post<JobView>('/api/v1/jobs', {
        command: ['sh', '-c', `trap "" TERM; sleep ${marker} & (sleep ${marker}; :) & echo up; sleep ${marker}`],
        cwd: dir,
      });
    }
    await waitFor('both jobs with their children', () => procsWith(marker).length >= 6, 60_000, 50);
    srv.proc.kill('SIGKILL');
    const killedAt = Date.now();
    await srv.proc.exited;
    const ms = await goneWithin(marker, killedAt, KILLED_AT_ONCE_MS);
    console.log(`kill -9 of rondo serve --local-workers -> all job processes gone: ${ms} ms`);
  }, 120_000);

  it.skipIf(!isRoot)('kill -9 of a worker: the job\'s processes die with it, and its next attempt starts only after the old lease plus grace', async () => {
    // The attempt ends `lost` only if worker a is killed while it still runs the job. If a's lease ran out first (a
    // round turned and the extension reached a late, on a loaded machine), a stops the job itself and reports it
    // `preempted` before the kill: then the kill tested nothing (a flake seen once under heavy load; reproduced by
    // stopping a with SIGSTOP across its lease end). Rounds of 4 s (one turn where the test's 1 s rounds had four) and
    // a kill only with 1.5 s of the lease left as the server sees it make that rare; when it happens anyway it is seen
    // (a ended the attempt `preempted` before the kill, and the job's log says the lease ended on a) and the scenario
    // runs again on a fresh server, at most three times. Any other outcome is checked as before.
    for (let attempt = 1; ; attempt++) {
      const r = await workerKillScenario(attempt);
      if (r === 'done') return;
      console.warn(`try ${attempt}: ${r}; running the scenario again`);
      if (attempt >= 3) throw new Error(`worker a ended its attempt before the kill in ${attempt} tries: ${r}`);
    }
  }, 400_000);
});

/**
 * One run of the worker-kill scenario: a job (with a child in a session of its own) runs on worker a, worker b
 * joins, a is killed with `kill -9`. Returns 'done' once every check passed, or why the kill came too late to test
 * anything (a had already ended the attempt itself).
 */
async function workerKillScenario(attempt: number): Promise<string> {
  const dir = tempDir(`iso-fence-${attempt}`);
  const db = join(dir, 'r.db');
  const srv = await startServer(db, await freePort(), ['--round', String(ROUND_S)]);
  const workers: Array<ReturnType<typeof rondo>> = [];
  try {
    const start = async (name: string) => {
      const { token } = await srv.admin.post<{ token: string }>('/api/v1/tokens', { kind: 'worker', label: name });
      const w = rondo(['worker', '--server', srv.url, '--gpus', 'v100:1', '--name', name, '--quiet'], { RONDO_WORKER_TOKEN: token });
      workers.push(w);
      await waitFor(`worker ${name}`, () => w.stdout.includes('ready'), 60_000);
      return w;
    };
    const a = await start('a');
    const marker = `3600.${process.pid}88${attempt}`;
    const job = await srv.admin.post<JobView>('/api/v1/jobs', {
      command: ['sh', '-c', `trap "" TERM; sleep ${marker} & setsid sleep ${marker} </dev/null >/dev/null 2>&1 & echo up; sleep ${marker}`],
      cwd: dir,
    });
    await waitFor('the job with its children', () => procsWith(marker).length >= 3, 60_000, 50);
    const detail = async (): Promise<Attempt[]> => (await srv.admin.get<{ attemptsDetail: Attempt[] }>(`/api/v1/jobs/${job.id}`)).attemptsDetail;
    const aId = (await waitFor('the attempt on a', async () => (await detail()).find((x) => x.state === 'running')))!.workerId;
    await start('b');
    // Kill a while it runs the job with time left on its lease: no lease end on a comes between the kill and the
    // server noticing a's silence (--worker-timeout 0.8 s).
    const onA = await waitFor('the job running on a, 1.5 s or more before its lease ends', async () =>
      (await detail()).find((x) => x.state === 'running' && x.workerId === aId && Date.parse(x.leaseEnd) - Date.now() >= 1500), 60_000, 20);
    a.kill('SIGKILL');
    const killedAt = Date.now();
    await a.exited;
    const ms = await goneWithin(marker, killedAt, KILLED_AT_ONCE_MS);
    console.log(`kill -9 of rondo worker -> all job processes gone: ${ms} ms`);
    const attempts = await waitFor('a later attempt to start', async () => {
      const all = await detail();
      return all.some((x) => x.id > onA.id && x.startedAt) ? all : undefined;
    }, 90_000, 100);
    const lost = attempts.find((x) => x.id === onA.id)!;
    const next = attempts.find((x) => x.id > onA.id && x.startedAt)!;
    if (lost.endReason === 'preempted' && lost.endedAt !== null && Date.parse(lost.endedAt) <= killedAt) {
      // a ended the attempt (by its own clock) before it was killed. Run again only when its log says the lease ran
      // out on a (the round turned first); any other early end is a failure below.
      const why = /rondo: SIGTERM to all processes of the job \(([^)]*)\)/.exec(await logsOf(srv.admin, job.id))?.[1];
      if (why === 'lease ended') return `attempt ${lost.id}'s lease ran out on worker a, which stopped it ${killedAt - Date.parse(lost.endedAt)} ms before the kill`;
    }
    expect(lost.endReason).toBe('lost');
    const second = Date.parse(next.startedAt!);
    const fence = Date.parse(lost.leaseEnd) + 500 + KILL_SLACK_MS; // --grace 0.5
    console.log(`the next attempt started ${second - fence} ms after the lost one's lease end + grace + slack`);
    expect(second).toBeGreaterThanOrEqual(fence);
    await srv.admin.post(`/api/v1/jobs/${job.id}/cancel`, {});
    await goneWithin(marker, Date.now(), 10_000);
    return 'done';
  } finally {
    // A worker that stops kills its jobs (a try that is run again leaves b running the job's next attempt).
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    srv.proc.kill('SIGTERM');
    await srv.proc.exited;
  }
}
