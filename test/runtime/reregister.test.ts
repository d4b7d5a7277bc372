/**
 * Issue 24, finding 2 on the server: the same worker registering again retires its old registration at once, so GPUs
 * are never counted twice. Real processes: `rondo serve --local-workers 2` killed and started again on the same
 * store (its local agents get new tokens: new registrations of the same machine and names), and two `rondo worker`
 * agents started one after the other with the same name on this machine. History recorded before the restart keeps
 * the capacity it had.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/runtime/client/http-client.js';
import { EXAMPLE, ensureBuilt, freePort, killAll, startServer, startWorker, tempDir, waitFor } from './harness.js';

interface Cluster {
  workers: Array<{ id: string; name: string; state: string; replacedBy: string | null; running: unknown[] }>;
  gpus: Record<string, { total: number; busy: number }>;
}
interface Heterogeneity {
  samples: Array<{ at: string }>;
  byType: Array<{ type: string; capacity: number[]; raw: number[] }>;
}

const longJob = (cwd: string): Record<string, unknown> => ({
  command: ['python3', EXAMPLE, '--steps', '100000', '--step-seconds', '0.05'],
  cwd,
  totalSteps: 100000,
  gpuTypes: ['k80'],
});

describe('a worker that registers again', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterAll(killAll);

  it('after a server restart: the old local registrations are retired, not counted until they time out', async () => {
    const dir = tempDir('reregister');
    const db = join(dir, 'r.db');
    const port = await freePort();
    // A worker timeout of 60 s: without retirement the old registrations would count as live for a minute.
    const flags = ['--local-workers', '2', '--local-gpus', 'v100:1,k80:1', '--worker-timeout', '60'];
    let srv = await startServer(db, port, flags);
    const job = await srv.admin.post<{ id: string }>('/api/v1/jobs', longJob(dir));
    await waitFor('the job to run', async () => (await srv.admin.get<{ state: string }>(`/api/v1/jobs/${job.id}`)).state === 'running', 30_000, 100);
    await waitFor('a use sample', async () => (await srv.admin.get<Heterogeneity>('/api/v1/heterogeneity')).samples.length > 0, 30_000, 100);
    const before = await srv.admin.get<Cluster>('/api/v1/cluster');
    const oldIds = before.workers.map((w) => w.id).sort();
    expect(oldIds).toHaveLength(2);

    srv.proc.kill('SIGKILL');
    await srv.proc.exited;
    srv = await startServer(db, port, flags);
    const after = await waitFor(
      'both local workers to register again',
      async () => {
        const c = await srv.admin.get<Cluster>('/api/v1/cluster');
        return c.workers.filter((w) => w.replacedBy !== null).length === 2 ? c : undefined;
      },
      30_000,
      100,
    );
    const live = after.workers.filter((w) => w.state === 'alive');
    expect(live.map((w) => w.name).sort()).toEqual(['local-1', 'local-2']);
    expect(live.every((w) => !oldIds.includes(w.id))).toBe(true);
    // Each old registration names the new one of the same name, and is gone.
    for (const o of after.workers.filter((w) => oldIds.includes(w.id))) {
      expect(o.state).toBe('gone');
      expect(after.workers.find((w) => w.id === o.replacedBy)?.name).toBe(o.name);
    }
    expect(after.gpus).toEqual({ k80: { total: 2, busy: expect.any(Number) }, v100: { total: 2, busy: expect.any(Number) } });

    // The job's attempt on the old registration ended with it; the job runs again on a new one.
    const view = await waitFor(
      'the job to run on a new registration',
      async () => {
        const j = await srv.admin.get<{ state: string; attemptsDetail: Array<{ workerId: string; state: string; endReason: string | null }> }>(`/api/v1/jobs/${job.id}`);
        return j.attemptsDetail.some((a) => a.state === 'running' && !oldIds.includes(a.workerId)) ? j : undefined;
      },
      30_000,
      100,
    );
    const onOld = view.attemptsDetail.filter((a) => oldIds.includes(a.workerId));
    expect(onOld.every((a) => a.state === 'ended')).toBe(true);
    expect(onOld.some((a) => a.endReason === 'lost')).toBe(true);

    // History: every plan, before and after the restart, saw 2 K80 GPUs (never 4), and the busy K80 count never
    // exceeded the one GPU the job holds.
    const h = await waitFor(
      'a use sample after the restart',
      async () => {
        const r = await srv.admin.get<Heterogeneity>('/api/v1/heterogeneity');
        return r.samples.length >= 2 ? r : undefined;
      },
      30_000,
      100,
    );
    const k80 = h.byType.find((t) => t.type === 'k80')!;
    expect(new Set(k80.capacity)).toEqual(new Set([2]));
    expect(Math.max(...k80.raw)).toBeLessThanOrEqual(1);
    const hist = await srv.admin.get<{ types: Array<{ type: string; busy: number[] }> }>('/api/v1/cluster/history?minutes=5');
    expect(Math.max(...hist.types.find((t) => t.type === 'k80')!.busy)).toBeLessThanOrEqual(1.001);
  }, 180_000);

  it('two agents with the same name on one machine: the later registration retires the earlier, which is refused', async () => {
    const dir = tempDir('reregister-agent');
    const srv = await startServer(join(dir, 'r.db'), await freePort(), ['--worker-timeout', '60']);
    await startWorker(srv.url, srv.admin, 'v100:2', 'gpu-box');
    await startWorker(srv.url, srv.admin, 'v100:2', 'gpu-box');
    const c = await waitFor('one live registration', async () => {
      const r = await srv.admin.get<Cluster>('/api/v1/cluster');
      return r.workers.length === 2 ? r : undefined;
    });
    expect(c.workers.filter((w) => w.state === 'alive')).toHaveLength(1);
    expect(c.gpus.v100!.total).toBe(2);
    const old = c.workers.find((w) => w.replacedBy !== null)!;
    expect(old.state).toBe('gone');
    expect(old.replacedBy).toBe(c.workers.find((w) => w.state === 'alive')!.id);

    // A retired registration's heartbeats are refused with the reason, and do not bring it back.
    const agent = async (): Promise<ApiClient> => new ApiClient({ server: srv.url, token: (await srv.admin.post<{ token: string }>('/api/v1/tokens', { kind: 'worker' })).token });
    const a = await agent();
    const b = await agent();
    const { id } = await a.post<{ id: string }>('/api/v1/workers', { name: 'twin', machine: 'm-1', gpus: [{ type: 'k80', count: 1 }] });
    // Another machine with the same name is another worker; so is a registration that names no machine.
    const other = await (await agent()).post<{ id: string }>('/api/v1/workers', { name: 'twin', machine: 'm-2', gpus: [{ type: 'k80', count: 1 }] });
    const anonymous = await (await agent()).post<{ id: string }>('/api/v1/workers', { name: 'twin', gpus: [{ type: 'k80', count: 1 }] });
    await (await agent()).post('/api/v1/workers', { name: 'twin', gpus: [{ type: 'k80', count: 1 }] });
    const { id: again } = await b.post<{ id: string }>('/api/v1/workers', { name: 'twin', machine: 'm-1', gpus: [{ type: 'k80', count: 1 }] });
    const sync = { running: [], ended: [], progress: [], logs: [] };
    await expect(a.post(`/api/v1/workers/${id}/sync`, sync)).rejects.toThrow(new RegExp(`replaced by ${again}`));
    const now = await srv.admin.get<Cluster>('/api/v1/cluster');
    expect(now.workers.find((w) => w.id === id)).toMatchObject({ state: 'gone', replacedBy: again });
    expect(now.workers.find((w) => w.id === other.id)).toMatchObject({ state: 'alive', replacedBy: null });
    expect(now.workers.find((w) => w.id === anonymous.id)).toMatchObject({ state: 'alive', replacedBy: null });
    expect(now.gpus.k80!.total).toBe(4);
  }, 120_000);
});
