/**
 * The parts of a cluster that act on the fake API server's objects, as in-process loops on an accelerated clock:
 *   - a Job controller: a running (unsuspended, unfinished) Job gets a pod; a suspended Job's pods are deleted
 *     (deletionTimestamp set; the kubelet sends SIGTERM and removes them after the grace period); status.startTime
 *     is set on every start, status.active/conditions follow the pods; a pod that succeeds completes the Job;
 *   - kube-scheduler: binds a pending pod to a Ready, schedulable node whose labels match its nodeSelector and
 *     that has enough free nvidia.com/gpu (pods that are terminating still hold theirs), first fit by node name;
 *   - kubelets: a bound pod runs; its work is the Job's `rondo.dev/total-steps` steps at the speed the throughput
 *     table gives for the job type (`rondo.dev/job-type`) on the node's GPU type; progress survives preemption (the
 *     job checkpoints on SIGTERM); when the pod's env comes from a Secret holding RONDO_SERVER and RONDO_TOKEN, the
 *     "training process" reports its steps to Rondo's API as a real job would.
 * JobSets and PyTorchJobs have controllers of their own (fake-gangs.ts); the scheduler and kubelets serve their pods
 * alike, a gang pod's work being its workload's steps, checkpointed per replica.
 * Checks the invariants the end-to-end tests assert: per node, GPUs of live pods never exceed the allocatable count;
 * a Job never has two pods at once; every Job completes at most once.
 */
import type { FakeApiServer, Obj } from './fake-apiserver.js';
import { FakeGangControllers, gangUidOf } from './fake-gangs.js';

export interface FakeClusterOptions {
  /** Node GPU label value -> throughput per job type (steps per simulated second). */
  readonly throughputs: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Simulated seconds per real second. */
  readonly speedup: number;
  readonly typeLabel?: string;
  /** Real ms between controller passes. */
  readonly tickMs?: number;
  /** Default termination grace period in simulated seconds (pods may set their own). */
  readonly graceS?: number;
  /** Report progress to Rondo's API at most this often (real ms). */
  readonly reportEveryMs?: number;
}

export interface Violation {
  readonly what: string;
  readonly at: number;
}

interface PodRun {
  /** Simulated time the pod started running, or undefined while pending. */
  startedAt?: number;
  termAt?: number;
  lastReport?: number;
  /** Simulated time of the last progress step. */
  last?: number;
}

export class FakeCluster {
  private timer: NodeJS.Timeout | undefined;
  private readonly t0 = Date.now();
  /** Steps done per Job uid (the checkpoint a restarted pod resumes from). */
  readonly stepsDone = new Map<string, number>();
  readonly completions = new Map<string, number>();
  readonly violations: Violation[] = [];
  /** (job name, node GPU type, simulated time) of every pod that started running. */
  readonly starts: Array<{ job: string; namespace: string; product: string; at: number }> = [];
  readonly sigterms: string[] = [];
  private readonly runs = new Map<string, PodRun>();
  private busy = false;
  private readonly gangs: FakeGangControllers;

  constructor(
    private readonly api: FakeApiServer,
    private readonly opts: FakeClusterOptions,
  ) {
    this.gangs = new FakeGangControllers(api, this);
  }

  get typeLabel(): string {
    return this.opts.typeLabel ?? 'nvidia.com/gpu.product';
  }

