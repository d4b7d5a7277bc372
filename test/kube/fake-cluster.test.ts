/** The fake Job controller, scheduler and kubelets on their own (no Rondo). */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer } from './fake-apiserver.js';
import { FakeCluster } from './fake-cluster.js';
import { trainingJob, until } from './setup.js';

let api: FakeApiServer | undefined;
let cluster: FakeCluster | undefined;
afterEach(async () => {
  cluster?.stop();
  await api?.stop();
});

async function boot(): Promise<{ api: FakeApiServer; cluster: FakeCluster }> {
  api = new FakeApiServer();
  await api.start();
  cluster = new FakeCluster(api, { throughputs: { fast: { m: 100 }, slow: { m: 10 } }, speedup: 10, tickMs: 10 });
  cluster.addNode('n-fast', 'fast', 1);
  cluster.addNode('n-slow', 'slow', 2);
  cluster.start();
  return { api, cluster };
}

const sel = (product: string) => ({ 'nvidia.com/gpu.product': product });

describe('fake cluster', () => {
  it('runs a pod only when unsuspended, on a matching node with free GPUs, at that type’s speed', async () => {
    const { api, cluster } = await boot();
    api.create('jobs', trainingJob('j1', { jobType: 'm', steps: 500, nodeSelector: sel('slow'), gpus: 2 }));
    await new Promise((r) => setTimeout(r, 200));
    expect(api.list('pods')).toEqual([]);
    api.mutate('jobs', 'default', 'j1', (j) => (j.spec.suspend = false));
    const pod = await until('bound', () => api.list('pods').find((p) => p.spec.nodeName));
    expect(pod.spec.nodeName).toBe('n-slow');
    expect(api.get('jobs', 'default', 'j1')!.status.startTime).toBeDefined();
    // A second 2-GPU job cannot fit anywhere: slow is full, fast has one GPU.
    api.create('jobs', trainingJob('j2', { jobType: 'm', steps: 10, gpus: 2, suspend: false }));
    await until('j2 pod', () => api.list('pods').find((p) => p.metadata.labels?.['batch.kubernetes.io/job-name'] === 'j2'));
    await new Promise((r) => setTimeout(r, 300));
    expect(api.list('pods').find((p) => p.metadata.labels?.['batch.kubernetes.io/job-name'] === 'j2')!.spec.nodeName).toBeUndefined();
    // 500 steps at 10/s of simulated time = 50 s = 5 s real at speedup 10; it then completes once.
    await until('j1 complete', () => api.get('jobs', 'default', 'j1')!.status?.conditions?.some((c: { type: string }) => c.type === 'Complete'), 40_000);
    expect(cluster.now()).toBeGreaterThan(45);
    expect(cluster.violations).toEqual([]);
  });

  it('on suspend, sends SIGTERM, removes the pod, keeps the checkpointed steps and resets startTime on resume', async () => {
    const { api, cluster } = await boot();
    api.create('jobs', trainingJob('j', { jobType: 'm', steps: 1e6, nodeSelector: sel('fast'), suspend: false }));
    await until('running', () => api.list('pods').find((p) => p.status.phase === 'Running'));
    await new Promise((r) => setTimeout(r, 200));
    api.mutate('jobs', 'default', 'j', (j) => (j.spec.suspend = true));
    await until('terminating', () => api.list('pods').find((p) => p.metadata.deletionTimestamp));
    await until('gone', () => api.list('pods').length === 0);
    expect(cluster.sigterms).toHaveLength(1);
    const uid = api.get('jobs', 'default', 'j')!.metadata.uid!;
    const steps = cluster.stepsDone.get(uid)!;
    expect(steps).toBeGreaterThan(0);
    const first = api.get('jobs', 'default', 'j')!.status.startTime as string;
    await new Promise((r) => setTimeout(r, 20));
    api.mutate('jobs', 'default', 'j', (j) => (j.spec.suspend = false));
    await until('running again', () => api.list('pods').find((p) => p.status.phase === 'Running'));
    expect(api.get('jobs', 'default', 'j')!.status.startTime).not.toBe(first);
    await until('progress resumed', () => cluster.stepsDone.get(uid)! > steps);
  });

  it('fails the pods of a node that goes NotReady and schedules no new ones there', async () => {
    const { api, cluster } = await boot();
    api.create('jobs', trainingJob('j', { jobType: 'm', steps: 1e6, nodeSelector: sel('fast'), suspend: false }));
    await until('running', () => api.list('pods').find((p) => p.status.phase === 'Running'));
    cluster.setNodeReady('n-fast', false);
    await until('pod gone', () => !api.list('pods').some((p) => p.spec.nodeName === 'n-fast'));
    await new Promise((r) => setTimeout(r, 200));
    expect(api.list('pods').every((p) => !p.spec.nodeName)).toBe(true);
  });
});
