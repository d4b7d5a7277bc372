/**
 * What the tests check against a real cluster, seen from outside through the real client: every pod (its Job, node,
 * GPUs, phase), kept by a list and a watch that lists again whenever the watch ends (an API server restart cuts it).
 * From that: the starts per Job and GPU product, the pods that succeeded per Job, and the GPUs in use per node, with
 * a violation recorded whenever a node's running pods hold more GPUs than it has.
 */
import * as k8s from '@kubernetes/client-node';

const JOB_NAME = 'batch.kubernetes.io/job-name';

interface PodSeen {
  job: string;
  node?: string;
  gpus: number;
  phase: string;
  gone: boolean;
}

export interface Start {
  job: string;
  node: string;
  product: string;
  /** When the observer saw the binding (ms since epoch). */
  at: number;
}

export class PodObserver {
  readonly pods = new Map<string, PodSeen>();
  readonly starts: Start[] = [];
  /** Per Job, the pods that ended Succeeded while not being deleted. */
  readonly succeeded = new Map<string, Set<string>>();
  /**
   * Per Job, pods that ended Succeeded while being deleted (their work ended inside the grace period after a
   * suspend): the Job controller had already counted such a pod as terminated by the deletion, so it does not make
   * the Job complete, and the Job runs again.
   */
  readonly succeededWhileDeleted = new Map<string, Set<string>>();
  readonly maxInUse = new Map<string, number>();
  readonly violations: string[] = [];
  /** How many times the watch had to be established again. */
  rewatches = 0;
  private abort: AbortController | undefined;
  private stopped = false;
  private readonly core: k8s.CoreV1Api;

  constructor(private readonly kc: k8s.KubeConfig, private readonly nodes: ReadonlyMap<string, { product: string; gpus: number }>) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  async start(): Promise<void> {
    const list = await this.core.listPodForAllNamespaces();
    const present = new Set<string>();
    for (const p of list.items) {
      present.add(p.metadata!.uid!);
      this.apply(p, false);
    }
    for (const [uid, s] of this.pods) if (!present.has(uid) && !s.gone) this.gone(uid);
    if (this.stopped) return;
    this.abort = await new k8s.Watch(this.kc).watch(
      '/api/v1/pods',
      { resourceVersion: list.metadata!.resourceVersion, allowWatchBookmarks: true },
      (type: string, obj: k8s.V1Pod) => {
        if (type === 'ADDED' || type === 'MODIFIED') this.apply(obj, false);
        else if (type === 'DELETED') this.apply(obj, true);
      },
      () => this.again(),
    );
  }

  private again(): void {
    if (this.stopped) return;
    this.rewatches++;
    setTimeout(() => {
      this.start().catch(() => this.again());
    }, 500);
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private apply(p: k8s.V1Pod, deleted: boolean): void {
    const uid = p.metadata!.uid!;
    const job = p.metadata?.labels?.[JOB_NAME];
    if (!job) return;
    let s = this.pods.get(uid);
    if (!s) {
      const gpus = (p.spec?.containers ?? []).reduce((a, c) => a + Number(c.resources?.limits?.['nvidia.com/gpu'] ?? 0), 0);
      s = { job, gpus, phase: 'Pending', gone: false };
      this.pods.set(uid, s);
    }
    const node = p.spec?.nodeName;
    if (node && !s.node) {
      s.node = node;
      this.starts.push({ job, node, product: this.nodes.get(node)?.product ?? `unknown node ${node}`, at: Date.now() });
    }
    const was = s.phase;
    s.phase = p.status?.phase ?? s.phase;
    if (s.phase === 'Succeeded' && was !== 'Succeeded') {
      const into = p.metadata?.deletionTimestamp ? this.succeededWhileDeleted : this.succeeded;
      const set = into.get(job) ?? new Set<string>();
      set.add(uid);
      into.set(job, set);
    }
    if (deleted) s.gone = true;
    if (s.node) this.check(s.node);
  }

  private gone(uid: string): void {
    const s = this.pods.get(uid)!;
    s.gone = true;
    if (s.node) this.check(s.node);
  }

  /** GPUs held on a node: pods bound there that have not ended (a terminating pod holds its GPUs until it ends). */
  private check(node: string): void {
    let used = 0;
    for (const s of this.pods.values()) if (s.node === node && !s.gone && s.phase !== 'Succeeded' && s.phase !== 'Failed') used += s.gpus;
    this.maxInUse.set(node, Math.max(this.maxInUse.get(node) ?? 0, used));
    const cap = this.nodes.get(node)?.gpus;
    if (cap !== undefined && used > cap) this.violations.push(`${node}: ${used} GPUs in use of ${cap}`);
  }
}