  /** Simulated seconds since start. */
  now(): number {
    return ((Date.now() - this.t0) / 1000) * this.opts.speedup;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs ?? 20);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  addNode(name: string, product: string, gpus: number, labels: Record<string, string> = {}): void {
    this.api.create('nodes', {
      metadata: { name, labels: { 'kubernetes.io/hostname': name, [this.typeLabel]: product, ...labels } },
      spec: {},
      status: {
        capacity: { 'nvidia.com/gpu': String(gpus), cpu: '32' },
        allocatable: { 'nvidia.com/gpu': String(gpus), cpu: '32' },
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    });
  }

  setNodeReady(name: string, ready: boolean): void {
    this.api.mutate('nodes', undefined, name, (n) => {
      n.status.conditions = [{ type: 'Ready', status: ready ? 'True' : 'False' }];
    }, 'status');
  }

  private tick(): void {
    if (this.busy) return;
    this.busy = true;
    try {
      this.reconcileJobs();
      this.gangs.reconcile();
      this.schedule();
      this.runKubelets();
    } finally {
      this.busy = false;
    }
  }

  /** Pods by their Job's uid. The loops read the stored objects (`peek`, no copies) and write through `mutate`. */
  private podsByJob(): Map<string, Obj[]> {
    const out = new Map<string, Obj[]>();
    for (const p of this.api.peek('pods')) {
      const uid = p.metadata.labels?.['batch.kubernetes.io/controller-uid'];
      if (uid === undefined) continue;
      const list = out.get(uid);
      if (list) list.push(p);
      else out.set(uid, [p]);
    }
    return out;
  }

  private reconcileJobs(): void {
    const podsOf = this.podsByJob();
    for (const job of this.api.peek('jobs')) {
      const conds: Array<{ type: string; status: string }> = job.status?.conditions ?? [];
      const finished = conds.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
      const mine = podsOf.get(job.metadata.uid!) ?? [];
      const live = mine.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
      if (live.filter((p) => !p.metadata.deletionTimestamp).length > 1) this.violations.push({ what: `job ${job.metadata.name} has two pods`, at: this.now() });
      if (finished) continue;
      const succeeded = mine.find((p) => p.status?.phase === 'Succeeded');
      if (succeeded) {
        const n = (this.completions.get(job.metadata.uid!) ?? 0) + 1;
        this.completions.set(job.metadata.uid!, n);
        if (n > 1) this.violations.push({ what: `job ${job.metadata.name} completed twice`, at: this.now() });
        this.api.mutate('jobs', job.metadata.namespace, job.metadata.name, (j) => {
          j.status = { ...j.status, active: 0, succeeded: 1, completionTime: new Date().toISOString(), conditions: [{ type: 'Complete', status: 'True', reason: 'CompletionsReached' }] };
        }, 'status');
        this.api.remove('pods', succeeded.metadata.namespace, succeeded.metadata.name);
        continue;
      }
      if (job.spec.suspend) {
        for (const p of live) {
          if (p.metadata.deletionTimestamp) continue;
          if (!p.spec.nodeName) {
            this.api.remove('pods', p.metadata.namespace, p.metadata.name);
            continue;
          }
          this.api.mutate('pods', p.metadata.namespace, p.metadata.name, (x) => {
            x.metadata.deletionTimestamp = new Date().toISOString();
          });
        }
        const suspended = conds.find((c) => c.type === 'Suspended')?.status === 'True';
        if (!suspended || (job.status?.active ?? 0) !== live.length) {
          this.api.mutate('jobs', job.metadata.namespace, job.metadata.name, (j) => {
            j.status = { ...j.status, active: live.length, conditions: [{ type: 'Suspended', status: 'True', reason: 'JobSuspended' }] };
          }, 'status');
        }
        continue;
      }
      if (live.length === 0) {
        const tpl = job.spec.template;
        this.api.create('pods', {
          metadata: {
            name: `${job.metadata.name}-${Math.random().toString(36).slice(2, 7)}`,
            namespace: job.metadata.namespace,
            labels: { ...tpl.metadata?.labels, 'batch.kubernetes.io/controller-uid': job.metadata.uid!, 'batch.kubernetes.io/job-name': job.metadata.name },
            annotations: { ...tpl.metadata?.annotations },
            ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: job.metadata.uid!, controller: true }],
          },
          spec: structuredClone(tpl.spec),
        });
      }
      const needStart = !job.status?.startTime || conds.some((c) => c.type === 'Suspended' && c.status === 'True');
      if (needStart || (job.status?.active ?? 0) !== Math.max(1, live.length)) {
        this.api.mutate('jobs', job.metadata.namespace, job.metadata.name, (j) => {
          // Resuming a suspended Job resets its startTime, as the real Job controller does.
          j.status = { ...j.status, active: Math.max(1, live.length), ...(needStart ? { startTime: new Date().toISOString() } : {}), conditions: (j.status?.conditions ?? []).filter((c: { type: string }) => c.type !== 'Suspended') };
        }, 'status');
      }
    }
  }

  private gpusOf(pod: Obj): number {
    let n = 0;
    for (const c of pod.spec?.containers ?? []) n += Number(c.resources?.limits?.['nvidia.com/gpu'] ?? c.resources?.requests?.['nvidia.com/gpu'] ?? 0);
    return n;
  }

  private schedule(): void {
    const pods = this.api.peek('pods');
    const nodes = this.api.peek('nodes').sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    // Candidate nodes per value of the GPU label (a pod pinned to a product looks only at those).
    const byProduct = new Map<string, Obj[]>();
    for (const n of nodes) {
      const v = n.metadata.labels?.[this.typeLabel] ?? '';
      const list = byProduct.get(v);
      if (list) list.push(n);
      else byProduct.set(v, [n]);
    }
    const used = new Map<string, number>();
    for (const p of pods) {
      if (p.spec.nodeName && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed') used.set(p.spec.nodeName, (used.get(p.spec.nodeName) ?? 0) + this.gpusOf(p));
    }
    for (const n of nodes) {
      const cap = Number(n.status?.allocatable?.['nvidia.com/gpu'] ?? 0);
      if ((used.get(n.metadata.name) ?? 0) > cap) this.violations.push({ what: `node ${n.metadata.name} over capacity`, at: this.now() });
    }
    for (const p of pods) {
      if (p.spec.nodeName || p.metadata.deletionTimestamp) continue;
      const need = this.gpusOf(p);
      const sel: Record<string, string> = p.spec.nodeSelector ?? {};
      const pinned = sel[this.typeLabel];
      const node = (pinned === undefined ? nodes : (byProduct.get(pinned) ?? [])).find((n) => {
        const ready = (n.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
        if (!ready || n.spec?.unschedulable) return false;
        if (!Object.entries(sel).every(([k, v]) => n.metadata.labels?.[k] === v)) return false;
        return Number(n.status?.allocatable?.['nvidia.com/gpu'] ?? 0) - (used.get(n.metadata.name) ?? 0) >= need;
      });
      if (!node) continue;
      used.set(node.metadata.name, (used.get(node.metadata.name) ?? 0) + need);
      this.api.mutate('pods', p.metadata.namespace, p.metadata.name, (x) => {
        x.spec.nodeName = node.metadata.name;
      });
    }
  }

  private runKubelets(): void {
    const now = this.now();
    const nodes = new Map(this.api.peek('nodes').map((n) => [n.metadata.name, n]));
    const jobs = new Map(this.api.peek('jobs').map((j) => [j.metadata.uid!, j]));
    for (const [uid, g] of this.gangs.byUid()) jobs.set(uid, g);
    for (const p of this.api.peek('pods')) {
      const node = p.spec.nodeName ? nodes.get(p.spec.nodeName) : undefined;
      if (!node || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
      const id = `${p.metadata.namespace}/${p.metadata.name}`;
      const run = this.runs.get(id) ?? {};
      this.runs.set(id, run);
      // A gang's pods each do the workload's steps, checkpointed per replica (pods are named by replica).
      const gang = gangUidOf(p);
      const jobUid = gang ?? p.metadata.labels?.['batch.kubernetes.io/controller-uid'] ?? '';
      const job = jobs.get(jobUid);
      const progress = gang === undefined ? jobUid : `${jobUid}/${p.metadata.name}`;
      const ready = (node.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
      if (!ready) {
        // The node is gone: its pods fail (the node lifecycle controller would evict them).
        this.api.mutate('pods', p.metadata.namespace, p.metadata.name, (x) => {
          x.status = { ...x.status, phase: 'Failed', reason: 'NodeLost' };
        }, 'status');
        this.api.remove('pods', p.metadata.namespace, p.metadata.name);
        this.runs.delete(id);
        continue;
      }
      if (run.startedAt === undefined) {
        run.startedAt = now;
        this.starts.push({ job: job?.metadata.name ?? '?', namespace: p.metadata.namespace!, product: node.metadata.labels?.[this.typeLabel] ?? '', at: now });
        this.api.mutate('pods', p.metadata.namespace, p.metadata.name, (x) => {
          x.status = { ...x.status, phase: 'Running', startTime: new Date().toISOString() };
        }, 'status');
        continue;
      }
      const product = node.metadata.labels?.[this.typeLabel] ?? '';
      const jobType = job?.metadata.annotations?.['rondo.dev/job-type'] ?? 'default';
      const rate = this.opts.throughputs[product]?.[jobType] ?? 0;
      const total = Number(job?.metadata.annotations?.['rondo.dev/total-steps'] ?? 100);
      const dt = run.last === undefined ? 0 : now - run.last;
      run.last = now;
      if (p.metadata.deletionTimestamp) {
        if (run.termAt === undefined) {
          run.termAt = now;
          this.sigterms.push(id);
        }
        const grace = Number(p.spec.terminationGracePeriodSeconds ?? this.opts.graceS ?? 30);
        // The job checkpoints on SIGTERM and exits; the pod object goes once it stopped (or at the grace end).
        if (now - run.termAt >= Math.min(grace, 1)) {
          this.api.remove('pods', p.metadata.namespace, p.metadata.name);
          this.runs.delete(id);
        }
        continue;
      }
      if (dt > 0 && Number.isFinite(dt)) {
        const done = Math.min(total, (this.stepsDone.get(progress) ?? 0) + rate * dt);
        this.stepsDone.set(progress, done);
        if (done >= total) {
          this.api.mutate('pods', p.metadata.namespace, p.metadata.name, (x) => {
            x.status = { ...x.status, phase: 'Succeeded' };
          }, 'status');
          void this.report(p, job, done, total, rate, true);
          continue;
        }
      }
      if (run.lastReport === undefined || Date.now() - run.lastReport >= (this.opts.reportEveryMs ?? 200)) {
        run.lastReport = Date.now();
        void this.report(p, job, this.stepsDone.get(progress) ?? 0, total, rate, false);
      }
    }
  }

  /** The training process's own progress report to Rondo, with the token from the Secret its pod references. */
  private async report(pod: Obj, job: Obj | undefined, steps: number, total: number, rate: number, last: boolean): Promise<void> {
    const env: Record<string, string> = {};
    for (const c of pod.spec?.containers ?? []) {
      for (const f of c.envFrom ?? []) {
        const name = f.secretRef?.name;
        if (!name) continue;
        const s = this.api.get('secrets', pod.metadata.namespace, name);
        for (const [k, v] of Object.entries((s?.data ?? {}) as Record<string, string>)) env[k] = Buffer.from(v, 'base64').toString();
        for (const [k, v] of Object.entries((s?.stringData ?? {}) as Record<string, string>)) env[k] = v;
      }
    }
    if (!env.RONDO_SERVER || !env.RONDO_TOKEN || !job) return;
    try {
      await fetch(`${env.RONDO_SERVER}/api/v1/progress`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${env.RONDO_TOKEN}` },
        body: JSON.stringify({ steps: Math.floor(steps), total, ...(rate > 0 && !last ? { throughput: rate } : {}) }),
      });
    } catch {
      // A report lost while Rondo restarts is repaired by the next one.
    }
  }
}
