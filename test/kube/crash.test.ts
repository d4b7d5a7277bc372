/**
 * `rondo serve --kube` as a real process, killed with SIGKILL mid-run and started again on the same store: the
 * driver rebuilds its view from the Jobs' annotations and the store, and every Job still completes exactly once.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, freePort, killAll, rondo, tempDir, waitFor } from '../runtime/harness.js';
import { FakeApiServer } from './fake-apiserver.js';
import { FakeCluster } from './fake-cluster.js';
import { trainingJob } from './setup.js';

beforeAll(() => ensureBuilt(), 180_000);
afterEach(async () => killAll());

let api: FakeApiServer;
let cluster: FakeCluster;
afterAll(async () => {
  cluster?.stop();
  await api?.stop();
});

describe('rondo serve --kube, killed and restarted', () => {
  it('loses and duplicates nothing across a SIGKILL', async () => {
    api = new FakeApiServer();
    await api.start();
    cluster = new FakeCluster(api, { throughputs: { 'Tesla-V100-SXM2-16GB': { resnet: 10 }, 'Tesla-K80': { resnet: 4 } }, speedup: 1 });
    cluster.addNode('v100-a', 'Tesla-V100-SXM2-16GB', 2);
    cluster.addNode('k80-a', 'Tesla-K80', 2);
    cluster.start();
    const dir = tempDir('kube-crash');
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfig());
    const port = await freePort();
    const args = ['serve', '--db', join(dir, 'rondo.db'), '--port', String(port), '--quiet', '--round', '1.5', '--grace', '0.5', '--heartbeat', '0.2', '--worker-timeout', '5',
      '--kube', '--kubeconfig', kubeconfig, '--kube-types', 'Tesla-V100-SXM2-16GB=v100,Tesla-K80=k80'];
    for (let i = 0; i < 12; i++) api.create('jobs', trainingJob(`c${i}`, { queue: i % 2 ? 'a' : 'b', steps: 15 + 3 * i }));
    const done = (): number => api.list('jobs').filter((j) => j.status?.conditions?.some((c: { type: string }) => c.type === 'Complete')).length;
    // A server takes up to a minute to start on a loaded machine (policy, solver), then the Jobs take seconds each.
    const start = async (): Promise<ReturnType<typeof rondo>> => {
      const p = rondo(args);
      await waitFor('rondo to listen', () => {
        if (p.child.exitCode !== null) throw new Error(`rondo exited: ${p.stderr.slice(-2000)}`);
        return p.stdout.includes('listening on');
      }, 120_000);
      return p;
    };
    const progress = async (what: string, n: number): Promise<void> => {
      await waitFor(what, () => {
        if (srv.child.exitCode !== null) throw new Error(`rondo exited: ${srv.stderr.slice(-2000)}`);
        return done() >= n;
      }, 150_000).catch((e: unknown) => {
        throw new Error(`${String(e)} (${done()} of 12 done)\nrondo stderr: ${srv.stderr.slice(-2000)}`);
      });
    };
    let srv = await start();
    await progress('some Jobs done', 3);
    // Killed while Jobs run: nothing of the driver's state is written at exit. (At a round's turn every Job can be
    // suspended at once: wait for a moment when one is admitted and not done.)
    await waitFor('an admitted Job to kill Rondo under', () => api.list('jobs').some((j) => j.spec.suspend === false && !j.status?.conditions?.some((c: { type: string }) => c.type === 'Complete')), 60_000, 20);
    srv.kill('SIGKILL');
    await srv.exited;
    srv = await start();
    await progress('all Jobs done', 12);
    expect(cluster.violations).toEqual([]);
    for (const j of api.list('jobs')) expect(cluster.completions.get(j.metadata.uid!), j.metadata.name).toBe(1);
    // One Rondo job per Kubernetes Job, none submitted twice across the restart.
    const tokenFile = join(dir, 'rondo.db.admin-token');
    const { readFileSync } = await import('node:fs');
    const token = readFileSync(tokenFile, 'utf8').trim();
    const jobs = await waitFor('Rondo caught up', async () => {
      const r = (await (await fetch(`http://127.0.0.1:${port}/api/v1/jobs?limit=100`, { headers: { authorization: `Bearer ${token}` } })).json()) as { jobs: Array<{ name: string; state: string }> };
      return r.jobs.every((j) => j.state === 'completed') ? r.jobs : undefined;
    }, 30_000);
    expect(jobs).toHaveLength(12);
    expect(new Set(jobs.map((j) => j.name)).size).toBe(12);
  }, 600_000);
});
