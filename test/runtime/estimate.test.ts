/**
 * Issue 20, live: a job type the server has never seen gets estimated throughputs per GPU type from its first
 * allocation on, so its shares follow its estimated speeds; a known job type gets the table's row. Real processes:
 * `rondo serve` (default throughput table) and one worker with a V100 and a K80; the example job sleeps 4x longer
 * per step on the K80 (it reads its GPU type from RONDO_GPU_TYPE).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE, ensureBuilt, freePort, killAll, startServer, startWorker, tempDir, waitFor, type JobView } from './harness.js';

interface TypeThroughput {
  gpuType: string;
  value: number;
  source: string;
  confidence: number;
  uncertainty: number;
}
interface Plan {
  allocation: { gpuTypes: string[]; shares: Record<string, number[]> };
}

const perTypeJob = (cwd: string, jobType: string, steps: number): Record<string, unknown> => ({
  command: ['python3', EXAMPLE, '--steps', String(steps), '--step-seconds-by-type', 'v100=0.01,k80=0.04'],
  cwd,
  totalSteps: steps,
  jobType,
});

describe('rondo serve: throughputs of unseen and known job types', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterAll(killAll);

  it('estimates an unseen job type from the first lease on, and shows source and confidence per type', async () => {
    const dir = tempDir('estimate');
    const srv = await startServer(join(dir, 'r.db'), await freePort());
    await startWorker(srv.url, srv.admin, 'v100:1,k80:1', 'w');

    const known = await srv.admin.post<JobView>('/api/v1/jobs', { ...perTypeJob(dir, 'ResNet-50 (batch size 64)', 5), gpuTypes: ['a100'] });
    const knownView = await srv.admin.get<{ throughputs: TypeThroughput[] }>(`/api/v1/jobs/${known.id}`);
    // Before any measurement: the table's row for both live types.
    expect(knownView.throughputs.map((t) => [t.gpuType, t.source])).toEqual([
      ['k80', 'table'],
      ['v100', 'table'],
    ]);
    expect(knownView.throughputs[1]!.value).toBeGreaterThan(knownView.throughputs[0]!.value);
    await srv.admin.post(`/api/v1/jobs/${known.id}/cancel`);

    const job = await srv.admin.post<JobView>('/api/v1/jobs', perTypeJob(dir, 'a-model-no-table-knows', 100_000));
    // The first allocation that holds the job already gives it the V100 (its estimated faster type), not a split.
    const plan = await waitFor(
      'an allocation with the job',
      async () => {
        const p = await srv.admin.get<Plan>('/api/v1/plan');
        return p.allocation.shares[job.id] ? p : undefined;
      },
      30_000,
      100,
    );
    const v100 = plan.allocation.gpuTypes.indexOf('v100');
    const k80 = plan.allocation.gpuTypes.indexOf('k80');
    expect(plan.allocation.shares[job.id]![v100]!).toBeGreaterThan(0.9);
    expect(plan.allocation.shares[job.id]![k80]!).toBeLessThan(0.1);

    // Once it has measured its speed on one type, the other is estimated from that, with a confidence below 1.
    const view = await waitFor(
      'a measured throughput',
      async () => {
        const v = await srv.admin.get<{ throughputs: TypeThroughput[] }>(`/api/v1/jobs/${job.id}`);
        return v.throughputs.some((t) => t.source === 'measured') ? v : undefined;
      },
      30_000,
      100,
    );
    const byType = new Map(view.throughputs.map((t) => [t.gpuType, t]));
    // The mechanism may still place it on the K80 (it fills idle GPUs); whichever type it measured, the other is
    // estimated from it, with the shape of the reference rows (a V100 is faster).
    const measured = view.throughputs.find((t) => t.source === 'measured')!;
    const other = view.throughputs.find((t) => t !== measured)!;
    expect(measured.confidence).toBe(1);
    expect(other.source).toBe('estimated');
    expect(other.confidence).toBeGreaterThan(0);
    expect(other.confidence).toBeLessThan(1);
    expect(byType.get('k80')!.value).toBeLessThan(byType.get('v100')!.value);
    await srv.admin.post(`/api/v1/jobs/${job.id}/cancel`);
  }, 120_000);

  it('--no-estimate keeps the old rule: every unmeasured type counts as equally fast (source default)', async () => {
    const dir = tempDir('no-estimate');
    const srv = await startServer(join(dir, 'r.db'), await freePort(), ['--no-estimate']);
    await startWorker(srv.url, srv.admin, 'v100:1,k80:1', 'w');
    const job = await srv.admin.post<JobView>('/api/v1/jobs', { ...perTypeJob(dir, 'ResNet-50 (batch size 64)', 5), gpuTypes: ['a100'] });
    const v = await srv.admin.get<{ throughputs: TypeThroughput[] }>(`/api/v1/jobs/${job.id}`);
    expect(v.throughputs.map((t) => [t.gpuType, t.source, t.value])).toEqual([
      ['k80', 'default', 1],
      ['v100', 'default', 1],
    ]);
  }, 180_000); // a server and a worker start, each up to a minute on a loaded machine
});
