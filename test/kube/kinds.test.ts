/** The workload kinds (src/kube/kinds): what Rondo reads from each and the patches it writes, on plain objects. */
import { describe, expect, it } from 'vitest';
import { admitPatch, jobKey, managed, podJobUid, restorePatch, submitBody, suspendPatch, wantsSecret } from '../../src/kube/objects.js';
import { mergePatch } from './fake-apiserver.js';
import { kindOf, parseKinds, splitKey } from '../../src/kube/kinds/index.js';
import type { KObj } from '../../src/kube/reflector.js';

const LABEL = 'nvidia.com/gpu.product';
const V100 = 'Tesla-V100-SXM2-16GB';
const gpuPod = (gpus: number | string, extra: Record<string, unknown> = {}) => ({ spec: { ...extra, containers: [{ name: 'c', image: 'i', resources: { limits: { 'nvidia.com/gpu': String(gpus) } } }] } });
const meta = { name: 'w', namespace: 'ns', uid: 'u-1', resourceVersion: '7', labels: { 'rondo.dev/queue': 'vision' }, annotations: {} };

const jobSet: KObj = {
  apiVersion: 'jobset.x-k8s.io/v1alpha2',
  kind: 'JobSet',
  metadata: meta,
  spec: {
    suspend: true,
    replicatedJobs: [
      { name: 'leader', replicas: 1, template: { spec: { template: gpuPod(1) } } },
      { name: 'workers', replicas: 2, template: { spec: { parallelism: 2, template: gpuPod(2, { nodeSelector: { zone: 'z1', [LABEL]: 'user-choice' } }) } } },
    ],
  },
};
const pyTorch: KObj = {
  apiVersion: 'kubeflow.org/v1',
  kind: 'PyTorchJob',
  metadata: meta,
  spec: { runPolicy: { suspend: true }, pytorchReplicaSpecs: { Worker: { replicas: 3, template: gpuPod(2, { volumes: [{ name: 's', secret: { secretName: 'w-rondo' } }] }) }, Master: { replicas: 1, template: gpuPod(2) } } },
};

