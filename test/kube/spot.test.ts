/**
 * Spot nodes on Kubernetes (src/kube/spot.ts): a spot node's GPUs are the tier type `<type>-spot`, a Job admitted there
 * is pinned to spot nodes, and a new NoSchedule/NoExecute taint or the node's deletion is a revocation (its attempt
 * ends lost, the job is re-queued). Pure parts first, then the driver against the fake API server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { admitPatch, restorePatch, type NodeOffer } from '../../src/kube/objects.js';
import { parseSpotLabels, SpotNodes } from '../../src/kube/spot.js';
import type { KObj } from '../../src/kube/reflector.js';
import { costView } from '../../src/runtime/server/cost.js';
import { startEnv, trainingJob, until, type Env } from './setup.js';

const V100 = 'Tesla-V100-SXM2-16GB';
const node = (name: string, labels: Record<string, string>, taints: Array<{ key: string; effect: string }> = [], uid = name): KObj =>
  ({ metadata: { name, uid, labels: { 'nvidia.com/gpu.product': V100, ...labels } }, spec: { taints } }) as unknown as KObj;

describe('spot nodes, pure', () => {
  const offer = (n: string): NodeOffer => ({ node: n, product: V100, gpuType: 'v100', gpus: 2 });

  it('renames a spot node type, and revokes on a new blocking taint or a termination taint, not on the pool taint', () => {
    const s = new SpotNodes();
    const pool = { key: 'cloud.google.com/gke-spot', effect: 'NoSchedule' };
    const nodes = [node('od', {}), node('gke', { 'cloud.google.com/gke-spot': 'true' }, [pool]), node('eks', { 'eks.amazonaws.com/capacityType': 'SPOT' })];
    expect(s.apply(['od', 'gke', 'eks'].map(offer), nodes).map((o) => `${o.node}:${o.gpuType}`)).toEqual(['od:v100', 'gke:v100-spot', 'eks:v100-spot']);
    // A PreferNoSchedule taint is not a revocation; a new NoExecute one is, and stays one.
    nodes[2] = node('eks', { 'eks.amazonaws.com/capacityType': 'SPOT' }, [{ key: 'x', effect: 'PreferNoSchedule' }]);
    expect(s.apply(['eks'].map(offer), nodes)).toHaveLength(1);
    nodes[2] = node('eks', { 'eks.amazonaws.com/capacityType': 'SPOT' }, [{ key: 'aws-node-termination-handler/spot-itn', effect: 'NoExecute' }]);
    expect(s.apply(['eks'].map(offer), nodes)).toEqual([]);
    nodes[2] = node('eks', { 'eks.amazonaws.com/capacityType': 'SPOT' });
    expect(s.apply(['eks'].map(offer), nodes)).toEqual([]);
    // A node first seen with a provider's termination taint is revoked at once.
    const t = new SpotNodes();
    expect(t.apply([offer('k')], [node('k', { 'karpenter.sh/capacity-type': 'spot' }, [{ key: 'karpenter.sh/disruption', effect: 'NoSchedule' }])])).toEqual([]);
  });

  it('places a spot type on a live spot node of its card, pinned by the spot label', () => {
    const s = new SpotNodes(parseSpotLabels('example.com/lifecycle=spot'));
    const nodes = [node('od', {}), node('sp', { 'example.com/lifecycle': 'spot' })];
    expect(s.placement('v100-spot', nodes, 'nvidia.com/gpu.product', { [V100]: 'v100' })).toEqual({ product: V100, selector: { 'example.com/lifecycle': 'spot' } });
    expect(s.placement('v100', nodes, 'nvidia.com/gpu.product', { [V100]: 'v100' })).toBeUndefined();
    expect(s.placement('k80-spot', nodes, 'nvidia.com/gpu.product', { [V100]: 'v100' })).toBeUndefined();
    expect(() => parseSpotLabels('nokey')).toThrow(/LABEL=VALUE/);
    expect(() => parseSpotLabels(' ')).toThrow(/empty/);
  });

  it("a stop removes exactly the selector keys an admission added, keeping the user's own", () => {
    const job = { metadata: { resourceVersion: '1', annotations: {} }, spec: { template: { spec: { nodeSelector: { zone: 'z1', 'cloud.google.com/gke-spot': 'true' } } } } } as unknown as KObj;
    const admit = admitPatch(job, 'nvidia.com/gpu.product', V100, 'v100-spot', 1, 1, 'n', 'job-1', { 'cloud.google.com/gke-spot': 'true', 'example.com/pool': 'spot' }) as { metadata: { annotations: Record<string, string> }; spec: { template: { spec: { nodeSelector: Record<string, string> } } } };
    expect(admit.spec.template.spec.nodeSelector).toEqual({ 'cloud.google.com/gke-spot': 'true', 'example.com/pool': 'spot', 'nvidia.com/gpu.product': V100 });
    const after = { metadata: { resourceVersion: '2', annotations: admit.metadata.annotations } } as unknown as KObj;
    const restore = restorePatch(after, 'nvidia.com/gpu.product') as { spec: { template: { spec: { nodeSelector: Record<string, string | null> } } } };
    expect(restore.spec.template.spec.nodeSelector).toEqual({ 'cloud.google.com/gke-spot': 'true', 'example.com/pool': null, 'nvidia.com/gpu.product': null });
  });
});

let env: Env | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('spot nodes on the fake cluster', () => {
  it('admits on the spot type, pinned to spot nodes; a NoExecute taint revokes: attempt lost, job re-queued, counted', async () => {
    env = await startEnv({
      name: 'spot',
      throughputs: { [V100]: { resnet: 10 } },
      nodes: (c) => c.addNode('spot-a', V100, 1, { 'cloud.google.com/gke-spot': 'true' }),
    });
    const e = env;
    e.api.create('jobs', trainingJob('train', { queue: 'team-a', steps: 1e6 }));
    const admitted = await until('admission on the spot type', () => {
      const j = e.api.get('jobs', 'default', 'train');
      return j?.spec.suspend === false ? j : undefined;
    });
    expect(admitted.metadata.annotations!['rondo.dev/gpu-type']).toBe('v100-spot');
    expect(admitted.spec.template.spec.nodeSelector).toEqual({ 'cloud.google.com/gke-spot': 'true', 'nvidia.com/gpu.product': V100 });
    await until('the pod running, as the server knows it', () => {
      const job = e.srv.store.listJobs({ limit: 10, afterSeq: 0 })[0];
      return job && e.srv.store.attemptsOfJob(job.id).some((a) => a.startedAt !== null && a.state === 'running');
    });
    // The provider reclaims the node: the termination handler taints it NoExecute.
    e.api.mutate('nodes', undefined, 'spot-a', (n) => {
      n.spec.taints = [{ key: 'cloud.google.com/impending-node-termination', effect: 'NoExecute' }];
    });
    const lost = await until('the attempt lost', () => {
      const job = e.srv.store.listJobs({ limit: 10, afterSeq: 0 })[0]!;
      const a = e.srv.store.attemptsOfJob(job.id).find((x) => x.endReason === 'lost');
      return a ? { job, a } : undefined;
    });
    expect(lost.a.gpuType).toBe('v100-spot');
    expect(e.srv.store.getJob(lost.job.id)!.state).toBe('queued');
    const cost = costView(e.srv.store, undefined, Date.now());
    expect(cost.total.revocations).toBe(1);
    // The Job is stopped (suspended) and waits: no spot node is left to place it on.
    await until('the Job suspended', () => e.api.get('jobs', 'default', 'train')?.spec.suspend === true);
  }, 90_000);

  it("counts a spot node's deletion as a revocation", async () => {
    env = await startEnv({ name: 'spot-del', throughputs: { [V100]: { resnet: 10 } }, nodes: (c) => c.addNode('spot-b', V100, 1, { 'karpenter.sh/capacity-type': 'spot' }) });
    const e = env;
    e.api.create('jobs', trainingJob('train', { queue: 'team-a', steps: 1e6 }));
    const job = await until('running on the spot type', () => {
      const j = e.srv.store.listJobs({ limit: 10, afterSeq: 0 })[0];
      return j && e.srv.store.attemptsOfJob(j.id).some((a) => a.gpuType === 'v100-spot' && a.state === 'running') ? j : undefined;
    });
    e.api.remove('nodes', undefined, 'spot-b');
    await until('the attempt lost', () => e.srv.store.attemptsOfJob(job.id).some((a) => a.endReason === 'lost'));
    expect(costView(e.srv.store, undefined, Date.now()).jobs[0]).toMatchObject({ jobId: job.id, revocations: 1 });
  }, 90_000);
});
