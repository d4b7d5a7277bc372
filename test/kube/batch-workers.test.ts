/**
 * The server's batched worker endpoints the Kubernetes driver uses: many workers registered in one request, and all
 * their heartbeats in one, answering only the leases that are new or changed. Admin token only.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import type { BatchSyncResponse } from '../../src/runtime/protocol.js';
import { until } from './setup.js';

let srv: RunningServer;
let admin: string;
const dir = join(tmpdir(), `rondo-batch-workers-${process.pid}`);

async function post<T>(path: string, body: unknown, token = admin): Promise<{ status: number; json: T }> {
  const res = await fetch(srv.url + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as T };
}

beforeAll(async () => {
  mkdirSync(dir, { recursive: true });
  srv = await startServer({ db: join(dir, 'rondo.db'), port: 0, timing: { roundMs: 60_000, heartbeatMs: 200, graceMs: 500, workerTimeoutMs: 30_000 } });
  admin = srv.store.createToken('admin', { label: 'test' }).token;
});
afterAll(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('batched worker endpoints', () => {
  it('registers, syncs, resends only changed leases, and lets a leaving worker go at once', async () => {
    const reg = await post<{ workers: Array<{ name: string; id: string; token?: string }> }>('/api/v1/workers/register', {
      workers: [
        { name: 'n1', gpus: [{ type: 'v100', count: 1 }] },
        { name: 'n2', gpus: [{ type: 'k80', count: 1 }] },
      ],
    });
    expect(reg.status).toBe(201);
    expect(reg.json.workers.map((w) => w.name)).toEqual(['n1', 'n2']);
    expect(reg.json.workers.every((w) => w.token?.startsWith('rdo_wrk_'))).toBe(true);
    const [n1, n2] = reg.json.workers.map((w) => w.id) as [string, string];
    // A worker's own token may not sync others (admin only), and an unknown id is named, not an error.
    expect((await post('/api/v1/workers/sync', { workers: [{ id: n1 }] }, reg.json.workers[0]!.token)).status).toBe(403);
    const unknown = await post<BatchSyncResponse>('/api/v1/workers/sync', { workers: [{ id: 'w-999' }] });
    expect(unknown.json.unknown).toEqual(['w-999']);

    const submit = await fetch(srv.url + '/api/v1/jobs', { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ command: ['true'], cwd: '/', totalSteps: 100, gpuTypes: ['v100'] }) });
    expect(submit.status).toBe(201);
    // The lease comes in full once, with a token and its round...
    const first = await until('a lease', async () => {
      const r = await post<BatchSyncResponse>('/api/v1/workers/sync', { workers: [{ id: n1 }, { id: n2 }] });
      return r.json.workers.find((w) => w.id === n1 && w.leases.length === 1);
    });
    const lease = first.leases[0]!;
    expect(lease.token).toMatch(/^rdo_lse_/);
    expect(lease.round).toBeGreaterThan(0);
    expect(first.held).toEqual([lease.attempt]);
    // ...then, known with the same lease end, only by id; and no new token unless asked for.
    const again = await post<BatchSyncResponse>('/api/v1/workers/sync', { workers: [{ id: n1, known: [[lease.attempt, lease.leaseEnd]] }, { id: n2 }] });
    expect(again.json.workers).toEqual([{ id: n1, leases: [], acked: [], held: [lease.attempt] }]);
    const asked = await post<BatchSyncResponse>('/api/v1/workers/sync', { workers: [{ id: n1, known: [[lease.attempt, lease.leaseEnd]], needTokens: [lease.attempt] }] });
    expect(asked.json.workers[0]!.leases[0]!.token).toMatch(/^rdo_lse_/);

    // A worker whose machine left reports its ends and is gone at once; what it still held is lost.
    const left = await post<BatchSyncResponse>('/api/v1/workers/sync', { workers: [{ id: n1, leaving: true, ended: [] }] });
    expect(left.status).toBe(200);
    expect(srv.store.getWorker(n1)!.state).toBe('gone');
    expect(srv.store.getAttempt(lease.attempt)!.endReason).toBe('lost');
    // Syncing it normally again brings it back.
    await post<BatchSyncResponse>('/api/v1/workers/sync', { workers: [{ id: n1 }] });
    expect(srv.store.getWorker(n1)!.state).toBe('alive');
    // Re-registering by id keeps the worker and updates its GPUs.
    const rereg = await post<{ workers: Array<{ id: string; token?: string }> }>('/api/v1/workers/register', { workers: [{ id: n2, name: 'n2', gpus: [{ type: 'k80', count: 2 }] }] });
    expect(rereg.json.workers).toEqual([{ name: 'n2', id: n2 }]);
    expect(srv.store.getWorker(n2)!.gpus).toEqual([{ type: 'k80', count: 2 }]);
  }, 60_000);
});
