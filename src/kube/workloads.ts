/**
 * The driver's cache of the workloads it may admit: one list-then-watch reflector per enabled kind (kinds/), all
 * filling one map keyed by `jobKey` (`namespace/name` for batch/v1 Jobs, `jobset:namespace/name`, ...), so the
 * intake, admission and stop code read every kind alike. A kind whose CRD is not installed (or that RBAC does not
 * let Rondo list) is reported once at start and skipped; the others run.
 */
import { BatchV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { QUEUE_LABEL } from './config.js';
import { keepAliveClient } from './client.js';
import { Reflector, type KList, type KObj, type ObjectCache } from './reflector.js';
import { jobKey } from './objects.js';
import { kindOf, type KindId, type WorkloadKind } from './kinds/index.js';

export interface KindStatus {
  readonly id: KindId;
  /** Why it is not watched (its CRD missing, access refused); undefined when it is. */
  readonly skipped?: string;
}

export class Workloads implements ObjectCache {
  readonly items = new Map<string, KObj>();
  private readonly reflectors = new Map<KindId, Reflector<KObj>>();
  readonly status: KindStatus[] = [];
  private readonly batch: BatchV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(
    private readonly kc: KubeConfig,
    private readonly kinds: readonly WorkloadKind[],
    private readonly opts: { readonly namespace?: string | undefined; readonly log: (m: string) => void },
  ) {
    this.batch = keepAliveClient(kc, BatchV1Api);
    this.custom = keepAliveClient(kc, CustomObjectsApi);
  }

  /** Lists of a kind, labelled for Rondo (objects of a CRD get their apiVersion and kind if a list left them out). */
  private list(k: WorkloadKind, limit?: number): Promise<KList> {
    const ns = this.opts.namespace;
    const labelSelector = QUEUE_LABEL;
    if (k.id === 'job') return (ns ? this.batch.listNamespacedJob({ namespace: ns, labelSelector }) : this.batch.listJobForAllNamespaces({ labelSelector })) as unknown as Promise<KList>;
    const base = { group: k.group, version: k.version, plural: k.plural, labelSelector, ...(limit !== undefined ? { limit } : {}) };
    const res = (ns ? this.custom.listNamespacedCustomObject({ ...base, namespace: ns }) : this.custom.listClusterCustomObject(base)) as Promise<KList>;
    return res.then((l) => {
      for (const o of l.items) {
        o.apiVersion ??= `${k.group}/${k.version}`;
        o.kind ??= k.kind;
      }
      return l;
    });
  }

  /**
   * Which kinds can be watched: a CRD kind is probed with a LIST of one object. The API server serves only installed
   * resources, so a 404 means its CRD is missing; a 403 means the ClusterRole lacks it. Either is said once, clearly,
   * and the kind skipped; any other failure (the API server not answering yet) leaves it to the reflector's retries.
   */
  async start(): Promise<void> {
    for (const k of this.kinds) {
      if (k.id !== 'job') {
        try {
          await this.list(k, 1);
        } catch (e) {
          const code = (e as { code?: unknown }).code;
          const crd = `${k.plural}.${k.group}`;
          const why =
            code === 404
              ? `the ${k.kind} CRD (${crd}, ${k.group}/${k.version}) is not installed in this cluster`
              : code === 403
                ? `Rondo's service account may not list ${crd} (add the ${k.group} rules of deploy/kubernetes/rbac.yaml)`
                : undefined;
          if (why !== undefined) {
            this.status.push({ id: k.id, skipped: why });
            this.opts.log(`--kube-kinds ${k.id}: ${why}; ${k.kind}s are not scheduled (install it, or leave ${k.id} out of --kube-kinds)`);
            continue;
          }
        }
      }
      const ns = this.opts.namespace;
      const path = `/apis/${k.group}/${k.version}`;
      const r = new Reflector<KObj>(this.kc, ns ? `${path}/namespaces/${ns}/${k.plural}` : `${path}/${k.plural}`, () => this.list(k), {
        labelSelector: QUEUE_LABEL,
        log: this.opts.log,
        shared: { items: this.items, keyOf: jobKey, owns: (o) => kindOf(o) === k },
      });
      this.reflectors.set(k.id, r);
      this.status.push({ id: k.id });
      r.start();
    }
    await Promise.all([...this.reflectors.values()].map((r) => r.waitSynced()));
  }

  stop(): void {
    for (const r of this.reflectors.values()) r.stop();
  }

  upsert(o: KObj): void {
    this.reflectors.get(kindOf(o).id)?.upsert(o);
  }
}
