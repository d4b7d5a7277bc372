import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, HttpError } from '../../src/runtime/client/http-client.js';
import type { TenantHistory } from '../../src/runtime/dashboard-api.js';
import { startServer as startInProcess } from '../../src/runtime/serve.js';
import { counterJob, ensureBuilt, freePort, killAll, startServer, startWorker, tempDir, waitFor, type JobView } from './harness.js';

/** `rondo serve --tenants FILE` with real processes: the tree drives the policy, tokens, /metrics and the history. */

const TREE = `tenants:
  - name: alice
    guarantee: {v100: 1, k80: 1}
  - name: bob
    guarantee: {v100: 1}
`;

// A typo'd member on line 4: the reload must name the file, the line and what to write.
const BAD = `tenants:
  - name: alice
    guarantee: {v100: 1, k80: 1}
  - name: carol
    gaurantee: {v100: 1}
`;

const NEXT = `tenants:
  - name: alice
    guarantee: {v100: 1, k80: 1}
  - name: carol
    guarantee: {v100: 1}
`;

async function status(p: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await p;
    return { status: 200, message: '' };
  } catch (e) {
    if (e instanceof HttpError) return { status: e.status, message: e.message };
    throw e;
  }
}

function sample(metrics: string, name: string, labels: string): number | undefined {
  const m = new RegExp(`^${name}${labels.replace(/[{}]/g, '\\$&')} ([0-9.e+-]+)$`, 'm').exec(metrics);
  return m ? Number(m[1]) : undefined;
}

