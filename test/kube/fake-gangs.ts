/**
 * Fake controllers for the two gang kinds the driver can admit, beside the fake Job controller (fake-cluster.ts):
 *   - JobSet: every replicated Job makes `replicas` x `parallelism` pods, labelled as the JobSet controller's child
 *     Jobs label theirs (jobset-name, jobset-uid, replicatedjob-name, job-index); simplified, the fake makes the pods
 *     itself instead of through child Jobs (Rondo reads only the pods' labels, which are the same);
 *   - PyTorchJob: `replicas` pods per replica type (Master, Worker), controlled by the PyTorchJob (ownerReference),
 *     labelled as the training operator labels them.
 * Both: unsuspended, a pod for every replica that has none; suspended (`spec.suspend`, `spec.runPolicy.suspend`), their
 * live pods deleted (the kubelet sends SIGTERM and removes them after the grace period) and a Suspended condition;
 * when every replica's pod has succeeded, the Completed (JobSet) or Succeeded (PyTorchJob) condition, counted once.
 * Pods are named by replica, so a replica's checkpoint (the kubelet's steps per pod name) survives a preemption.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are JSON of many kinds; fields are checked where read. */
import type { FakeApiServer, Obj } from './fake-apiserver.js';

export interface GangSink {
  readonly completions: Map<string, number>;
  readonly violations: Array<{ what: string; at: number }>;
  now(): number;
}

interface Replica {
  readonly pod: string;
  readonly template: any;
  readonly labels: Record<string, string>;
  readonly owner: { apiVersion: string; kind: string; name: string; uid: string; controller: boolean };
}

const GANGS = [
  { plural: 'jobsets', kind: 'JobSet', apiVersion: 'jobset.x-k8s.io/v1alpha2', done: 'Completed' },
  { plural: 'pytorchjobs', kind: 'PyTorchJob', apiVersion: 'kubeflow.org/v1', done: 'Succeeded' },
] as const;

function replicas(kind: string, o: Obj): Replica[] {
  const uid = o.metadata.uid!;
  const out: Replica[] = [];
  if (kind === 'JobSet') {
    for (const rj of o.spec?.replicatedJobs ?? []) {
      for (let i = 0; i < Number(rj.replicas ?? 1); i++) {
        for (let k = 0; k < Number(rj.template?.spec?.parallelism ?? 1); k++) {
          const job = `${o.metadata.name}-${rj.name}-${i}`;
          out.push({
            pod: `${job}-${k}`,
            template: rj.template?.spec?.template ?? {},
            labels: { 'jobset.sigs.k8s.io/jobset-name': o.metadata.name, 'jobset.sigs.k8s.io/jobset-uid': uid, 'jobset.sigs.k8s.io/replicatedjob-name': rj.name, 'jobset.sigs.k8s.io/job-index': String(i), 'batch.kubernetes.io/job-name': job },
            // The child Job would own the pod; its uid is no workload's, as on a real cluster.
            owner: { apiVersion: 'batch/v1', kind: 'Job', name: job, uid: `${uid}-${rj.name}-${i}`, controller: true },
          });
        }
      }
    }
  } else {
    for (const [type, spec] of Object.entries((o.spec?.pytorchReplicaSpecs ?? {}) as Record<string, any>)) {
      for (let i = 0; i < Number(spec.replicas ?? 1); i++) {
        out.push({
          pod: `${o.metadata.name}-${type.toLowerCase()}-${i}`,
          template: spec.template ?? {},
          labels: { 'training.kubeflow.org/job-name': o.metadata.name, 'training.kubeflow.org/replica-type': type.toLowerCase(), 'training.kubeflow.org/replica-index': String(i), 'training.kubeflow.org/operator-name': 'pytorchjob-controller' },
          owner: { apiVersion: 'kubeflow.org/v1', kind: 'PyTorchJob', name: o.metadata.name, uid, controller: true },
        });
      }
    }
  }
  return out;
}

/** The gang workload a pod belongs to (its uid, as Rondo's kinds read it), if any. */
export function gangUidOf(p: Obj): string | undefined {
  return p.metadata.labels?.['jobset.sigs.k8s.io/jobset-uid'] ?? (p.metadata as any).ownerReferences?.find((r: any) => r.controller && r.kind === 'PyTorchJob')?.uid;
}

