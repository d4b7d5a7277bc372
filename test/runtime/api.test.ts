import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import { tempDir } from './harness.js';
import { seededRandom } from '../../src/model/index.js';

/**
 * The real server over real loopback HTTP (in this process, so it is cheap to hammer), with a real store. Workers are
 * not needed: no job is run here.
 */

let srv: RunningServer;
let admin: string;
let tenantA: string;
let tenantB: string;
let worker: string;
let workerId: string;
let dir: string;
let jobA: string;
let jobB: string;

async function req(method: string, path: string, opts: { token?: string; body?: string | object; type?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] = opts.type ?? 'application/json';
  }
  const res = await fetch(srv.url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json: json as { error?: { message?: string; code?: string } } & Record<string, unknown>, text };
}

const job = (extra: object = {}) => ({ command: ['python3', '-c', 'pass'], cwd: dir, ...extra });

beforeAll(async () => {
  dir = tempDir('api');
  srv = await startServer({ db: join(dir, 'r.db'), port: 0, policy: 'fifo', timing: { roundMs: 60_000, heartbeatMs: 1000, workerTimeoutMs: 60_000, graceMs: 1000 } });
  admin = srv.adminToken!;
  const mk = async (body: object) => (await req('POST', '/api/v1/tokens', { token: admin, body })).json.token as string;
  tenantA = await mk({ kind: 'tenant', tenant: 'alice' });
  tenantB = await mk({ kind: 'tenant', tenant: 'bob' });
  worker = await mk({ kind: 'worker' });
  workerId = (await req('POST', '/api/v1/workers', { token: worker, body: { name: 'w', gpus: [{ type: 'v100', count: 1 }] } })).json.id as string;
  jobA = (await req('POST', '/api/v1/jobs', { token: tenantA, body: job() })).json.id as string;
  jobB = (await req('POST', '/api/v1/jobs', { token: tenantB, body: job() })).json.id as string;
});

afterAll(async () => {
  await srv?.close();
});

const ROUTES: Array<[string, () => string, object?]> = [
  ['GET', () => '/metrics'],
  ['GET', () => '/api/v1/openapi.json'],
  ['POST', () => '/api/v1/jobs', { command: ['x'], cwd: '/tmp' }],
  ['GET', () => '/api/v1/jobs'],
  ['GET', () => `/api/v1/jobs/${jobA}`],
  ['POST', () => `/api/v1/jobs/${jobA}/cancel`],
  ['GET', () => `/api/v1/jobs/${jobA}/logs`],
  ['GET', () => `/api/v1/jobs/${jobA}/events`],
  ['GET', () => '/api/v1/cluster'],
  ['GET', () => '/api/v1/plan'],
  ['POST', () => '/api/v1/whatif', {}],
  ['POST', () => '/api/v1/tokens', { kind: 'tenant', tenant: 'x' }],
  ['GET', () => '/api/v1/tokens'],
  ['DELETE', () => '/api/v1/tokens/1'],
  ['POST', () => '/api/v1/workers', { name: 'w', gpus: [{ type: 'v100', count: 1 }] }],
  ['POST', () => `/api/v1/workers/${workerId}/sync`, { running: [], ended: [], progress: [], logs: [] }],
  ['POST', () => '/api/v1/progress', { steps: 1 }],
  ['GET', () => '/api/v1/lease'],
  ['GET', () => '/api/v1/stream'],
  ['GET', () => '/api/v1/whoami'],
  ['GET', () => '/api/v1/queue'],
  ['GET', () => `/api/v1/jobs/${jobA}/timeline`],
  ['GET', () => '/api/v1/fairness'],
  ['GET', () => '/api/v1/cluster/history'],
  ['GET', () => '/api/v1/heterogeneity'],
];

