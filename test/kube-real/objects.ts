/**
 * Objects for the real control plane: kwok GPU nodes and Rondo-labelled training Jobs whose pods declare how long
 * they run (kwok plays them; see kwok-stages.ts). Shared by the tests and bench/kube/real.ts.
 */
import * as k8s from '@kubernetes/client-node';
import { MANAGED_LABEL, NOT_READY_LABEL, RUN_FOR_ANNOTATION } from './kwok-stages.js';

export const PRODUCT_LABEL = 'nvidia.com/gpu.product';
export const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
/** The field manager of everything the tests themselves write, to tell their writes from Rondo's. */
export const TEST_MANAGER = 'rondo-test';

export interface NodeSpec {
  readonly name: string;
  readonly product: string;
  readonly gpus: number;
}

/**
 * Creates kwok nodes with GPU capacity. The capacity is written through /status as well, as a kubelet with the
 * device plugin would, rather than relying on the status given on create.
 */
export async function createNodes(kc: k8s.KubeConfig, nodes: readonly NodeSpec[]): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  for (const n of nodes) {
    const resources = { cpu: '64', memory: '512Gi', pods: '110', 'nvidia.com/gpu': String(n.gpus) };
    await core.createNode({
      fieldManager: TEST_MANAGER,
      body: {
        metadata: { name: n.name, labels: { [PRODUCT_LABEL]: n.product, [MANAGED_LABEL]: 'true', 'kubernetes.io/hostname': n.name, type: 'kwok' } },
        status: { capacity: resources, allocatable: resources },
      },
    });
    await core.patchNodeStatus({ name: n.name, fieldManager: TEST_MANAGER, body: { status: { capacity: resources, allocatable: resources } } }, MERGE);
  }
}

/** Marks a node NotReady (kwok then reports it so, as a kubelet would) or Ready again. */
export async function setNodeReady(kc: k8s.KubeConfig, name: string, ready: boolean): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.patchNode({ name, fieldManager: TEST_MANAGER, body: { metadata: { labels: { [NOT_READY_LABEL]: ready ? null : 'true' } } } }, MERGE);
}

export function nodeIsReady(n: k8s.V1Node): boolean {
  return (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export interface JobSpec {
  readonly name: string;
  readonly queue?: string;
  readonly gpus?: number;
  readonly jobType?: string;
  readonly gpuTypes?: string;
  /** How long its pod runs once Running (a Go duration). */
  readonly runFor: string;
  readonly suspend?: boolean;
  readonly labels?: Record<string, string>;
  readonly nodeSelector?: Record<string, string>;
  readonly graceSeconds?: number;
}

export function trainingJob(o: JobSpec): k8s.V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: o.name,
      namespace: 'default',
      labels: { ...(o.queue !== undefined ? { 'rondo.dev/queue': o.queue } : {}), ...o.labels },
      annotations: { 'rondo.dev/job-type': o.jobType ?? 'resnet', 'rondo.dev/total-steps': '100', ...(o.gpuTypes ? { 'rondo.dev/gpu-types': o.gpuTypes } : {}) },
    },
    spec: {
      suspend: o.suspend ?? true,
      backoffLimit: 100,
      template: {
        metadata: { annotations: { [RUN_FOR_ANNOTATION]: o.runFor } },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: o.graceSeconds ?? 2,
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
          containers: [{
            name: 'train',
            image: 'example/train:1',
            envFrom: [{ secretRef: { name: `${o.name}-rondo`, optional: true } }],
            resources: { limits: { 'nvidia.com/gpu': String(o.gpus ?? 1) } },
          }],
        },
      },
    },
  };
}

export async function createJobs(kc: k8s.KubeConfig, jobs: readonly k8s.V1Job[], concurrency = 8): Promise<void> {
  const batch = kc.makeApiClient(k8s.BatchV1Api);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < jobs.length) {
      const j = jobs[next++]!;
      await batch.createNamespacedJob({ namespace: j.metadata!.namespace ?? 'default', body: j, fieldManager: TEST_MANAGER });
    }
  }));
}

export function isComplete(j: k8s.V1Job): boolean {
  return (j.status?.conditions ?? []).some((c) => c.type === 'Complete' && c.status === 'True');
}