export class FakeGangControllers {
  constructor(
    private readonly api: FakeApiServer,
    private readonly sink: GangSink,
  ) {}

  /** Gang workloads by uid (for the kubelet: a pod's job type and steps come from its workload's annotations). */
  byUid(): Map<string, Obj> {
    const out = new Map<string, Obj>();
    for (const g of GANGS) if (this.api.serves(g.plural)) for (const o of this.api.peek(g.plural)) out.set(o.metadata.uid!, o);
    return out;
  }

  reconcile(): void {
    const podsOf = new Map<string, Obj[]>();
    for (const p of this.api.peek('pods')) {
      const uid = gangUidOf(p);
      if (uid === undefined) continue;
      const list = podsOf.get(uid);
      if (list) list.push(p);
      else podsOf.set(uid, [p]);
    }
    for (const g of GANGS) {
      if (!this.api.serves(g.plural)) continue;
      for (const o of this.api.peek(g.plural)) this.reconcileOne(g, o, podsOf.get(o.metadata.uid!) ?? []);
    }
  }

  private reconcileOne(g: (typeof GANGS)[number], o: Obj, mine: Obj[]): void {
    const conds: Array<{ type: string; status: string }> = o.status?.conditions ?? [];
    if (conds.some((c) => (c.type === g.done || c.type === 'Failed') && c.status === 'True')) return;
    const want = replicas(g.kind, o);
    const byName = new Map<string, Obj[]>();
    for (const p of mine) byName.set(p.metadata.name, [...(byName.get(p.metadata.name) ?? []), p]);
    const live = mine.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
    const succeeded = new Set(mine.filter((p) => p.status?.phase === 'Succeeded').map((p) => p.metadata.name));
    if (want.length > 0 && want.every((r) => succeeded.has(r.pod))) {
      const n = (this.sink.completions.get(o.metadata.uid!) ?? 0) + 1;
      this.sink.completions.set(o.metadata.uid!, n);
      if (n > 1) this.sink.violations.push({ what: `${g.kind} ${o.metadata.name} completed twice`, at: this.sink.now() });
      this.api.mutate(g.plural, o.metadata.namespace, o.metadata.name, (x) => {
        x.status = { ...x.status, conditions: [{ type: g.done, status: 'True', reason: 'AllReplicasSucceeded' }] };
      }, 'status');
      for (const p of mine) this.api.remove('pods', p.metadata.namespace, p.metadata.name);
      return;
    }
    const isSuspended = g.kind === 'JobSet' ? o.spec?.suspend === true : o.spec?.runPolicy?.suspend === true;
    if (isSuspended) {
      for (const p of live) {
        if (p.metadata.deletionTimestamp) continue;
        if (!p.spec.nodeName) this.api.remove('pods', p.metadata.namespace, p.metadata.name);
        else this.api.mutate('pods', p.metadata.namespace, p.metadata.name, (x) => void (x.metadata.deletionTimestamp = new Date().toISOString()));
      }
      if (!conds.some((c) => c.type === 'Suspended' && c.status === 'True')) {
        this.api.mutate(g.plural, o.metadata.namespace, o.metadata.name, (x) => void (x.status = { ...x.status, conditions: [{ type: 'Suspended', status: 'True', reason: 'Suspended' }] }), 'status');
      }
      return;
    }
    if (conds.some((c) => c.type === 'Suspended')) {
      this.api.mutate(g.plural, o.metadata.namespace, o.metadata.name, (x) => void (x.status = { ...x.status, conditions: [] }), 'status');
    }
    for (const r of want) {
      const pods = byName.get(r.pod) ?? [];
      // A replica whose pod is still terminating (a stop just before this resume) waits for it to go.
      if (pods.length > 0) continue;
      this.api.create('pods', {
        metadata: { name: r.pod, namespace: o.metadata.namespace, labels: { ...r.template.metadata?.labels, ...r.labels }, annotations: { ...r.template.metadata?.annotations }, ownerReferences: [r.owner] },
        spec: structuredClone(r.template.spec),
      });
    }
  }
}
