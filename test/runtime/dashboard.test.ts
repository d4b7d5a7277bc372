import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import { EAGER_WHY } from '../../src/runtime/server/why.js';
import { tempDir, waitFor } from './harness.js';

/**
 * The dashboard's part of the server (src/runtime/server/routes/dashboard.ts): the built UI at `/`, the change stream and the read
 * endpoints the UI joins on one screen, with a real store and one in-process worker running real processes.
 */

let srv: RunningServer;
let dir: string;
let web: string;
const tok: Record<string, string> = {};

async function get(path: string, token?: string): Promise<{ status: number; text: string; json: Record<string, unknown>; type: string }> {
  const res = await fetch(srv.url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, text, json, type: res.headers.get('content-type') ?? '' };
}

async function submit(token: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${srv.url}/api/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ cwd: dir, ...body }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

const sleepJob = (s: number) => ({ command: ['python3', '-c', `import time; time.sleep(${s})`] });

beforeAll(async () => {
  dir = tempDir('dashboard-api');
  web = join(dir, 'web');
  mkdirSync(join(web, 'assets'), { recursive: true });
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>Rondo test UI</title><script type="module" src="./assets/app.js"></script>');
  writeFileSync(join(web, 'assets', 'app.js'), 'console.log("ui")');
  srv = await startServer({
    db: join(dir, 'r.db'),
    port: 0,
    policy: 'fifo',
    webDir: web,
    localWorkers: 1,
    checkpointRoot: join(dir, 'ck'),
    timing: { roundMs: 500, heartbeatMs: 100, workerTimeoutMs: 5000, graceMs: 300 },
    keepPlans: 10, // 5 s of rounds: the timeline below meets pruned rounds
  });
  tok.admin = srv.adminToken!;
  for (const t of ['alice', 'bob']) {
    const res = await fetch(`${srv.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tok.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'tenant', tenant: t }),
    });
    tok[t] = ((await res.json()) as { token: string }).token;
  }
});

afterAll(async () => {
  await srv?.close();
});

describe('the built UI', () => {
  it('is served at / without a token, files only, and stays out of the OpenAPI document', async () => {
    const index = await get('/');
    expect(index.status).toBe(200);
    expect(index.type).toMatch(/text\/html/);
    expect(index.text).toContain('Rondo test UI');
    const js = await get('/assets/app.js');
    expect(js.status).toBe(200);
    expect(js.type).toMatch(/javascript/);
    for (const p of ['/assets/../../r.db', '/%2e%2e/r.db', '/r.db', '/assets/nope.js']) expect((await get(p)).status, p).toBeGreaterThanOrEqual(400);
    const doc = await get('/api/v1/openapi.json', tok.admin);
    const paths = Object.keys(doc.json.paths as object);
    expect(paths).toContain('/api/v1/queue');
    expect(paths.filter((p) => !p.startsWith('/api/v1/') && p !== '/metrics' && p !== '/healthz')).toEqual([]);
  });

  it('says how to build it when it was not built', async () => {
    const empty = join(dir, 'not-built');
    mkdirSync(empty, { recursive: true });
    const other = await startServer({ db: join(dir, 'other.db'), port: 0, webDir: empty });
    try {
      const r = await fetch(`${other.url}/`);
      expect(r.status).toBe(503);
      const html = await r.text();
      expect(html).toMatch(/has not been built/);
      expect(html).toMatch(/npm ci/);
    } finally {
      await other.close();
    }
  });
});

describe('dashboard endpoints', () => {
  it('whoami tells the kind of token; a worker token is refused', async () => {
    expect((await get('/api/v1/whoami', tok.alice)).json).toMatchObject({ kind: 'tenant', tenant: 'alice', policy: 'fifo' });
    expect((await get('/api/v1/whoami', tok.admin)).json).toMatchObject({ kind: 'admin', tenant: null });
    const w = await fetch(`${srv.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tok.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'worker' }),
    });
    expect((await get('/api/v1/whoami', ((await w.json()) as { token: string }).token)).status).toBe(403);
  });

  it('a tenant sees its own jobs only, everywhere; the admin filters by tenant and pages', async () => {
    // Bob's long job takes the one GPU (FIFO), then three of Alice's wait behind it.
    const bobJob = await submit(tok.bob!, { ...sleepJob(20), name: 'bob-long', totalSteps: 100 });
    await waitFor('bob to run', async () => ((await get(`/api/v1/jobs/${bobJob}`, tok.admin)).json.state === 'running' ? true : undefined), 15_000, 50);
    const alice: string[] = [];
    for (let i = 0; i < 3; i++) alice.push(await submit(tok.alice!, { ...sleepJob(20), name: `alice-${i}`, totalSteps: 50 }));

    // On a loaded machine a lease extension can come late and Bob's job go back to the queue for a moment (see the
    // cluster check below). Read the views while the admin's counts show it running both before and after.
    type Counts = Record<string, number>;
    const bobHolds = async () => {
      const c = (await get('/api/v1/queue?limit=1', tok.admin)).json.counts as Counts;
      return c.running === 1 && c.queued === 3;
    };
    const { q, all } = await waitFor('bob running, alice queued, while the views are read', async () => {
      if (!(await bobHolds())) return undefined;
      const views = { q: await get('/api/v1/queue', tok.alice), all: await get('/api/v1/queue?limit=2&offset=1', tok.admin) };
      return (await bobHolds()) ? views : undefined;
    });
    expect(q.status).toBe(200);
    const rows = q.json.jobs as Array<{ id: string; tenant: string; state: string; position: number | null; receivedShare: number[] }>;
    expect(rows.map((r) => r.id).sort()).toEqual([...alice].sort());
    expect(rows.every((r) => r.tenant === 'alice' && r.state === 'queued')).toBe(true);
    // Positions 1..3 among queued jobs; shares are given per GPU type of the response.
    expect(rows.map((r) => r.position).sort()).toEqual([1, 2, 3]);
    expect(q.json.gpuTypes).toEqual(['local']);
    expect(q.json.tenants).toEqual(['alice']);
    expect((await get('/api/v1/queue?tenant=bob', tok.alice)).status).toBe(403);
    expect(JSON.stringify((await get('/api/v1/queue?state=running', tok.alice)).json.jobs)).toBe('[]');

    expect(all.json.total).toBe(4);
    expect((all.json.jobs as unknown[]).length).toBe(2);
    expect((all.json.counts as Counts).queued).toBe(3);
    const first = await waitFor('bob running first', async () => {
      const rows = (await get('/api/v1/queue?limit=1', tok.admin)).json.jobs as Array<{ id: string; runningOn: unknown }>;
      return rows[0]?.runningOn ? rows : undefined;
    });
    expect(first[0]!.id).toBe(bobJob); // running first
    expect(first[0]!.runningOn).toMatchObject({ gpuType: 'local', devices: [0] });
    expect(((await get('/api/v1/queue?tenant=bob', tok.admin)).json.jobs as Array<{ id: string }>).map((r) => r.id)).toEqual([bobJob]);
    expect(((await get('/api/v1/queue?q=alice-2', tok.admin)).json.jobs as Array<{ id: string }>).map((r) => r.id)).toEqual([alice[2]]);
    expect((await get('/api/v1/queue?limit=abc', tok.admin)).status).toBe(400);

    // The cluster shows that Bob's job holds the GPU, but not which job, to Alice. (On a loaded machine a lease
    // extension can come late and the job restart under a new attempt: wait until one runs.)
    type ClusterRunning = { workers: Array<{ running: Array<{ jobId: string | null }> }> };
    const cl = await waitFor('a running attempt', async () => {
      const c = (await get('/api/v1/cluster', tok.alice)).json as ClusterRunning;
      return c.workers[0]!.running.length === 1 ? c : undefined;
    });
    expect(cl.workers[0]!.running[0]!.jobId).toBeNull();
    const clBob = await waitFor('a running attempt', async () => {
      const c = (await get('/api/v1/cluster', tok.bob)).json as ClusterRunning;
      return c.workers[0]!.running.length === 1 ? c : undefined;
    });
    expect(clBob.workers[0]!.running[0]!.jobId).toBe(bobJob);

    const fa = (await get('/api/v1/fairness', tok.alice)).json as {
      jobs: Array<{ id: string; rho: number | null }>;
      tenants: Array<{ tenant: string; fairShare: number; gpusHeld: number }>;
      allocation: { rows: Array<{ jobId: string }> };
    };
    expect(fa.jobs.map((j) => j.id).sort()).toEqual([...alice].sort());
    expect(fa.tenants).toHaveLength(1);
    expect(fa.tenants[0]).toMatchObject({ tenant: 'alice', fairShare: 0.5, gpusHeld: 0 });
    expect(fa.allocation.rows.every((r) => alice.includes(r.jobId))).toBe(true);
    expect(JSON.stringify(fa)).not.toContain(bobJob);
    type Fair = { tenants: Array<{ tenant: string; gpusHeld: number }>; jobs: Array<{ id: string; rho: number | null; rhoAtLeast: number | null }> };
    const faAdmin = await waitFor('bob holding the GPU', async () => {
      const f = (await get('/api/v1/fairness', tok.admin)).json as Fair;
      return f.tenants.some((t) => t.gpusHeld > 0) ? f : undefined;
    });
    expect(faAdmin.tenants.map((t) => [t.tenant, t.gpusHeld])).toEqual([
      ['alice', 0],
      ['bob', 1],
    ]);
    // Every job with a known length has an estimate or a lower bound.
    expect(faAdmin.jobs.every((j) => j.rho !== null || j.rhoAtLeast !== null)).toBe(true);

    // Bob's timeline: the attempt that runs, the rounds that placed it. Alice may not read it.
    const tl = (await get(`/api/v1/jobs/${bobJob}/timeline`, tok.bob)).json as { attempts: Array<{ startedAt: string | null; gpuType: string; workerName: string }>; rounds: Array<{ gpuType: string }> };
    expect(tl.attempts.length).toBeGreaterThanOrEqual(1);
    expect(tl.attempts[0]).toMatchObject({ gpuType: 'local', workerName: 'local-1' });
    expect(tl.attempts.some((a) => a.startedAt !== null)).toBe(true);
    expect(tl.rounds.length).toBeGreaterThan(0);
    expect(tl.rounds.every((r) => r.gpuType === 'local')).toBe(true);
    // Rounds older than the last 10 keep no plan: the timeline says how many since bob's submission, lists none of them.
    type Pruned = { rounds: Array<{ round: number }>; roundsPruned: { count: number; last: number } | null };
    const tp = await waitFor('pruned rounds in bob\'s timeline', async () => {
      const t = (await get(`/api/v1/jobs/${bobJob}/timeline`, tok.bob)).json as Pruned;
      return t.roundsPruned ? t : undefined;
    }, 30_000, 200);
    expect(tp.roundsPruned!.count).toBeGreaterThan(0);
    expect(tp.rounds.every((r) => r.round > tp.roundsPruned!.last)).toBe(true);
    expect((await get(`/api/v1/jobs/${bobJob}/timeline`, tok.alice)).status).toBe(404);
    expect((await get('/api/v1/jobs/job-999/timeline', tok.admin)).status).toBe(404);

    // GPU use over time: the one local GPU was busy lately. (Bob's lease shows above before its process has run for a
    // whole bucket of the history, half a second in a young cluster; on a loaded machine that takes a moment.)
    type History = { types: Array<{ type: string; capacity: number; busy: number[] }> };
    const h = await waitFor('the history showing the GPU busy for a whole bucket', async () => {
      const r = (await get('/api/v1/cluster/history?minutes=5', tok.alice)).json as History;
      return Math.max(0, ...(r.types[0]?.busy ?? [])) > 0.5 ? r : undefined;
    });
    expect(h.types).toHaveLength(1);
    expect(h.types[0]!.capacity).toBe(1);
    expect(Math.max(...h.types[0]!.busy)).toBeGreaterThan(0.5);
    expect(Math.max(...h.types[0]!.busy)).toBeLessThanOrEqual(1.001);
    expect((await get('/api/v1/cluster/history?minutes=-1', tok.alice)).status).toBe(400);

    for (const id of [bobJob, ...alice]) await fetch(`${srv.url}/api/v1/jobs/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${tok.admin}` } });
  });

  it("a waiting job carries the planner's own reason, with the round it is from", async () => {
    const first = await submit(tok.admin!, { ...sleepJob(30), name: 'holds-the-gpu' });
    const second = await submit(tok.admin!, { ...sleepJob(30), name: 'waits' });
    type Why = { state: string; position: number | null; why: { kind: string; text: string; round: number | null } | null };
    const w = await waitFor("the planner's reason for the waiting job", async () => {
      const a = (await get(`/api/v1/jobs/${first}/why`, tok.admin)).json as Why;
      const b = (await get(`/api/v1/jobs/${second}/why`, tok.admin)).json as Why;
      const waiting = [a, b].find((x) => x.state === 'queued' && x.why?.round);
      return waiting && [a, b].some((x) => x.state === 'running') ? waiting : undefined;
    }, 20_000, 100);
    // One GPU, FIFO: the other job holds it. The reason is the mechanism's, not a guess from the shape.
    expect(['fifo', 'outranked', 'no-allocation', 'no-share']).toContain(w.why!.kind);
    expect(w.why!.text.length).toBeGreaterThan(10);
    expect(w.position).toBe(1);
    for (const id of [first, second]) await fetch(`${srv.url}/api/v1/jobs/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${tok.admin}` } });
  });

  it(`a job deep in the queue (past the ${EAGER_WHY} reasons a round computes at once) gets its reason on request`, async () => {
    const holder = await submit(tok.admin!, { ...sleepJob(60), name: 'holds-the-gpu' });
    const ids: string[] = [];
    for (let i = 0; i < EAGER_WHY + 30; i++) ids.push(await submit(tok.admin!, { ...sleepJob(60), name: `deep-${i}` }));
    const deep = ids[ids.length - 1]!;
    type Why = { state: string; position: number | null; why: { kind: string; text: string; round: number | null } | null };
    const w = await waitFor('a round that saw the deep job', async () => {
      const r = (await get(`/api/v1/jobs/${deep}/why`, tok.admin)).json as Why;
      return r.state === 'queued' && r.why?.round ? r : undefined;
    }, 30_000, 200);
    expect(w.position).toBeGreaterThan(EAGER_WHY);
    expect(['fifo', 'outranked', 'no-allocation', 'no-share']).toContain(w.why!.kind);
    expect(w.why!.text.length).toBeGreaterThan(10);
    for (const id of [holder, ...ids]) await fetch(`${srv.url}/api/v1/jobs/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${tok.admin}` } });
  });

  it('a job no live worker can hold is marked as not fitting, gets no place in the queue, and says why', async () => {
    const big = await submit(tok.admin!, { ...sleepJob(1), name: 'needs-two', scaleFactor: 2 });
    const small = await submit(tok.admin!, { ...sleepJob(1), name: 'needs-one' });
    type Row = { id: string; state: string; fits: boolean; position: number | null; why: { kind: string; text: string } | null };
    const rows = (await get('/api/v1/queue?state=queued,running', tok.admin)).json.jobs as Row[];
    const b = rows.find((r) => r.id === big)!;
    const s1 = rows.find((r) => r.id === small)!;
    expect(b.fits).toBe(false);
    expect(s1.fits).toBe(true);
    // A job that cannot start has no position (it would never reach the front); its reason names the shape.
    expect(b.position).toBeNull();
    expect(b.why).toMatchObject({ kind: 'never' });
    expect(b.why!.text).toMatch(/needs 2×\S+ on one worker; the largest has 1/);
    const why = (await get(`/api/v1/jobs/${big}/why`, tok.admin)).json as { position: number | null; why: { kind: string } };
    expect(why.position).toBeNull();
    expect(why.why.kind).toBe('never');
    // Another tenant's job: the same "no job" answer as a job that does not exist.
    expect((await get(`/api/v1/jobs/${big}/why`, tok.alice)).status).toBe(404);
    for (const id of [big, small]) await fetch(`${srv.url}/api/v1/jobs/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${tok.admin}` } });
  });

  it('the change stream sends an event at once and another after a change', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${srv.url}/api/v1/stream`, { headers: { authorization: `Bearer ${tok.alice}` }, signal: ctl.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    const nextEvent = async (): Promise<string> => {
      while (!buf.includes('\n\n')) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buf += value;
      }
      const cut = buf.indexOf('\n\n');
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      return block;
    };
    expect(await nextEvent()).toMatch(/^retry: \d+\nevent: change\ndata: \{/);
    await submit(tok.alice!, { command: ['true'] });
    const t0 = Date.now();
    let ev = await nextEvent();
    while (!ev.includes('event: change')) ev = await nextEvent();
    expect(Date.now() - t0).toBeLessThan(8000); // ticks every 0.5 s; a keep-alive (no change) only every 15 s
    ctl.abort();
    expect((await fetch(`${srv.url}/api/v1/stream`)).status).toBe(401);
  });
});
