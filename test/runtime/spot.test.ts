/**
 * Spot on the live server (docs/spot.md): prices from a file, a spot worker whose loss is a revocation, and cost so
 * far per job and tenant. In-process (src/runtime/serve.ts) with a hand-driven worker, so the test controls when the
 * worker goes silent.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import { ApiClient } from '../../src/runtime/client/http-client.js';
import type { SyncResponse } from '../../src/runtime/protocol.js';
import { parseGpuSpec } from '../../src/runtime/agent/worker.js';
import { LivePrices } from '../../src/runtime/server/prices.js';
import { tempDir, waitFor } from './harness.js';

const HEADER = 'time_s,gpu_type,tier,usd_per_gpu_hour\n';

let srv: RunningServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

interface CostLine { usd: number; gpuSeconds: number; spotGpuSeconds: number; revocations: number; lostGpuSeconds: number }
interface CostView { total: CostLine; tenants: Array<CostLine & { tenant: string; jobs: number }>; jobs: Array<CostLine & { jobId: string; tenant: string }>; prices: { prices: Record<string, number>; error: string | null } }

describe('spot on the live server', () => {
  it('bills GPU time at the tier price, counts a spot worker lost as a revocation, re-queues the job', async () => {
    const dir = tempDir('spot-live');
    const pricesFile = join(dir, 'prices.csv');
    writeFileSync(pricesFile, `${HEADER}0,v100,spot,1.2\n0,v100,on-demand,3.6\n`);
    srv = await startServer({
      db: join(dir, 'r.db'), port: 0, checkpointRoot: join(dir, 'ckpt'),
      timing: { roundMs: 1000, graceMs: 300, heartbeatMs: 100, workerTimeoutMs: 800 },
      prices: { file: pricesFile, intervalMs: 1000 },
    });
    const admin = new ApiClient({ server: srv.url, token: srv.adminToken! });
    const alice = new ApiClient({ server: srv.url, token: srv.store.createToken('tenant', { tenant: 'alice' }).token });
    const bob = new ApiClient({ server: srv.url, token: srv.store.createToken('tenant', { tenant: 'bob' }).token });
    expect((await admin.request<{ prices: Record<string, number> }>('GET', '/api/v1/prices')).prices).toEqual({ 'v100-spot': 1.2, v100: 3.6 });

    const worker = new ApiClient({ server: srv.url, token: srv.store.createToken('worker').token });
    const { id } = await worker.request<{ id: string }>('POST', '/api/v1/workers', { name: 'spot-1', gpus: parseGpuSpec('v100:1:spot') });
    const job = srv.store.submitJob({ command: ['true'], cwd: dir, env: {}, scaleFactor: 1, jobType: null, priorityWeight: 1, tenant: 'alice', sloFactor: null, deadlineS: null, totalSteps: 100, gpuTypes: null, name: null });
    srv.scheduler.poke();
    const sync = (running: Array<{ attempt: number; pid: number; startedAt: number }>): Promise<SyncResponse> =>
      worker.request<SyncResponse>('POST', `/api/v1/workers/${id}/sync`, { running, ended: [], progress: [], logs: [] });
    const lease = await waitFor('a lease on the spot worker', async () => (await sync([])).leases[0]);
    expect(lease.gpuType).toBe('v100-spot');
    // The worker runs the job for a while, then its machine is reclaimed: it goes silent.
    const started = Date.now();
    while (Date.now() - started < 600) {
      await sync([{ attempt: lease.attempt, pid: 4242, startedAt: started }]);
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor('the attempt lost', () => srv!.store.attemptsOfJob(job.id).find((a) => a.id === lease.attempt && a.endReason === 'lost'), 20_000);
    expect(['queued', 'running']).toContain(srv.store.getJob(job.id)!.state);

    const all = await admin.request<CostView>('GET', '/api/v1/cost');
    const line = all.jobs.find((j) => j.jobId === job.id)!;
    expect(line.revocations).toBe(1);
    expect(line.gpuSeconds).toBeGreaterThan(0.5);
    expect(line.spotGpuSeconds).toBe(line.gpuSeconds);
    expect(line.lostGpuSeconds).toBe(line.gpuSeconds);
    expect(line.usd).toBeCloseTo((1.2 * line.gpuSeconds) / 3600, 9);
    expect(all.tenants).toEqual([expect.objectContaining({ tenant: 'alice', jobs: 1, revocations: 1 })]);
    expect(all.total.usd).toBeCloseTo(line.usd, 12);
    expect((await admin.request<CostLine>('GET', `/api/v1/jobs/${job.id}/cost`)).revocations).toBe(1);
    expect((await alice.request<CostView>('GET', '/api/v1/cost')).jobs.map((j) => j.jobId)).toEqual([job.id]);
    // Another tenant sees none of it, and not the job's cost either.
    const theirs = await bob.request<CostView>('GET', '/api/v1/cost');
    expect(theirs.jobs).toEqual([]);
    expect(theirs.total.usd).toBe(0);
    await expect(bob.request('GET', `/api/v1/jobs/${job.id}/cost`)).rejects.toMatchObject({ status: 404 });
    // No token, or a worker's: refused.
    for (const path of ['/api/v1/cost', '/api/v1/prices', `/api/v1/jobs/${job.id}/cost`]) {
      await expect(new ApiClient({ server: srv.url }).request('GET', path)).rejects.toMatchObject({ status: 401 });
      await expect(worker.request('GET', path)).rejects.toMatchObject({ status: 403 });
    }
    await expect(admin.request('GET', '/api/v1/cost?limit=x')).rejects.toMatchObject({ status: 400 });
  }, 60_000);
});

describe('live prices re-solve', () => {
  it('re-solves when a price read from the file moves past the threshold, not for a smaller move', async () => {
    const dir = tempDir('spot-resolve');
    const pricesFile = join(dir, 'prices.csv');
    writeFileSync(pricesFile, `${HEADER}0,v100,spot,1.0\n0,v100,on-demand,3.0\n`);
    srv = await startServer({
      db: join(dir, 'r.db'), port: 0, checkpointRoot: join(dir, 'ckpt'), policy: 'min-cost',
      timing: { roundMs: 500, graceMs: 300, heartbeatMs: 100, workerTimeoutMs: 5000 },
      prices: { file: pricesFile, intervalMs: 1000, threshold: 0.1 },
    });
    const s = srv;
    const worker = new ApiClient({ server: s.url, token: s.store.createToken('worker').token });
    const { id } = await worker.request<{ id: string }>('POST', '/api/v1/workers', { name: 'w', gpus: parseGpuSpec('v100:1:spot,v100:1') });
    s.store.submitJob({ command: ['true'], cwd: dir, env: {}, scaleFactor: 1, jobType: null, priorityWeight: 1, tenant: 'alice', sloFactor: null, deadlineS: null, totalSteps: 1e9, gpuTypes: null, name: null });
    s.scheduler.poke();
    // The worker keeps syncing and runs whatever it is leased: nothing but prices changes from here on.
    let stop = false;
    const loop = (async () => {
      const running = new Map<number, number>();
      while (!stop) {
        const r = await worker.request<SyncResponse>('POST', `/api/v1/workers/${id}/sync`, { running: [...running].map(([attempt, startedAt]) => ({ attempt, pid: 1, startedAt })), ended: [], progress: [], logs: [] });
        for (const l of r.leases) if (!running.has(l.attempt)) running.set(l.attempt, Date.now());
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    try {
      await waitFor('the job running', () => s.store.openAttempts().some((a) => a.state === 'running'));
      // Quiet: several rounds without a re-solve.
      const quiet = async (): Promise<number> => {
        const at = s.scheduler.stats.solverCount;
        const round = s.scheduler.stats.rounds;
        await waitFor('three rounds', () => s.scheduler.stats.rounds >= round + 3, 20_000);
        return s.scheduler.stats.solverCount - at;
      };
      await waitFor('a quiet stretch', async () => (await quiet()) === 0, 30_000);
      const before = s.scheduler.stats.solverCount;
      // +5%: read, in force, but no re-solve.
      writeFileSync(pricesFile, `${HEADER}0,v100,spot,1.05\n0,v100,on-demand,3.0\n`);
      await waitFor('the 5% price read', () => s.scheduler.livePrices!.current()['v100-spot'] === 1.05, 30_000);
      expect(await quiet()).toBe(0);
      expect(s.scheduler.stats.solverCount).toBe(before);
      // +50%: re-solved once.
      writeFileSync(pricesFile, `${HEADER}0,v100,spot,1.5\n0,v100,on-demand,3.0\n`);
      await waitFor('the 50% price read', () => s.scheduler.livePrices!.current()['v100-spot'] === 1.5, 30_000);
      await waitFor('a re-solve', () => s.scheduler.stats.solverCount > before, 30_000);
      expect(await quiet()).toBe(0);
    } finally {
      stop = true;
      await loop;
    }
  }, 120_000);
});

describe('live prices', () => {
  const meta = (): { getMeta(k: string): string | undefined; setMeta(k: string, v: string): void; data: Map<string, string> } => {
    const data = new Map<string, string>();
    return { data, getMeta: (k) => data.get(k), setMeta: (k, v) => void data.set(k, v) };
  };

  it('keeps the last good prices when a read fails, with the reason, and bills each span at the price then', async () => {
    let body = `${HEADER}0,a100,spot,2\n`;
    let fail = false;
    const logs: string[] = [];
    const store = meta();
    const p = new LivePrices({ url: 'http://prices.example/now.csv', intervalMs: 60_000 }, store, (m) => logs.push(m), async () => {
      if (fail) throw new Error('HTTP 503 Service Unavailable');
      return body;
    });
    await p.start();
    p.stop();
    expect(p.current()).toEqual({ 'a100-spot': 2 });
    fail = true;
    await p.refresh();
    expect(p.current()).toEqual({ 'a100-spot': 2 });
    expect(p.status().error).toMatch(/503/);
    expect(logs.at(-1)).toMatch(/cannot use http:\/\/prices\.example\/now\.csv: HTTP 503.*keeping the prices read/);
    fail = false;
    body = `${HEADER}0,a100,spot,abc\n`;
    await p.refresh();
    expect(p.status().error).toMatch(/now\.csv:2:1: bad usd_per_gpu_hour/);
    expect(p.current()).toEqual({ 'a100-spot': 2 });
    body = `${HEADER}0,a100,spot,1\n0,a100,spot,3\n`;
    await p.refresh();
    expect(p.current()).toEqual({ 'a100-spot': 3 });
    expect(p.status().error).toBeNull();
    // The history survives a restart (the store), and a span is billed piecewise.
    const again = new LivePrices({ url: 'http://prices.example/now.csv' }, store);
    expect(again.current()).toEqual({ 'a100-spot': 3 });
    const changes = (JSON.parse(store.data.get('spot.prices')!) as { changes: Array<{ atMs: number }> }).changes;
    expect(changes).toHaveLength(2);
    const t0 = changes[0]!.atMs;
    const t1 = changes[1]!.atMs;
    expect(again.cost('a100-spot', 2, t0 - 1000, t1 + 3_600_000)).toBeCloseTo((2 * 2 * (t1 - t0)) / 3_600_000 + 2 * 3, 9);
    expect(again.cost('v100', 1, t0, t1 + 1000)).toBe(0);
  });

  it('refuses a bad price file at start, and bad sources', async () => {
    const dir = tempDir('spot-prices');
    const f = join(dir, 'p.csv');
    writeFileSync(f, `${HEADER}5,a100,spot,2\n`);
    await expect(new LivePrices({ file: f }, meta()).start()).rejects.toThrow(/add a row for a100-spot at time_s 0/);
    expect(() => new LivePrices({ url: 'ftp://x' }, meta())).toThrow(/http/);
    expect(() => new LivePrices({}, meta())).toThrow(/--prices/);
  });

  it('parses tiers in GPU specs', () => {
    expect(parseGpuSpec('v100:2:spot,k80:1')).toEqual([{ type: 'v100-spot', count: 2 }, { type: 'k80', count: 1 }]);
    expect(parseGpuSpec('v100:2', 'spot')).toEqual([{ type: 'v100-spot', count: 2 }]);
    expect(parseGpuSpec('v100:2:on-demand', 'spot')).toEqual([{ type: 'v100', count: 2 }]);
    expect(() => parseGpuSpec('v100:2:cheap')).toThrow(/spot or on-demand/);
    expect(() => parseGpuSpec('v100-spot:2:spot')).toThrow(/already names a tier/);
  });
});
