/**
 * batch/v1 Job: `spec.suspend`, one pod template at `spec.template`, Complete/Failed conditions, pods labelled with
 * the Job's uid. Rondo schedules Jobs of one pod (`parallelism` 1): a Job's parallel pods are not a gang (they start
 * and finish on their own), so they are left to JobSet and the training operator.
 */
import type { KObj } from '../reflector.js';
import { hasCondition, type WorkloadKind } from './kind.js';

export const BATCH_JOB: WorkloadKind = {
  id: 'job',
  kind: 'Job',
  group: 'batch',
  version: 'v1',
  plural: 'jobs',
  keyPrefix: '',
  // KEP-2926: the template's scheduling directives may change only while the Job is suspended and has never
  // started; a Job that ran once must have status.startTime cleared (through /status) first.
  clearsStartTime: true,
  suspended: (o) => o.spec?.suspend === true,
  suspendSpec: (suspend) => ({ suspend }),
  templates: (o) => [{ name: '', template: o.spec?.template, pods: 1 }],
  templatesSpec: (o, edit) => ({ template: edit({ name: '', template: o.spec?.template, pods: 1 }) }),
  finished: (o) => (hasCondition(o, 'Complete') ? 'Complete' : hasCondition(o, 'Failed') ? 'Failed' : undefined),
  // Every pod, finished ones too: a pod that succeeded while the Job was being suspended still carries the Job
  // controller's tracking finalizer until it is counted and the Job marked Complete, which needs status.startTime;
  // the stop ends (and a tidy may clear startTime) only once the controller is done with it.
  stopWaitsFor: () => true,
  // The current label, then the older one.
  podOwnerUid: (p) => p.metadata?.labels?.['batch.kubernetes.io/controller-uid'] ?? p.metadata?.labels?.['controller-uid'],
  // A JobSet's (or another controller's) child Job carries the labels of its template: its owner is what Rondo
  // admits, never the child on its own.
  ownedElsewhere: (o: KObj) => ((o.metadata?.ownerReferences ?? []) as Array<{ controller?: boolean }>).some((r) => r.controller === true),
  unsupported: (o) => {
    const parallelism = Number(o.spec?.parallelism ?? 1);
    return parallelism !== 1 ? `spec.parallelism is ${parallelism}: Rondo schedules Jobs with one pod (run a gang as a JobSet or PyTorchJob)` : undefined;
  },
};
