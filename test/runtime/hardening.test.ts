import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyJob, PolicyResult, PolicySnapshot } from '../../src/policies/types.js';
import { jsonText, plain } from '../../src/runtime/client/cli-support.js';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import { allocateGuardedSync } from '../../src/runtime/server/quarantine.js';
import { SCHEMA_VERSION, type JobSpec } from '../../src/runtime/server/store/index.js';
import { ensureBuilt, freePort, killAll, rondo, ROOT, startServer as startCli, tempDir, waitFor } from './harness.js';
import Database from 'better-sqlite3';

/**
 * What a hostile tenant tried (issue 21), each through the real server over loopback HTTP: out-of-range numbers, a
 * job the policy fails with, unbounded lists, request floods, what-if floods, framing, probing other tenants' ids,
 * readable store files, escape sequences in what the admin's terminal prints.
 */

type Res = { status: number; json: Record<string, unknown> & { error?: { message?: string; code?: string } }; headers: Headers; text: string };

async function call(srv: RunningServer, method: string, path: string, token?: string, body?: string | object): Promise<Res> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(srv.url + path, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
  const text = await res.text();
  let json: Res['json'] = {};
  try {
    json = JSON.parse(text) as Res['json'];
  } catch {
    // not JSON
  }
  return { status: res.status, json, headers: res.headers, text };
}

async function tenantToken(srv: RunningServer, tenant: string): Promise<string> {
  const r = await call(srv, 'POST', '/api/v1/tokens', srv.adminToken, { kind: 'tenant', tenant });
  expect(r.status).toBe(201);
  return r.json.token as string;
}

const spec = (dir: string, extra: Partial<JobSpec> = {}): JobSpec => ({
  command: ['true'],
  cwd: dir,
  env: {},
  scaleFactor: 1,
  jobType: null,
  priorityWeight: 1,
  tenant: 'default',
  sloFactor: null,
  deadlineS: null,
  totalSteps: null,
  gpuTypes: null,
  name: null,
  ...extra,
});

