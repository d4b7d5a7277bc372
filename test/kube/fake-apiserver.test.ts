/**
 * The fake API server itself, driven through @kubernetes/client-node: if it did not speak the wire protocol the
 * library expects, these calls would fail as they would against a real cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import { FakeApiServer, mergePatch, parseSelector, type Obj } from './fake-apiserver.js';
import { trainingJob } from './setup.js';

const PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
let api: FakeApiServer;
let batch: BatchV1Api;
let core: CoreV1Api;
let kc: KubeConfig;

beforeAll(async () => {
  api = new FakeApiServer();
  await api.start();
  kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  batch = kc.makeApiClient(BatchV1Api);
  core = kc.makeApiClient(CoreV1Api);
});
afterAll(async () => api.stop());

const code = async (p: Promise<unknown>): Promise<number> => p.then(() => 200, (e: { code?: number }) => e.code ?? -1);

describe('fake API server', () => {
  it('serves discovery and a Content-Type on every response, errors included', async () => {
    for (const path of ['/api', '/apis', '/api/v1', '/apis/batch/v1', '/version', '/api/v1/nope']) {
      const res = await fetch(api.url + path);
      expect(res.headers.get('content-type'), path).toBe('application/json');
    }
    const groups = (await (await fetch(api.url + '/apis')).json()) as { groups: Array<{ name: string }> };
    expect(groups.groups.map((g) => g.name)).toEqual(['batch', 'coordination.k8s.io', 'jobset.x-k8s.io', 'kubeflow.org']);
    const rl = (await (await fetch(api.url + '/apis/batch/v1')).json()) as { resources: Array<{ name: string }> };
    expect(rl.resources.map((r) => r.name)).toEqual(['jobs', 'jobs/status']);
  });

  it('creates, gets, lists with label selectors, and refuses a duplicate with 409', async () => {
    await batch.createNamespacedJob({ namespace: 'default', body: trainingJob('x1', { queue: 'a' }) as never });
    await batch.createNamespacedJob({ namespace: 'default', body: trainingJob('x2', { queue: 'b' }) as never });
    await batch.createNamespacedJob({ namespace: 'default', body: trainingJob('x3') as never });
    expect(await code(batch.createNamespacedJob({ namespace: 'default', body: trainingJob('x1', { queue: 'a' }) as never }))).toBe(409);
    const got = await batch.readNamespacedJob({ namespace: 'default', name: 'x1' });
    expect(got.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(got.spec?.suspend).toBe(true);
    const names = async (labelSelector: string) => (await batch.listJobForAllNamespaces({ labelSelector })).items.map((j) => j.metadata?.name).sort();
    expect(await names('rondo.dev/queue')).toEqual(['x1', 'x2']);
    expect(await names('rondo.dev/queue=b')).toEqual(['x2']);
    expect(await names('rondo.dev/queue in (a,b),rondo.dev/queue!=a')).toEqual(['x2']);
    expect(await names('!rondo.dev/queue')).toEqual(['x3']);
    expect(await code(batch.readNamespacedJob({ namespace: 'default', name: 'nope' }))).toBe(404);
  });

  it('merge-patches with resourceVersion preconditions (409 when stale) and keeps /status apart', async () => {
    const j = await batch.readNamespacedJob({ namespace: 'default', name: 'x1' });
    const rv = j.metadata!.resourceVersion!;
    await batch.patchNamespacedJob({ namespace: 'default', name: 'x1', body: { metadata: { resourceVersion: rv, annotations: { a: '1' } } } }, PATCH);
    expect(await code(batch.patchNamespacedJob({ namespace: 'default', name: 'x1', body: { metadata: { resourceVersion: rv, annotations: { a: '2' } } } }, PATCH))).toBe(409);
    // A status written through the main resource is ignored; through /status it sticks, and spec is untouched.
    await batch.patchNamespacedJob({ namespace: 'default', name: 'x1', body: { status: { active: 5 } } }, PATCH);
    expect((await batch.readNamespacedJob({ namespace: 'default', name: 'x1' })).status?.active).toBeUndefined();
    await batch.patchNamespacedJobStatus({ namespace: 'default', name: 'x1', body: { status: { active: 1 }, spec: { suspend: false } } }, PATCH);
    const after = await batch.readNamespacedJob({ namespace: 'default', name: 'x1' });
    expect(after.status?.active).toBe(1);
    expect(after.spec?.suspend).toBe(true);
    expect(after.metadata?.annotations?.a).toBe('1');
    // Other patch types are refused as a server without them would.
    const res = await fetch(`${api.url}/apis/batch/v1/namespaces/default/jobs/x1`, { method: 'PATCH', headers: { 'content-type': 'application/json-patch+json' }, body: '[]' });
    expect(res.status).toBe(415);
  });

  it("records chosen annotations of a write and of the object before it, also without bodies", async () => {
    api.keepBodies = false;
    api.recordAnnotations = ['rondo.dev/attempt', 'rondo.dev/round'];
    try {
      await batch.createNamespacedJob({ namespace: 'default', body: trainingJob('rec', { queue: 'a' }) as never });
      const from = api.seen.length;
      await batch.patchNamespacedJob({ namespace: 'default', name: 'rec', body: { metadata: { annotations: { 'rondo.dev/attempt': '7', 'rondo.dev/round': '3', other: 'x' } }, spec: { suspend: false } } }, PATCH);
      await batch.patchNamespacedJob({ namespace: 'default', name: 'rec', body: { metadata: { annotations: { 'rondo.dev/attempt': null } }, spec: { suspend: true } } }, PATCH);
      const [admit, stop] = api.seen.slice(from);
      expect(admit).toMatchObject({ method: 'PATCH', status: 200, suspend: false, annotations: { 'rondo.dev/attempt': '7', 'rondo.dev/round': '3' } });
      expect(admit!.body).toBeUndefined();
      expect(admit!.priorAnnotations).toBeUndefined();
      // A removed annotation (null) is not a value; the stop's attempt is the one the Job carried.
      expect(stop).toMatchObject({ suspend: true, priorAnnotations: { 'rondo.dev/attempt': '7', 'rondo.dev/round': '3' } });
      expect(stop!.annotations).toBeUndefined();
    } finally {
      api.keepBodies = true;
      api.recordAnnotations = [];
    }
  });

  it('enforces KEP-2926: scheduling directives change only while suspended and never started; containers never', async () => {
    const sel = (v: string) => ({ spec: { template: { spec: { nodeSelector: { 'nvidia.com/gpu.product': v } } } } });
    await batch.patchNamespacedJob({ namespace: 'default', name: 'x2', body: sel('A') }, PATCH);
    await batch.patchNamespacedJobStatus({ namespace: 'default', name: 'x2', body: { status: { startTime: new Date().toISOString() } } }, PATCH);
    expect(await code(batch.patchNamespacedJob({ namespace: 'default', name: 'x2', body: sel('B') }, PATCH))).toBe(422);
    await batch.patchNamespacedJobStatus({ namespace: 'default', name: 'x2', body: { status: { startTime: null } } }, PATCH);
    expect(await code(batch.patchNamespacedJob({ namespace: 'default', name: 'x2', body: sel('B') }, PATCH))).toBe(200);
    await batch.patchNamespacedJob({ namespace: 'default', name: 'x2', body: { spec: { suspend: false } } }, PATCH);
    expect(await code(batch.patchNamespacedJob({ namespace: 'default', name: 'x2', body: sel('C') }, PATCH))).toBe(422);
    const containers = { spec: { template: { spec: { containers: [{ name: 'other', image: 'x' }] } } } };
    await batch.patchNamespacedJob({ namespace: 'default', name: 'x2', body: { spec: { suspend: true } } }, PATCH);
    expect(await code(batch.patchNamespacedJob({ namespace: 'default', name: 'x2', body: containers }, PATCH))).toBe(422);
  });

  it('watches from a resourceVersion, replays what followed, and answers 410 for a compacted one', async () => {
    const list = await batch.listNamespacedJob({ namespace: 'default' });
    const from = list.metadata!.resourceVersion!;
    await batch.patchNamespacedJob({ namespace: 'default', name: 'x3', body: { metadata: { labels: { seen: 'yes' } } } }, PATCH);
    const events: Array<[string, string]> = [];
    const w = new Watch(kc);
    const ctl = await w.watch('/apis/batch/v1/namespaces/default/jobs', { resourceVersion: from }, (t, o: { metadata: { name: string } }) => events.push([t, o.metadata.name]), () => {});
    api.create('jobs', trainingJob('x4', { queue: 'a' }));
    for (let i = 0; i < 100 && events.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(events).toEqual([['MODIFIED', 'x3'], ['ADDED', 'x4']]);
    expect(api.watchCount).toBe(1);
    ctl.abort();
    api.compact();
    const got: Array<{ type: string; code?: number }> = [];
    let doneErr: unknown = 'pending';
    await w.watch('/apis/batch/v1/jobs', { resourceVersion: from }, (t, o: { code?: number }) => got.push({ type: t, code: o.code }), (e) => (doneErr = e));
    for (let i = 0; i < 100 && doneErr === 'pending'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([{ type: 'ERROR', code: 410 }]);
    // A dropped watch ends the client's watch (its done callback runs), so it can re-establish.
    let dropped = false;
    await w.watch('/api/v1/nodes', {}, () => {}, () => (dropped = true));
    for (let i = 0; i < 50 && api.watchCount === 0; i++) await new Promise((r) => setTimeout(r, 20));
    api.dropWatches();
    for (let i = 0; i < 100 && !dropped; i++) await new Promise((r) => setTimeout(r, 20));
    expect(dropped).toBe(true);
  });

  it('injects faults on matching requests, and serves events, secrets and leases', async () => {
    api.inject((m, p) => m === 'GET' && p.endsWith('/jobs/x1'), 500);
    expect(await code(batch.readNamespacedJob({ namespace: 'default', name: 'x1' }))).toBe(500);
    expect(await code(batch.readNamespacedJob({ namespace: 'default', name: 'x1' }))).toBe(200);
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 's' }, stringData: { A: 'b' } } });
    await core.patchNamespacedSecret({ namespace: 'default', name: 's', body: { stringData: { A: 'c' } } }, PATCH);
    expect((await core.readNamespacedSecret({ namespace: 'default', name: 's' })).stringData).toEqual({ A: 'c' });
    const ev = await core.createNamespacedEvent({ namespace: 'default', body: { metadata: { generateName: 'x1.' }, involvedObject: { kind: 'Job', name: 'x1' }, reason: 'R', message: 'm' } });
    expect(ev.metadata?.name).toMatch(/^x1\./);
  });

  it('merge patch and selectors follow their specifications', () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, l: [1] }, { a: { b: null, d: 3 }, l: [2] })).toEqual({ a: { c: 2, d: 3 }, l: [2] });
    const s = parseSelector('env in (prod, dev),tier notin (x),app,!legacy,k==v');
    expect(s({ env: 'prod', app: '1', k: 'v' })).toBe(true);
    expect(s({ env: 'prod', app: '1', k: 'v', legacy: '' })).toBe(false);
    expect(s({ env: 'test', app: '1', k: 'v' })).toBe(false);
    expect(() => parseSelector('a b c')).toThrow(/bad label selector/);
  });

  it('serves the JobSet and PyTorchJob CRDs: discovery, list by label, watch from a version, merge-PATCH with 409 and the suspended-only template rule', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const rl = (await (await fetch(api.url + '/apis/jobset.x-k8s.io/v1alpha2')).json()) as { resources: Array<{ name: string }> };
    expect(rl.resources.map((r) => r.name)).toEqual(['jobsets', 'jobsets/status']);
    const g = { group: 'jobset.x-k8s.io', version: 'v1alpha2', plural: 'jobsets' };
    const tpl = { spec: { containers: [{ name: 'c', image: 'i' }] } };
    const js = (s: boolean): Obj => ({ metadata: { name: `js-${s}`, namespace: 'default', labels: s ? { 'rondo.dev/queue': 'q' } : ({} as Record<string, string>) }, spec: { suspend: s, replicatedJobs: [{ name: 'w', replicas: 2, template: { spec: { template: tpl } } }] } });
    api.create('jobsets', js(true));
    api.create('jobsets', js(false));
    const list = (await custom.listClusterCustomObject({ ...g, labelSelector: 'rondo.dev/queue' })) as { metadata: { resourceVersion: string }; items: Array<{ kind: string; apiVersion: string; metadata: { name: string; resourceVersion: string } }> };
    expect(list.items.map((o) => [o.kind, o.apiVersion, o.metadata.name])).toEqual([['JobSet', 'jobset.x-k8s.io/v1alpha2', 'js-true']]);
    const seen: string[] = [];
    const w = await new Watch(kc).watch('/apis/jobset.x-k8s.io/v1alpha2/jobsets', { resourceVersion: list.metadata.resourceVersion, labelSelector: 'rondo.dev/queue' }, (type: string, o: { metadata: { name: string } }) => seen.push(`${type} ${o.metadata.name}`), () => {});
    const pin = (name: string, rv?: string) => custom.patchNamespacedCustomObject({ ...g, namespace: 'default', name, body: { ...(rv ? { metadata: { resourceVersion: rv } } : {}), spec: { replicatedJobs: [{ name: 'w', replicas: 2, template: { spec: { template: { spec: { ...tpl.spec, nodeSelector: { k: 'v' } } } } } }] } } }, PATCH);
    // Scheduling directives change while suspended; not while running; anything else never.
    await pin('js-true', list.items[0]!.metadata.resourceVersion);
    expect(await code(pin('js-false'))).toBe(422);
    expect(await code(pin('js-true', list.items[0]!.metadata.resourceVersion))).toBe(409);
    const image = custom.patchNamespacedCustomObject({ ...g, namespace: 'default', name: 'js-true', body: { spec: { replicatedJobs: [{ name: 'w', replicas: 2, template: { spec: { template: { spec: { containers: [{ name: 'c', image: 'other' }] } } } } }] } } }, PATCH);
    expect(await code(image)).toBe(422);
    await new Promise((r) => setTimeout(r, 100));
    w.abort();
    expect(seen).toEqual(['MODIFIED js-true']);
    // Not installed: absent from discovery, and its resources 404 (what the driver's probe reads).
    const bare = new FakeApiServer({ crds: [] });
    await bare.start();
    try {
      const kc2 = new KubeConfig();
      kc2.loadFromString(bare.kubeconfig());
      expect(await code(kc2.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: 'kubeflow.org', version: 'v1', plural: 'pytorchjobs', limit: 1 }))).toBe(404);
      expect(((await (await fetch(bare.url + '/apis')).json()) as { groups: Array<{ name: string }> }).groups.map((x) => x.name)).toEqual(['batch', 'coordination.k8s.io']);
    } finally {
      await bare.stop();
    }
  });
});