describe('rondo serve --tenants (real processes)', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterAll(killAll);

  it('schedules by the tree, keeps tokens and jobs to its tenants, reports per tenant, and reloads without a restart', async () => {
    const dir = tempDir('tenants');
    const file = join(dir, 'tenants.yaml');
    writeFileSync(file, TREE);
    const srv = await startServer(join(dir, 'r.db'), await freePort(), ['--tenants', file]);
    expect(srv.proc.stdout).toMatch(/policy tenant_quota/);

    // Tokens are the tree's tenants.
    const carol = await status(srv.admin.post('/api/v1/tokens', { kind: 'tenant', tenant: 'carol' }));
    expect(carol.status).toBe(400);
    expect(carol.message).toContain('tenant carol is not a tenant (leaf) of the tenant tree');
    expect(carol.message).toContain(file);
    expect(carol.message).toMatch(/one of alice, bob/);
    const tok = async (tenant: string) => new ApiClient({ server: srv.url, token: (await srv.admin.post<{ token: string }>('/api/v1/tokens', { kind: 'tenant', tenant })).token });
    const alice = await tok('alice');
    const bob = await tok('bob');
    expect((await status(srv.admin.post('/api/v1/jobs', { ...counterJob(dir, 10), tenant: 'nobody' }))).status).toBe(400);

    await startWorker(srv.url, srv.admin, 'v100:2', 'fast');
    await startWorker(srv.url, srv.admin, 'k80:1', 'slow');
    // Long jobs of known types (Gavel's table): ResNet-50 gains 7x from a V100, A3C 2x.
    for (let i = 0; i < 3; i++) await alice.post<JobView>('/api/v1/jobs', { ...counterJob(dir, 100000, 0.05), jobType: 'ResNet-50 (batch size 64)' });
    for (let i = 0; i < 2; i++) await bob.post<JobView>('/api/v1/jobs', { ...counterJob(dir, 100000, 0.05), jobType: 'A3C' });

    // The per-round history fills in, for both tenants, with what the guarantees are worth to their own jobs.
    const rows = await waitFor(
      'tenant history rows for both tenants',
      async () => {
        const h = await srv.admin.get<TenantHistory>('/api/v1/tenants/history');
        const last = h.rows.filter((r) => r.activeJobs > 0 && r.received > 0);
        return new Set(last.map((r) => r.tenant)).size === 2 ? h.rows : undefined;
      },
      60_000,
      200,
    );
    const a = rows.filter((r) => r.tenant === 'alice').at(-1)!;
    const b = rows.filter((r) => r.tenant === 'bob').at(-1)!;
    // alice: 1 V100 (1 unit) + 1 K80 (1/7.1 of a unit for ResNet-50); bob: 1 V100.
    expect(a.entitlement).toBeGreaterThan(1.05);
    expect(a.entitlement).toBeLessThan(1.3);
    expect(b.entitlement).toBeCloseTo(1, 5);
    expect(a.gpus + b.gpus).toBeLessThanOrEqual(3 + 1e-6);
    expect(a.borrowed).not.toBeNull();
    // A tenant sees its own history only.
    const own = await alice.get<TenantHistory>('/api/v1/tenants/history');
    expect(new Set(own.rows.map((r) => r.tenant))).toEqual(new Set(['alice']));
    expect((await status(alice.get('/api/v1/tenants/history?tenant=bob'))).status).toBe(403);
    const tree = await alice.get<{ tenants: Array<{ tenant: string; guarantee: Record<string, number> }> }>('/api/v1/tenants');
    expect(tree.tenants).toEqual([expect.objectContaining({ tenant: 'alice', guarantee: { v100: 1, k80: 1 } })]);

    const metrics = await waitFor('per-tenant counters', async () => {
      const m = await srv.admin.get<string>('/metrics');
      return (sample(m, 'rondo_tenant_rounds_with_demand_total', '{tenant="bob"}') ?? 0) > 0 ? m : undefined;
    });
    expect(sample(metrics, 'rondo_tenant_guarantee_gpus', '{tenant="alice",type="k80"}')).toBe(1);
    expect(sample(metrics, 'rondo_tenant_guarantee_normalized', '{tenant="bob"}')).toBeCloseTo(1, 5);
    expect(sample(metrics, 'rondo_tenant_received_normalized', '{tenant="alice"}')).toBeGreaterThan(0);
    for (const name of ['rondo_tenant_borrowed_gpus', 'rondo_tenant_lent_gpus', 'rondo_tenant_queued_jobs', 'rondo_tenant_rounds_below_guarantee_total']) {
      expect(sample(metrics, name, '{tenant="alice"}'), name).toBeGreaterThanOrEqual(0);
    }

    // A bad file on reload: 400 naming the file, the line and the fix; the tree in force stays.
    writeFileSync(file, BAD);
    const bad = await status(srv.admin.post('/api/v1/admin/tenants/reload'));
    expect(bad.status).toBe(400);
    expect(bad.message).toContain(`${file}:5`);
    expect(bad.message).toMatch(/gaurantee/);
    expect(bad.message).toMatch(/stays/);
    expect((await status(alice.post('/api/v1/admin/tenants/reload'))).status).toBe(403);
    // SIGHUP with the same bad file: the error goes to stderr (the server runs --quiet), nothing changes.
    srv.proc.kill('SIGHUP');
    await waitFor('the SIGHUP error on stderr', () => /SIGHUP: .*gaurantee/.test(srv.proc.stderr), 20_000);
    expect((await status(srv.admin.post('/api/v1/tokens', { kind: 'tenant', tenant: 'carol' }))).status).toBe(400);
    expect((await status(bob.get('/api/v1/jobs'))).status).toBe(200);

    // A good file and SIGHUP: carol exists, bob's token is refused until bob is back.
    writeFileSync(file, NEXT);
    srv.proc.kill('SIGHUP');
    await waitFor('carol to become a tenant', async () => (await status(srv.admin.post('/api/v1/tokens', { kind: 'tenant', tenant: 'carol' }))).status === 200, 20_000);
    const refused = await status(bob.get('/api/v1/jobs'));
    expect(refused.status).toBe(403);
    expect(refused.message).toContain(`tenant bob is not in the tenant tree ${file}`);
    const after = await srv.admin.get<string>('/metrics');
    expect(sample(after, 'rondo_tenants_reloads_total', '{result="ok"}')).toBe(1);
    expect(sample(after, 'rondo_tenants_reloads_total', '{result="failed"}')).toBe(2);
    // With no job left, the per-tenant gauges go to zero rather than keep the last allocation's figures.
    for (const j of (await srv.admin.get<{ jobs: JobView[] }>('/api/v1/jobs')).jobs) if (j.state === 'queued' || j.state === 'running') await srv.admin.post(`/api/v1/jobs/${j.id}/cancel`);
    const idle = await waitFor('idle tenant gauges', async () => {
      const m = await srv.admin.get<string>('/metrics');
      return sample(m, 'rondo_tenant_active_jobs', '{tenant="alice"}') === 0 ? m : undefined;
    }, 30_000, 200);
    expect(sample(idle, 'rondo_tenant_received_normalized', '{tenant="alice"}')).toBe(0);
    // The server kept running throughout.
    expect(srv.proc.child.exitCode).toBeNull();
  }, 240_000);
});

describe('rondo serve --tenants refusals (in-process)', () => {
  it('refuses a policy that ignores the tree, and a reload without a tree', async () => {
    const dir = tempDir('tenants-refuse');
    const file = join(dir, 't.yaml');
    writeFileSync(file, TREE);
    await expect(startInProcess({ db: join(dir, 'a.db'), port: 0, policy: 'fifo', tenants: file })).rejects.toThrow(/policy fifo does not divide the cluster by a tenant tree/);
    writeFileSync(file, 'tenants:\n  - name: a\n    guarantee: {normalized: 2}\n');
    await expect(startInProcess({ db: join(dir, 'b.db'), port: 0, policy: 'kueue_quota', tenants: file })).rejects.toThrow(/normalised guarantee; kueue_quota counts GPUs/);
    const srv = await startInProcess({ db: join(dir, 'c.db'), port: 0, policy: 'fifo' });
    try {
      const r = await fetch(`${srv.url}/api/v1/admin/tenants/reload`, { method: 'POST', headers: { authorization: `Bearer ${srv.adminToken}` } });
      expect(r.status).toBe(409);
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/started without --tenants/);
      const t = await fetch(`${srv.url}/api/v1/tenants`, { headers: { authorization: `Bearer ${srv.adminToken}` } });
      expect(((await t.json()) as { file: string | null }).file).toBeNull();
    } finally {
      await srv.close();
    }
  }, 60_000);
});
