/**
 * Issue 24, the heterogeneity view's endpoint with real processes: `rondo serve` with its default throughput table
 * and one worker with a V100 and a K80. Two ResNet-50 jobs (a known type: the table says a V100 is several times a
 * K80) hold both GPUs, so the one on the K80 runs below its best type: effective GPU use is below raw use, on the K80
 * and for its tenant; a third job waits, which shows as queued demand. A tenant sees only its own series and jobs.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/runtime/client/http-client.js';
import { ensureBuilt, freePort, killAll, startServer, startWorker, tempDir, waitFor } from './harness.js';

interface Figures {
  raw: number[];
  effective: number[];
  queued: number[];
}
interface Heterogeneity {
  from: string;
  to: string;
  samples: Array<{ round: number; at: string; end: string }>;
  byType: Array<Figures & { type: string; capacity: number[] }>;
  byTenant: Array<Figures & { tenant: string }>;
  total: Figures & { capacity: number[] };
  jobs: Array<{ id: string; tenant: string; gpuType: string; gpus: number; throughput: number | null; bestType: string | null; bestThroughput: number | null; ratio: number | null; source: string | null }>;
}

// Sleeps without reporting progress: its throughputs stay the table's, so the expected ratio is known.
const resnet = (cwd: string): Record<string, unknown> => ({
  command: ['python3', '-c', 'import time; time.sleep(600)'],
  cwd,
  totalSteps: 1_000_000,
  jobType: 'ResNet-50 (batch size 64)',
});

describe('GET /api/v1/heterogeneity', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterAll(killAll);

  it('records raw against throughput-weighted use per plan, by type and tenant, with queued demand', async () => {
    const dir = tempDir('heterogeneity');
    const srv = await startServer(join(dir, 'r.db'), await freePort());
    await startWorker(srv.url, srv.admin, 'v100:1,k80:1', 'w');
    const tokens: Record<string, ApiClient> = {};
    for (const t of ['alice', 'bob']) {
      const { token } = await srv.admin.post<{ token: string }>('/api/v1/tokens', { kind: 'tenant', tenant: t });
      tokens[t] = new ApiClient({ server: srv.url, token });
    }
    const a = await tokens.alice!.post<{ id: string }>('/api/v1/jobs', resnet(dir));
    const b = await tokens.bob!.post<{ id: string }>('/api/v1/jobs', resnet(dir));
    const c = await tokens.bob!.post<{ id: string }>('/api/v1/jobs', resnet(dir));
    // No live worker has an A100: this job is no demand on this cluster, for its type nor its tenant.
    await tokens.alice!.post('/api/v1/jobs', { ...resnet(dir), gpuTypes: ['a100'] });

    // A sample where both GPUs are held and one job waits.
    const h = await waitFor(
      'a plan that holds both GPUs with a job waiting',
      async () => {
        const r = await srv.admin.get<Heterogeneity>('/api/v1/heterogeneity?minutes=10');
        const i = r.total.raw.findLastIndex((x, k) => x === 2 && r.total.queued[k]! >= 1);
        return i >= 0 && r.jobs.length === 2 ? { r, i } : undefined;
      },
      60_000,
      200,
    );
    const { r, i } = h;
    expect(r.samples.length).toBe(r.total.raw.length);
    const type = (t: string) => r.byType.find((x) => x.type === t)!;
    expect(type('v100').capacity[i]).toBe(1);
    expect(type('k80').capacity[i]).toBe(1);
    expect(type('v100').raw[i]).toBe(1);
    expect(type('k80').raw[i]).toBe(1);
    // On its best type a job counts fully; on the K80 a ResNet-50 counts as the fraction of its V100 speed it gets.
    expect(type('v100').effective[i]).toBeCloseTo(1, 6);
    expect(type('k80').effective[i]).toBeGreaterThan(0);
    expect(type('k80').effective[i]).toBeLessThan(0.7);
    expect(r.total.effective[i]).toBeCloseTo(type('v100').effective[i]! + type('k80').effective[i]!, 3);
    // The waiting job asks for one GPU of its best type, the V100.
    expect(type('v100').queued[i]).toBe(1);
    expect(type('k80').queued[i]).toBe(0);
    const bob = r.byTenant.find((x) => x.tenant === 'bob')!;
    const alice = r.byTenant.find((x) => x.tenant === 'alice')!;
    // The one of the three that waits (the policy rotates them) is its tenant's one queued GPU; the a100 job is none.
    expect([alice.queued[i], bob.queued[i]].sort()).toEqual([0, 1]);
    expect(r.total.queued[i]).toBe(1);
    expect(alice.raw[i]! + bob.raw[i]!).toBe(2);
    expect(alice.effective[i]! + bob.effective[i]!).toBeCloseTo(r.total.effective[i]!, 3);

    // Per running job: the one on the K80 runs at the table's K80/V100 ratio, the other at 1.
    const onK80 = r.jobs.find((j) => j.gpuType === 'k80')!;
    const onV100 = r.jobs.find((j) => j.gpuType === 'v100')!;
    expect(onK80.id).not.toBe(onV100.id);
    for (const j of [onK80, onV100]) expect([a.id, b.id, c.id]).toContain(j.id);
    expect(onK80.bestType).toBe('v100');
    expect(onK80.ratio!).toBeCloseTo(onK80.throughput! / onK80.bestThroughput!, 9);
    expect(onK80.ratio!).toBeLessThan(0.7);
    expect(onK80.source).toBe('table');
    expect(onV100.ratio).toBe(1);
    // Ordered worst first: the job that loses most to heterogeneity leads.
    expect(r.jobs[0]!.id).toBe(onK80.id);

    // A tenant: the cluster-wide series by type, its own series by tenant, its own jobs.
    const mine = await tokens.alice!.get<Heterogeneity>('/api/v1/heterogeneity?minutes=10');
    expect(mine.byTenant.map((x) => x.tenant)).toEqual(['alice']);
    expect(mine.jobs.every((j) => j.tenant === 'alice')).toBe(true);
    expect(mine.byType.map((x) => x.type)).toEqual(['k80', 'v100']);

    // Bad input is refused with the reason; the endpoint is in the OpenAPI document with its response.
    const bad = await fetch(`${srv.url}/api/v1/heterogeneity?minutes=-5`, { headers: { authorization: `Bearer ${srv.token}` } });
    expect(bad.status).toBe(400);
    const doc = await srv.admin.get<{ paths: Record<string, { get?: { responses: Record<string, { content?: unknown }> } }> }>('/api/v1/openapi.json');
    expect(doc.paths['/api/v1/heterogeneity']?.get?.responses['200']?.content).toBeDefined();
  }, 120_000);
});