describe('auth', () => {
  it('every endpoint but /healthz answers 401 without a token, with a malformed one, and with an unknown one', async () => {
    for (const [m, path, body] of ROUTES) {
      for (const token of [undefined, 'short', 'rdo_adm_' + 'A'.repeat(43)]) {
        const r = await req(m, path(), { ...(token !== undefined ? { token } : {}), ...(body ? { body } : {}) });
        expect(r.status, `${m} ${path()} token=${token}`).toBe(401);
        expect(r.json.error?.message).toMatch(/token/);
      }
    }
    expect((await req('GET', '/healthz')).status).toBe(200);
    // Basic auth or a token in the wrong header is not a bearer token.
    expect((await req('GET', '/api/v1/jobs', { headers: { authorization: `Basic ${admin}` } })).status).toBe(401);
  });

  it("a tenant sees and cancels only its own jobs: another tenant's job is 404, exactly as an unknown id", async () => {
    for (const [m, p] of [
      ['GET', `/api/v1/jobs/${jobB}`],
      ['POST', `/api/v1/jobs/${jobB}/cancel`],
      ['GET', `/api/v1/jobs/${jobB}/logs`],
      ['GET', `/api/v1/jobs/${jobB}/events`],
      ['GET', `/api/v1/jobs/${jobB}/timeline`],
    ] as const) {
      const r = await req(m, p, { token: tenantA });
      expect(r.status, `${m} ${p}`).toBe(404);
      expect(r.json.error?.message).toBe(`no job ${jobB}`);
      // Same answer as for an id that does not exist: nothing tells the tenant that jobB exists.
      const unknown = await req(m, p.replace(jobB, 'job-987654'), { token: tenantA });
      expect(unknown.status).toBe(404);
      expect(unknown.json.error?.code).toBe(r.json.error?.code);
    }
    expect((await req('GET', `/api/v1/jobs/${jobA}`, { token: tenantA })).status).toBe(200);
    const list = await req('GET', '/api/v1/jobs', { token: tenantA });
    expect((list.json.jobs as Array<{ id: string }>).map((j) => j.id)).toEqual([jobA]);
    const other = await req('POST', '/api/v1/jobs', { token: tenantA, body: job({ tenant: 'bob' }) });
    expect(other.status).toBe(403);
    expect((await req('GET', `/api/v1/jobs/${jobB}`, { token: tenantB })).status).toBe(200);
    expect((await req('GET', `/api/v1/jobs/${jobB}`, { token: admin })).status).toBe(200);
  });

  it('token kinds are confined to their endpoints', async () => {
    expect((await req('GET', '/api/v1/tokens', { token: tenantA })).status).toBe(403);
    expect((await req('POST', '/api/v1/tokens', { token: tenantA, body: { kind: 'tenant', tenant: 'alice' } })).status).toBe(403);
    expect((await req('GET', '/api/v1/jobs', { token: worker })).status).toBe(403);
    expect((await req('POST', '/api/v1/workers', { token: tenantA, body: { name: 'w', gpus: [{ type: 'v100', count: 1 }] } })).status).toBe(403);
    expect((await req('POST', `/api/v1/workers/${workerId}/sync`, { token: admin, body: { running: [], ended: [], progress: [], logs: [] } })).status).toBe(403);
    expect((await req('POST', '/api/v1/progress', { token: admin, body: { steps: 1 } })).status).toBe(403);
    // A worker token cannot speak for another worker.
    expect((await req('POST', '/api/v1/workers/w-999/sync', { token: worker, body: { running: [], ended: [], progress: [], logs: [] } })).status).toBe(403);
  });

  it('tokens are stored hashed and a revoked token stops working', async () => {
    const t = await req('POST', '/api/v1/tokens', { token: admin, body: { kind: 'tenant', tenant: 'carol' } });
    const token = t.json.token as string;
    const db = new Database(srv.store.path, { readonly: true });
    const raw = db.prepare('SELECT hash FROM tokens').all() as Array<{ hash: string }>;
    db.close();
    expect(raw.some((r) => r.hash === token)).toBe(false);
    expect(raw.every((r) => /^[0-9a-f]{64}$/.test(r.hash))).toBe(true);
    expect((await req('GET', '/api/v1/jobs', { token })).status).toBe(200);
    expect((await req('DELETE', `/api/v1/tokens/${t.json.id}`, { token: admin })).status).toBe(200);
    expect((await req('GET', '/api/v1/jobs', { token })).status).toBe(401);
  });

  it('a token body says which kind needs a tenant, and an admin cannot revoke the token it is using (found by schemathesis)', async () => {
    const noTenant = await req('POST', '/api/v1/tokens', { token: admin, body: { kind: 'tenant' } });
    expect(noTenant.status).toBe(400);
    expect(noTenant.json.error?.message).toMatch(/body must have required property 'tenant'/);
    const workerWithTenant = await req('POST', '/api/v1/tokens', { token: admin, body: { kind: 'worker', tenant: 'acme' } });
    expect(workerWithTenant.status).toBe(400);
    expect(workerWithTenant.json.error?.message).toBe('body must not name a tenant: a worker token has none');
    const mine = ((await req('GET', '/api/v1/tokens', { token: admin })).json.tokens as Array<{ id: number; kind: string }>).find((t) => t.kind === 'admin')!;
    const self = await req('DELETE', `/api/v1/tokens/${mine.id}`, { token: admin });
    expect(self.status).toBe(409);
    expect(self.json.error?.message).toMatch(/is the one making this request/);
    expect((await req('GET', '/api/v1/tokens', { token: admin })).status).toBe(200);
  });
});

