/**
 * Kubeflow PyTorchJob (kubeflow.org/v1, the training operator): `spec.runPolicy.suspend`; pod templates at
 * `spec.pytorchReplicaSpecs.<Master|Worker>.template`, `replicas` pods each; Succeeded/Failed conditions; pods are
 * controlled by the PyTorchJob (an ownerReference). All its pods are one gang. The training operator deletes the
 * pods of a suspended PyTorchJob and makes them again from the current templates when it resumes, so templates may
 * change while it is suspended: no startTime to clear.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are JSON of many kinds; fields are checked where read. */
import type { KObj } from '../reflector.js';
import { count, hasCondition, livePod, type PodTemplateRef, type WorkloadKind } from './kind.js';

function specs(o: KObj): Array<[string, Record<string, any>]> {
  const s = o.spec?.pytorchReplicaSpecs;
  if (s === null || typeof s !== 'object') return [];
  // Master first, then the rest by name: a stable order for the original-selector annotation.
  return Object.entries(s as Record<string, Record<string, any>>).sort(([a], [b]) => (a === 'Master' ? -1 : b === 'Master' ? 1 : a.localeCompare(b)));
}

/** Each replica type's pod template and its pod count. */
function refs(o: KObj): PodTemplateRef[] {
  return specs(o).map(([name, r]) => ({ name, template: r?.template, pods: count(r?.replicas, 1) }));
}

export const PYTORCHJOB: WorkloadKind = {
  id: 'pytorchjob',
  kind: 'PyTorchJob',
  group: 'kubeflow.org',
  version: 'v1',
  plural: 'pytorchjobs',
  keyPrefix: 'pytorchjob:',
  clearsStartTime: false,
  suspended: (o) => o.spec?.runPolicy?.suspend === true,
  suspendSpec: (suspend) => ({ runPolicy: { suspend } }),
  templates: (o) => refs(o),
  // A map, not a list: the merge patch names each replica type's template.
  templatesSpec: (o, edit) => ({ pytorchReplicaSpecs: Object.fromEntries(refs(o).map((r) => [r.name, { template: edit(r) }])) }),
  finished: (o) => (hasCondition(o, 'Succeeded') ? 'Complete' : hasCondition(o, 'Failed') ? 'Failed' : undefined),
  // Finished replicas' pods may stay (cleanPodPolicy); they hold no GPU, and no startTime is cleared.
  stopWaitsFor: livePod,
  podOwnerUid: (p) => ((p.metadata?.ownerReferences ?? []) as Array<{ kind?: string; uid?: string; controller?: boolean }>).find((r) => r.controller === true && r.kind === 'PyTorchJob')?.uid,
  unsupported: (o) => (specs(o).length === 0 ? 'spec.pytorchReplicaSpecs is empty' : undefined),
};