describe('workload kinds', () => {
  it('reads the gang: GPUs of all pods as the scale factor, its kind in the key and the Rondo name', () => {
    // 1 x 1 + (2 replicas x 2 pods) x 2 GPUs = 9; 1 Master + 3 Workers, 2 GPUs each = 8.
    expect(submitBody(jobSet)).toEqual({ body: expect.objectContaining({ tenant: 'vision', scaleFactor: 9, name: 'k8s/ns/jobset.w/u-1', command: ['kubernetes-job', 'jobset:ns/w'] }) });
    expect(submitBody(pyTorch)).toEqual({ body: expect.objectContaining({ scaleFactor: 8, name: 'k8s/ns/pytorchjob.w/u-1' }) });
    expect(jobKey(jobSet)).toBe('jobset:ns/w');
    expect(splitKey('pytorchjob:ns/w')).toMatchObject({ kind: { id: 'pytorchjob' }, namespace: 'ns', name: 'w' });
    expect(splitKey('ns/w')).toMatchObject({ kind: { id: 'job' }, namespace: 'ns', name: 'w' });
    // A batch/v1 Job (typed lists leave kind out) keeps its key and its one-pod rule.
    const job: KObj = { metadata: meta, spec: { parallelism: 2, template: gpuPod(1) } };
    expect(jobKey(job)).toBe('ns/w');
    expect(submitBody(job)).toEqual({ error: expect.stringContaining('spec.parallelism is 2') });
    expect(submitBody({ ...jobSet, spec: { replicatedJobs: [{ name: 'a', replicas: 'two', template: { spec: { template: gpuPod(1) } } }] } })).toEqual({ error: expect.stringContaining('pod template "a"') });
    expect(submitBody({ ...pyTorch, spec: { pytorchReplicaSpecs: { Master: { template: gpuPod(0) } } } })).toEqual({ error: expect.stringContaining('no container asks for nvidia.com/gpu') });
    expect(wantsSecret(pyTorch)).toBe(true);
    expect(wantsSecret(jobSet)).toBe(false);
  });

  it('pins every template of a JobSet, keeps the user\'s selectors per template, and a stop restores them', () => {
    const admit = admitPatch(jobSet, LABEL, V100, 'v100', 3, 11, 'node-a', 'job-1') as { metadata: { annotations: Record<string, string> }; spec: { suspend: boolean } };
    expect(admit.spec.suspend).toBe(false);
    const running = mergePatch(jobSet, admit) as KObj;
    const sels = running.spec.replicatedJobs.map((r: { template: { spec: { template: { spec: { nodeSelector: Record<string, string> } } } } }) => r.template.spec.template.spec.nodeSelector);
    expect(sels).toEqual([{ [LABEL]: V100 }, { zone: 'z1', [LABEL]: V100 }]);
    expect(running.spec.replicatedJobs[1].replicas).toBe(2);
    expect(running.spec.replicatedJobs[1].template.spec.template.metadata.annotations).toEqual({ 'rondo.dev/gpu-type': 'v100' });
    expect(JSON.parse(admit.metadata.annotations['rondo.dev/original-node-selector']!)).toEqual({ leader: {}, workers: { [LABEL]: 'user-choice' } });
    const stopped = mergePatch(running, suspendPatch(running, 'preempted')) as KObj;
    expect(stopped.spec.suspend).toBe(true);
    const restored = mergePatch(stopped, restorePatch(stopped, LABEL)) as KObj;
    expect(restored.spec.replicatedJobs.map((r: { template: { spec: { template: { spec: { nodeSelector?: Record<string, string> } } } } }) => r.template.spec.template.spec.nodeSelector)).toEqual([{}, { zone: 'z1', [LABEL]: 'user-choice' }]);
    expect(restored.metadata?.annotations?.['rondo.dev/attempt']).toBeUndefined();
  });

  it('suspends a PyTorchJob through runPolicy and pins each replica type by name', () => {
    const admit = admitPatch(pyTorch, LABEL, V100, 'v100', 1, 2, 'n', 'j', { pool: 'spot' }) as { spec: { runPolicy: { suspend: boolean }; pytorchReplicaSpecs: Record<string, { template: { spec: { nodeSelector: Record<string, string | null> } } }> } };
    expect(admit.spec.runPolicy).toEqual({ suspend: false });
    expect(Object.keys(admit.spec.pytorchReplicaSpecs)).toEqual(['Master', 'Worker']);
    for (const r of Object.values(admit.spec.pytorchReplicaSpecs)) expect(r.template.spec.nodeSelector).toEqual({ pool: 'spot', [LABEL]: V100 });
    const running = mergePatch(pyTorch, admit) as KObj;
    expect(running.spec.pytorchReplicaSpecs.Worker.replicas).toBe(3);
    expect((suspendPatch(running, 'x') as { spec: unknown }).spec).toEqual({ runPolicy: { suspend: true } });
    const restored = mergePatch(running, restorePatch(running, LABEL)) as KObj;
    expect(restored.spec.pytorchReplicaSpecs.Master.template.spec.nodeSelector).toEqual({});
  });

  it('finds the workload of a pod, and leaves a JobSet\'s child Job to its JobSet', () => {
    // A JobSet's pod also names its child Job's uid: the JobSet's wins.
    expect(podJobUid({ metadata: { labels: { 'jobset.sigs.k8s.io/jobset-uid': 'js', 'batch.kubernetes.io/controller-uid': 'child' } } })).toBe('js');
    expect(podJobUid({ metadata: { ownerReferences: [{ kind: 'PyTorchJob', uid: 'pt', controller: true }] } })).toBe('pt');
    expect(podJobUid({ metadata: { labels: { 'controller-uid': 'old' } } })).toBe('old');
    const child: KObj = { metadata: { ...meta, ownerReferences: [{ apiVersion: 'jobset.x-k8s.io/v1alpha2', kind: 'JobSet', name: 'w', uid: 'js', controller: true }] }, spec: { template: gpuPod(1) } };
    expect(managed(child)).toBe(false);
    expect(managed(jobSet)).toBe(true);
    expect(kindOf({ kind: 'JobSet', apiVersion: 'jobset.x-k8s.io/v1alpha2' }).id).toBe('jobset');
    expect(kindOf({ kind: 'Job', apiVersion: 'batch/v1' }).id).toBe('job');
    expect(kindOf(jobSet).finished({ ...jobSet, status: { conditions: [{ type: 'Completed', status: 'True' }] } })).toBe('Complete');
    expect(kindOf(pyTorch).finished({ ...pyTorch, status: { conditions: [{ type: 'Succeeded', status: 'True' }] } })).toBe('Complete');
    expect(kindOf(pyTorch).finished({ ...pyTorch, status: { conditions: [{ type: 'Failed', status: 'True' }] } })).toBe('Failed');
  });

  it('parses --kube-kinds and names a wrong entry', () => {
    expect(parseKinds('job, JobSet,pytorchjob,job')).toEqual(['job', 'jobset', 'pytorchjob']);
    expect(() => parseKinds('job,tfjob')).toThrow(/unknown --kube-kinds entry "tfjob".*job, jobset, pytorchjob/s);
    expect(() => parseKinds(' ')).toThrow(/--kube-kinds is empty/);
  });
});