describe('a server without workers (limits and answers)', () => {
  let srv: RunningServer;
  let dir: string;
  let alice: string;

  beforeAll(async () => {
    dir = tempDir('hard');
    // A store in a folder that does not exist yet: the server makes it private.
    srv = await startServer({
      db: join(dir, 'store', 'r.db'),
      port: 0,
      policy: 'fifo',
      timing: { roundMs: 60_000, heartbeatMs: 1000, workerTimeoutMs: 60_000, graceMs: 1000 },
      limits: { whatIfConcurrency: 0 },
    });
    alice = await tenantToken(srv, 'alice');
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('rejects out-of-range numbers with a 400 that names the field and the allowed range', async () => {
    for (const w of ['5e-324', '1e-300', '1e-25', '1e-19', '0', '-1', '1e7', '1e309']) {
      // Raw JSON text: 1e309 parses to Infinity, which must not slip through either.
      const r = await call(srv, 'POST', '/api/v1/jobs', alice, `{"command":["true"],"cwd":${JSON.stringify(dir)},"priorityWeight":${w}}`);
      expect(r.status, w).toBe(400);
      expect(r.json.error?.message, w).toMatch(/^body\.priorityWeight must be ([<>]=? ?[0-9.e+-]+|number) \(allowed: from 0\.01 to 100\)$/);
    }
    const bad: Array<[string, unknown, RegExp]> = [
      ['sloFactor', 0.5, /body\.sloFactor .*allowed: from 1 to 1000/],
      ['deadlineS', 1e12, /body\.deadlineS .*allowed: from 1 to 1000000000/],
      ['totalSteps', 1e16, /body\.totalSteps .*allowed: from 1 to/],
      ['scaleFactor', 2000, /body\.scaleFactor .*allowed: from 1 to 1024/],
      ['totalSteps', 'NaN', /body\.totalSteps must be number/],
    ];
    for (const [field, value, msg] of bad) {
      const r = await call(srv, 'POST', '/api/v1/jobs', alice, { command: ['true'], cwd: dir, [field]: value });
      expect(r.status, field).toBe(400);
      expect(r.json.error?.message).toMatch(msg);
    }
    const w = await call(srv, 'POST', '/api/v1/whatif', alice, { priorityWeight: 1e-300 });
    expect(w.status).toBe(400);
    expect(w.json.error?.message).toMatch(/body\.priorityWeight .*allowed/);
    const ok = await call(srv, 'POST', '/api/v1/jobs', alice, { command: ['true'], cwd: dir, priorityWeight: 0.01, sloFactor: 1, totalSteps: 1 });
    expect(ok.status).toBe(201);
    await call(srv, 'POST', `/api/v1/jobs/${ok.json.id as string}/cancel`, alice);
  });

  it('bounds the numbers of the worker protocol too (a stolen worker token is not a way in)', async () => {
    const wt = (await call(srv, 'POST', '/api/v1/tokens', srv.adminToken, { kind: 'worker' })).json.token as string;
    const id = (await call(srv, 'POST', '/api/v1/workers', wt, { name: 'w', gpus: [{ type: 'v100', count: 1 }] })).json.id as string;
    const sync = (body: object) => call(srv, 'POST', `/api/v1/workers/${id}/sync`, wt, { running: [], ended: [], progress: [], logs: [], ...body });
    expect((await sync({})).status).toBe(200);
    const r = await sync({ running: [{ attempt: 1, pid: 1e300, startedAt: 0 }] });
    expect(r.status).toBe(400);
    expect(r.json.error?.message).toMatch(/body\.running\.0\.pid must be <= 2147483647 \(allowed: from 0 to 2147483647\)/);
    const e = await sync({ ended: [{ attempt: 1, exitCode: 2 ** 40, signal: null, stoppedByWorker: false, spawnError: null, at: 0 }] });
    expect(e.status).toBe(400);
    expect(e.json.error?.message).toMatch(/exitCode/);
  });

  it('documents every bound in the OpenAPI document', async () => {
    const doc = (await call(srv, 'GET', '/api/v1/openapi.json', srv.adminToken)).json as {
      paths: Record<string, Record<string, { requestBody?: { content: { 'application/json': { schema: { properties: Record<string, Record<string, unknown>> } } } }; parameters: Array<{ name: string; schema: { description?: string } }> }>>;
    };
    const submit = doc.paths['/api/v1/jobs']!.post!.requestBody!.content['application/json'].schema.properties;
    for (const f of ['priorityWeight', 'sloFactor', 'deadlineS', 'totalSteps', 'scaleFactor']) {
      expect(submit[f], f).toMatchObject({ minimum: expect.any(Number), maximum: expect.any(Number) });
    }
    expect(submit.priorityWeight).toMatchObject({ minimum: 0.01, maximum: 100 });
    const whatif = doc.paths['/api/v1/whatif']!.post!.requestBody!.content['application/json'].schema.properties;
    expect(whatif.priorityWeight).toMatchObject({ minimum: 0.01, maximum: 100 });
    expect((doc.paths['/api/v1/whatif']!.post as unknown as { responses: Record<string, unknown> }).responses['429']).toMatchObject({ headers: { 'Retry-After': {} } });
    const limit = doc.paths['/api/v1/jobs']!.get!.parameters.find((p) => p.name === 'limit')!;
    expect(limit.schema.description).toMatch(/1 to 1000 \(default 100\)/);
  });

  it('pages GET /api/v1/jobs by default, with a cursor and a maximum page size', async () => {
    const bob = await tenantToken(srv, 'bob');
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) ids.push((await call(srv, 'POST', '/api/v1/jobs', bob, { command: ['true'], cwd: dir })).json.id as string);
    const first = await call(srv, 'GET', '/api/v1/jobs', bob);
    expect((first.json.jobs as unknown[]).length).toBe(100);
    expect(first.json.next).toEqual(expect.any(String));
    const second = await call(srv, 'GET', `/api/v1/jobs?after=${first.json.next as string}`, bob);
    expect(second.json.next).toBeNull();
    const all = [...(first.json.jobs as Array<{ id: string }>), ...(second.json.jobs as Array<{ id: string }>)].map((j) => j.id);
    expect(all).toEqual(ids);
    expect((await call(srv, 'GET', '/api/v1/jobs?limit=7', bob)).json.jobs).toHaveLength(7);
    for (const l of ['0', '1001', '5000']) {
      const r = await call(srv, 'GET', `/api/v1/jobs?limit=${l}`, bob);
      expect(r.status, l).toBe(400);
      expect(r.json.error?.message).toMatch(/query\.limit must be 1 to 1000/);
    }
  });

  it('answers 404 for another tenant\'s job, exactly as for an unknown one', async () => {
    const mine = (await call(srv, 'POST', '/api/v1/jobs', alice, { command: ['true'], cwd: dir })).json.id as string;
    const eve = await tenantToken(srv, 'eve');
    for (const suffix of ['', '/logs', '/events', '/timeline']) {
      const theirs = await call(srv, 'GET', `/api/v1/jobs/${mine}${suffix}`, eve);
      const none = await call(srv, 'GET', `/api/v1/jobs/job-999999${suffix}`, eve);
      expect(theirs.status).toBe(404);
      expect(none.status).toBe(404);
      expect(theirs.json.error?.message?.replace(mine, 'X')).toBe(none.json.error?.message?.replace('job-999999', 'X'));
    }
    expect((await call(srv, 'POST', `/api/v1/jobs/${mine}/cancel`, eve)).status).toBe(404);
    expect((await call(srv, 'GET', `/api/v1/jobs/${mine}`, alice)).status).toBe(200);
  });

  it('caps what-if: 429 with Retry-After when the cap is reached', async () => {
    const r = await call(srv, 'POST', '/api/v1/whatif', alice, {});
    expect(r.status).toBe(429);
    expect(r.json.error?.code).toBe('E_BUSY');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('sends security headers on the API, its errors and the dashboard', async () => {
    for (const [path, token] of [['/api/v1/jobs', alice], ['/api/v1/jobs', undefined], ['/', undefined], ['/healthz', undefined]] as const) {
      const r = await call(srv, 'GET', path, token);
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp, path).toMatch(/frame-ancestors 'none'/);
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(r.headers.get('x-frame-options')).toBe('DENY');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('keeps the store private: folder 0700, database, WAL, shared memory and admin token 0600', () => {
    const db = join(dir, 'store', 'r.db');
    expect(statSync(join(dir, 'store')).mode & 0o777).toBe(0o700);
    for (const f of [db, `${db}-wal`, `${db}-shm`, `${db}.admin-token`]) expect(statSync(f).mode & 0o777, f).toBe(0o600);
  });

  it('reports the schema version the docs name', async () => {
    const h = await call(srv, 'GET', '/healthz');
    expect(h.json.schemaVersion).toBe(SCHEMA_VERSION);
    const doc = readFileSync(join(ROOT, 'docs', 'runtime.md'), 'utf8');
    expect(Number(/: (\d+) today, as\s+`\/healthz` reports/.exec(doc)?.[1])).toBe(SCHEMA_VERSION);
    for (const m of doc.matchAll(/migration (\d+)/g)) expect(Number(m[1]), m[0]).toBeLessThanOrEqual(SCHEMA_VERSION);
  });

  it('rondo status strips terminal escape sequences from tenant strings', async () => {
    ensureBuilt();
    const evil = ['sh', '-c', 'true', '\u001b]52;c;ZXZpbA==\u0007', '\u001b[2J\u001b[H', '\u009b31m', 'a\rb'];
    const r = await call(srv, 'POST', '/api/v1/jobs', alice, { command: evil, cwd: dir, name: '\u001b]0;pwned\u0007x' });
    expect(r.status).toBe(201);
    for (const args of [['status', '--limit', '1000'], ['status', r.json.id as string], ['status', '--json', '--limit', '1000']]) {
      // Not spawnSync: the server runs in this process and must answer meanwhile.
      const p = rondo([...args, '--server', srv.url, '--token', srv.adminToken!]);
      const { code } = await p.exited;
      const out = { stdout: p.stdout };
      expect(code, p.stderr).toBe(0);
      // eslint-disable-next-line no-control-regex
      expect(out.stdout, args.join(' ')).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    }
  }, 240_000); // may first build dist/ for the CLI
});

describe('per-token rate limits', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer({ db: join(tempDir('rate'), 'r.db'), port: 0, policy: 'fifo', timing: { roundMs: 60_000, heartbeatMs: 1000, workerTimeoutMs: 60_000, graceMs: 1000 }, limits: { ratePerMinute: 5 } });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('answers 429 with Retry-After past the limit, per token; the admin is not limited', async () => {
    const a = await tenantToken(srv, 'a');
    const b = await tenantToken(srv, 'b');
    for (let i = 0; i < 5; i++) expect((await call(srv, 'GET', '/api/v1/jobs', a)).status).toBe(200);
    const over = await call(srv, 'GET', '/api/v1/jobs', a);
    expect(over.status).toBe(429);
    expect(over.json.error?.code).toBe('E_RATE_LIMIT');
    expect(over.json.error?.message).toMatch(/at most 5 a minute per token/);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another tenant's budget is its own; the admin has none.
    expect((await call(srv, 'GET', '/api/v1/jobs', b)).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await call(srv, 'GET', '/api/v1/jobs', srv.adminToken)).status).toBe(200);
  });
});

describe('a job the policy fails with', () => {
  let srv: RunningServer;
  let dir: string;
  const log: string[] = [];
  beforeAll(async () => {
    dir = tempDir('quarantine');
    srv = await startServer({
      db: join(dir, 'r.db'),
      port: 0,
      localWorkers: 1,
      localGpus: [{ type: 'local', count: 2 }],
      timing: { roundMs: 1000, heartbeatMs: 100, workerTimeoutMs: 5000, graceMs: 300 },
      log: (m) => log.push(m),
    });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('is found, failed with the reason and named in the log and /metrics; the other jobs run to completion', async () => {
    const t = await tenantToken(srv, 'carol');
    const good: string[] = [];
    for (let i = 0; i < 3; i++) good.push((await call(srv, 'POST', '/api/v1/jobs', t, { command: ['true'], cwd: dir, totalSteps: 10 })).json.id as string);
    // A weight the API refuses, put in the store directly (as an older server, or a hand edit, could have).
    const bad = srv.store.submitJob(spec(dir, { tenant: 'mallory', priorityWeight: 5e-324, totalSteps: 10 })).id;
    for (let i = 0; i < 2; i++) good.push((await call(srv, 'POST', '/api/v1/jobs', t, { command: ['true'], cwd: dir, totalSteps: 10 })).json.id as string);
    srv.scheduler.poke();
    const jobs = await waitFor(
      'the good jobs to complete',
      async () => {
        const js = await Promise.all(good.map(async (id) => (await call(srv, 'GET', `/api/v1/jobs/${id}`, srv.adminToken)).json));
        return js.every((j) => j.state === 'completed') && js;
      },
      90_000,
      200,
    );
    const b = (await call(srv, 'GET', `/api/v1/jobs/${bad}`, srv.adminToken)).json;
    expect(b.state).toBe('failed');
    expect(b.failure).toMatch(/^quarantined: the max_min_fairness_perf policy fails with this job/);
    expect(log.some((l) => l.startsWith(`quarantined ${bad} (tenant mallory)`))).toBe(true);
    expect(log.filter((l) => l.includes('scheduler error'))).toEqual([]);
    const metrics = (await call(srv, 'GET', '/metrics', srv.adminToken)).text;
    expect(metrics).toMatch(new RegExp(`rondo_quarantined_job\\{job="${bad}",tenant="mallory"\\} 1`));
    expect(metrics).toMatch(/rondo_jobs_quarantined_total 1/);
    // A job that ran and ended between two heartbeats still shows when it started.
    for (const j of jobs) {
      expect(j.startedAt, String(j.id)).toEqual(expect.any(String));
      expect(Date.parse(j.startedAt as string)).toBeLessThanOrEqual(Date.parse(j.finishedAt as string));
    }
    expect(srv.store.checkInvariants()).toEqual([]);
  });
});

describe('a job the policy fails with, in `rondo serve` (the policy on its thread)', () => {
  afterAll(killAll);

  it('is quarantined and the queue behind it runs', async () => {
    ensureBuilt();
    const dir = tempDir('quarantine-cli');
    const db = join(dir, 'r.db');
    const srv = await startCli(db, await freePort(), ['--local-workers', '1', '--local-gpus', 'local:2']);
    // A row no API would accept, written into the live store from outside (as a hand edit or an older server could).
    const raw = new Database(db);
    raw.pragma('busy_timeout = 5000');
    const bad = raw.transaction(() => {
      const seq = Number((raw.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'").get() as { seq: number } | undefined)?.seq ?? 0) + 1;
      raw.prepare(
        "INSERT INTO jobs(seq, id, tenant, command, cwd, env, scale_factor, priority_weight, total_steps, state, submitted_at) VALUES (?, ?, 'mallory', '[\"true\"]', ?, '{}', 1, 5e-324, 10, 'queued', ?)",
      ).run(seq, `job-${seq}`, dir, Date.now());
      return `job-${seq}`;
    })();
    raw.close();
    const good: string[] = [];
    for (let i = 0; i < 4; i++) good.push((await srv.admin.post<{ id: string }>('/api/v1/jobs', { command: ['true'], cwd: dir, totalSteps: 10 })).id);
    await waitFor('the other jobs to complete', async () => {
      const js = await Promise.all(good.map((id) => srv.admin.get<{ state: string }>(`/api/v1/jobs/${id}`)));
      return js.every((j) => j.state === 'completed');
    }, 90_000, 200);
    const b = await srv.admin.get<{ state: string; failure: string }>(`/api/v1/jobs/${bad}`);
    expect(b.state).toBe('failed');
    expect(b.failure).toMatch(/^quarantined: the max_min_fairness_perf policy fails with this job/);
    expect(await srv.admin.get<string>('/metrics')).toMatch(new RegExp(`rondo_quarantined_job\\{job="${bad}",tenant="mallory"\\} 1`));
  }, 240_000);
});

describe('the quarantine search', () => {
  const job = (id: string): PolicyJob => ({ id }) as unknown as PolicyJob;
  const snap = (ids: string[]): PolicySnapshot => ({ now: 0, cluster: { gpuTypes: [], gpus: {}, servers: [] } as unknown as PolicySnapshot['cluster'], jobs: ids.map(job) });
  const policy =
    (fails: (ids: string[]) => boolean, calls: string[][] = []) =>
    (s: PolicySnapshot): PolicyResult => {
      const ids = s.jobs.map((j) => j.id);
      calls.push(ids);
      if (fails(ids)) throw new Error(`coefficient Infinity with ${ids.length} jobs`);
      return { allocation: { gpuTypes: [], shares: new Map(ids.map((id) => [id, [1]])) } };
    };

  it('finds each job the policy fails with alone and returns the allocation of the others', () => {
    const ids = Array.from({ length: 37 }, (_, i) => `job-${i + 1}`);
    const calls: string[][] = [];
    const out: string[] = [];
    const r = allocateGuardedSync(snap(ids), policy((s) => s.includes('job-23') || s.includes('job-5'), calls), (j, e) => out.push(`${j.id}: ${e}`));
    expect(out.map((o) => o.split(':')[0])).toEqual(['job-5', 'job-23']);
    expect(out[0]).toMatch(/coefficient Infinity/);
    expect([...r.allocation.shares.keys()]).toEqual(ids.filter((i) => i !== 'job-5' && i !== 'job-23'));
    // Bisection, not one probe per job.
    expect(calls.length).toBeLessThan(30);
  });

  it('blames nobody when the policy fails whatever it is given, or only for a combination', () => {
    const out: string[] = [];
    expect(() => allocateGuardedSync(snap(['a', 'b', 'c', 'd']), policy(() => true), (j) => out.push(j.id))).toThrow(/coefficient Infinity/);
    expect(() => allocateGuardedSync(snap(['a', 'b', 'c', 'd']), policy((s) => s.includes('a') && s.includes('d')), (j) => out.push(j.id))).toThrow(/coefficient Infinity/);
    expect(out).toEqual([]);
  });
});

describe('plain', () => {
  it('removes escape sequences and control characters, keeps text, tabs and newlines', () => {
    expect(plain('a\u001b[31mred\u001b[0m b')).toBe('ared b');
    expect(plain('x\u001b]52;c;ZXZpbA==\u0007y')).toBe('xy');
    expect(plain('x\u001b]0;title\u001b\\y')).toBe('xy');
    expect(plain('x\u009b2Jy\u0090dcs\u009cz')).toBe('xyz');
    expect(plain('over\rwrite\tok\nnext\u0007')).toBe('overwrite\tok\nnext');
    expect(plain('naïve — 日本')).toBe('naïve — 日本');
    expect(jsonText({ a: '\u009b\u001b' })).toBe('{\n  "a": "\\u009b\\u001b"\n}');
  });
});
