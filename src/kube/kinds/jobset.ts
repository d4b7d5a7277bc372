/**
 * JobSet (jobset.x-k8s.io/v1alpha2): `spec.suspend`; pod templates at `spec.replicatedJobs[].template.spec.template`,
 * each making `replicas` x `parallelism` pods at once; Completed/Failed conditions; pods carry the JobSet's uid in
 * `jobset.sigs.k8s.io/jobset-uid`. All its pods are one gang (Rondo's scale factor is their GPUs together).
 * Unlike a batch/v1 Job, a suspended JobSet's pod templates may change (nodeSelector, labels, annotations,
 * tolerations) whether or not it ran before, and the JobSet controller carries them to its child Jobs when it
 * resumes: no startTime to clear.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are JSON of many kinds; fields are checked where read. */
import type { KObj } from '../reflector.js';
import { applyMergePatch, count, hasCondition, livePod, type PodTemplateRef, type WorkloadKind } from './kind.js';

function replicated(o: KObj): Array<Record<string, any>> {
  const r = o.spec?.replicatedJobs;
  return Array.isArray(r) ? r : [];
}

function refs(o: KObj): PodTemplateRef[] {
  return replicated(o).map((rj, i) => ({
    name: String(rj?.name ?? i),
    template: rj?.template?.spec?.template,
    pods: count(rj?.replicas, 1) * count(rj?.template?.spec?.parallelism, 1),
  }));
}

export const JOBSET: WorkloadKind = {
  id: 'jobset',
  kind: 'JobSet',
  group: 'jobset.x-k8s.io',
  version: 'v1alpha2',
  plural: 'jobsets',
  keyPrefix: 'jobset:',
  clearsStartTime: false,
  suspended: (o) => o.spec?.suspend === true,
  suspendSpec: (suspend) => ({ suspend }),
  templates: refs,
  templatesSpec: (o, edit) => {
    const all = refs(o);
    // The list goes whole (a merge patch replaces arrays), each entry as it is but for its edited pod template.
    return {
      replicatedJobs: replicated(o).map((rj, i) => ({
        ...rj,
        template: { ...rj.template, spec: { ...rj.template?.spec, template: applyMergePatch(rj.template?.spec?.template ?? {}, edit(all[i]!)) } },
      })),
    };
  },
  finished: (o) => (hasCondition(o, 'Completed') ? 'Complete' : hasCondition(o, 'Failed') ? 'Failed' : undefined),
  // The pods of its completed child Jobs stay until the JobSet goes; they hold no GPU, and no startTime is cleared.
  stopWaitsFor: livePod,
  podOwnerUid: (p) => p.metadata?.labels?.['jobset.sigs.k8s.io/jobset-uid'],
  unsupported: (o) => (replicated(o).length === 0 ? 'spec.replicatedJobs is empty' : undefined),
};