describe('API documents', () => {
  it('serves an OpenAPI document with a schema on every route and strict bodies', async () => {
    const r = await req('GET', '/api/v1/openapi.json', { token: admin });
    expect(r.status).toBe(200);
    const doc = r.json as unknown as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: { 'application/json': { schema: { additionalProperties?: boolean } } } } }>> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const [m, path] of ROUTES) {
      const p = path().replace(jobA, '{id}').replace(workerId, '{id}').replace(/\/1$/, '/{id}');
      expect(doc.paths[p]?.[m.toLowerCase()], `${m} ${p}`).toBeDefined();
      const body = doc.paths[p]![m.toLowerCase()]!.requestBody;
      if (body) expect(body.content['application/json'].schema.additionalProperties, `${m} ${p}`).toBe(false);
    }
  });

  it('serves Prometheus metrics', async () => {
    const r = await req('GET', '/metrics', { token: admin });
    expect(r.status).toBe(200);
    for (const name of ['rondo_queue_length', 'rondo_running_jobs', 'rondo_gpu_utilization', 'rondo_round_duration_seconds', 'rondo_solver_seconds_sum']) {
      expect(r.text).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? [0-9.e+-]+$`, 'm'));
    }
  });
});

describe('hostile input', () => {
  it('answers >= 1,000 malformed or hostile requests with a 4xx and a clear message; stays up; the store stays consistent', async () => {
    const rand = seededRandom(8);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const jobsBefore = srv.store.countJobs();
    const cases: Array<{ m: string; p: string; o: Parameters<typeof req>[2]; expect: number[] }> = [];
    const valid = JSON.stringify(job());
    // 1. Broken JSON: every prefix-truncation and random byte flips of a valid body.
    for (let i = 1; i < valid.length; i += 2) cases.push({ m: 'POST', p: '/api/v1/jobs', o: { token: admin, body: valid.slice(0, i) }, expect: [400] });
    for (let i = 0; i < 150; i++) {
      const chars = [...valid];
      const k = Math.floor(rand() * chars.length);
      chars[k] = pick(['{', '}', '"', ',', ':', '\\', '\u0000', ']', 'x']);
      const s = chars.join('');
      let ok = false;
      try {
        JSON.parse(s);
        ok = true;
      } catch {
        // broken as intended
      }
      if (!ok) cases.push({ m: 'POST', p: '/api/v1/jobs', o: { token: admin, body: s }, expect: [400] });
    }
    // 2. Huge bodies.
    cases.push({ m: 'POST', p: '/api/v1/jobs', o: { token: admin, body: job({ name: 'x'.repeat(70_000) }) }, expect: [413] });
    cases.push({ m: 'POST', p: '/api/v1/tokens', o: { token: admin, body: { kind: 'tenant', tenant: 'x', label: 'y'.repeat(2_000_000) } }, expect: [413] });
    cases.push({ m: 'POST', p: `/api/v1/workers/${workerId}/sync`, o: { token: worker, body: 'x'.repeat(3_000_000) }, expect: [413] });
    // 3. Wrong types and values for every field, and undeclared fields.
    const wrong: Record<string, unknown[]> = {
      command: ['ls', [], [1], [''], ['a'.repeat(5000)], null, {}, Array(300).fill('a')],
      cwd: [1, '', null, ['/tmp'], 'a'.repeat(5000)],
      env: [[], 'A=1', { 'bad-key': 'v' }, { A: 1 }, { '': 'x' }, { A: 'x'.repeat(5000) }],
      scaleFactor: [0, -1, 1.5, '2', 1e9, null],
      jobType: ['', 5, null],
      priorityWeight: [0, -1, 'high', 1e7],
      tenant: ['', '../x', 'a b', 5, 'x'.repeat(65)],
      sloFactor: [0, -2, 'x'],
      totalSteps: [0, -5, 'many', 1e16],
      gpuTypes: [[], ['V100'], 'v100', [1], ['v100', 'v100']],
      name: [5, '', 'x'.repeat(300)],
      evil: [1, 'x', {}],
      __proto__: [{ admin: true }],
      constructor: [{}],
    };
    for (let round = 0; round < 3; round++) {
      for (const [field, values] of Object.entries(wrong)) {
        for (const v of values) {
          const body = `{"command":["python3"],"cwd":${JSON.stringify(dir)},${JSON.stringify(field)}:${JSON.stringify(v)}}`;
          cases.push({ m: 'POST', p: '/api/v1/jobs', o: { token: pick([admin, tenantA]), body }, expect: [400, 403] });
        }
      }
    }
    // 4. Path tricks in the working directory.
    const cwds = ['/tmp/../etc', '../../etc', 'relative/dir', '/tmp/./x', '//etc', '/tmp/x/..', '/tmp/..', '/tmp/x/../../root', '.', '..', '/tmp/a\u0000b', 'C:\\Windows', '~/x'];
    for (let i = 0; i < 60; i++) cases.push({ m: 'POST', p: '/api/v1/jobs', o: { token: admin, body: job({ cwd: pick(cwds) }) }, expect: [400] });
    // 5. Reserved or NUL-carrying environment and commands.
    for (const env of [{ RONDO_TOKEN: 'x' }, { CUDA_VISIBLE_DEVICES: '0' }, { LD_PRELOAD: '/x.so' }, { RONDO_SERVER: 'http://evil' }, { A: 'a\u0000b' }]) {
      cases.push({ m: 'POST', p: '/api/v1/jobs', o: { token: admin, body: job({ env }) }, expect: [400] });
    }
    cases.push({ m: 'POST', p: '/api/v1/jobs', o: { token: admin, body: job({ command: ['python3', 'a\u0000b'] }) }, expect: [400] });
    // 6. Missing, wrong and other kinds of tokens.
    for (let i = 0; i < 120; i++) {
      const [m, path, body] = pick(ROUTES);
      const token = pick([undefined, '', 'Bearer', 'x'.repeat(300), 'rdo_adm_' + 'B'.repeat(43), admin.slice(0, -1) + (admin.endsWith('A') ? 'B' : 'A'), `${admin} ${admin}`]);
      cases.push({ m, p: path(), o: { ...(token !== undefined ? { token } : {}), ...(body ? { body } : {}) }, expect: [401] });
    }
    // 7. Another tenant's jobs, unknown jobs, malformed ids.
    for (let i = 0; i < 80; i++) {
      const [m, suffix] = pick([['GET', ''], ['POST', '/cancel'], ['GET', '/logs'], ['GET', '/events']] as const);
      cases.push({ m, p: `/api/v1/jobs/${jobB}${suffix}`, o: { token: tenantA }, expect: [404] });
    }
    for (const id of ['job-99999', 'job-0']) cases.push({ m: 'GET', p: `/api/v1/jobs/${id}`, o: { token: admin }, expect: [404] });
    for (const id of ['..%2F..%2Fetc%2Fpasswd', 'job-abc', 'job-' + '9'.repeat(40), '%00', 'job-1%00', 'JOB-1', 'job-1;DROP TABLE jobs']) {
      cases.push({ m: 'GET', p: `/api/v1/jobs/${id}`, o: { token: admin }, expect: [400, 404] });
    }
    // 8. Wrong content types, unknown query parameters, bad query values.
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      cases.push({ m: 'POST', p: '/api/v1/jobs', o: { token: admin, body: valid, type }, expect: [400, 415] });
    }
    for (const q of ['?state=evil', '?limit=-1', '?limit=abc', '?after=1e5', '?admin=1', '?state=queued,,running', '?limit=' + '9'.repeat(30)]) {
      cases.push({ m: 'GET', p: `/api/v1/jobs${q}`, o: { token: admin }, expect: [400] });
    }
    // 9. Hostile sync bodies from a worker.
    const syncs: unknown[] = [
      { running: [], ended: [], progress: [] },
      { running: 'x', ended: [], progress: [], logs: [] },
      { running: [{ attempt: -1, pid: 1, startedAt: 0 }], ended: [], progress: [], logs: [] },
      { running: [], ended: [{ attempt: 1 }], progress: [], logs: [] },
      { running: [], ended: [], progress: [{ attempt: 1, steps: -4 }], logs: [] },
      { running: [], ended: [], progress: [], logs: [{ attempt: 1, lines: [{ stream: 'evil', text: 'x', at: 0 }] }] },
      { running: [], ended: [], progress: [], logs: [], extra: true },
    ];
    for (let i = 0; i < 40; i++) cases.push({ m: 'POST', p: `/api/v1/workers/${workerId}/sync`, o: { token: worker, body: pick(syncs) as object }, expect: [400] });
    // 10. Token creation abuse.
    for (const body of [{ kind: 'admin' }, { kind: 'lease' }, { kind: 'tenant' }, { kind: 'worker', tenant: 'x' }, { kind: 'tenant', tenant: '../../x' }]) {
      cases.push({ m: 'POST', p: '/api/v1/tokens', o: { token: admin, body }, expect: [400] });
    }
    while (cases.length < 1000) {
      const i = cases.length;
      cases.push({ m: 'POST', p: '/api/v1/jobs', o: { token: pick([admin, tenantA, tenantB]), body: job({ scaleFactor: -i }) }, expect: [400] });
    }

    expect(cases.length).toBeGreaterThanOrEqual(1000);
    const failures: string[] = [];
    for (const c of cases) {
      const r = await req(c.m, c.p, c.o);
      if (!c.expect.includes(r.status) || !r.json?.error?.message || r.json.error.message.length < 5) {
        failures.push(`${c.m} ${c.p} ${String(typeof c.o?.body === 'string' ? c.o.body : JSON.stringify(c.o?.body)).slice(0, 80)} -> ${r.status} ${r.text.slice(0, 120)}`);
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
    // Still up, nothing was created, and the store is consistent.
    expect((await req('GET', '/healthz')).status).toBe(200);
    expect(srv.store.countJobs()).toEqual(jobsBefore);
    expect(srv.store.checkInvariants()).toEqual([]);
    expect((await req('POST', '/api/v1/jobs', { token: tenantA, body: job() })).status).toBe(201);
  }, 60_000);
});
