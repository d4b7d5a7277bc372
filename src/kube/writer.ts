/**
 * Every write the Kubernetes driver makes, in one place: merge patches on Jobs guarded by resourceVersion (retried
 * on a fresh GET after a 409), the /status patch that clears startTime, the per-Job Secret with the job's API token,
 * and Events. Each write puts its result into the Job cache at once, so the next pass sees it before the watch does.
 */
import { BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { KObj, Reflector } from './reflector.js';
import { jobKey, secretName, wantsSecret } from './objects.js';

const PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Runs `fn` over `items` with at most `n` calls in flight. */
export async function pool<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, run));
}

/** At most `n` calls in flight; the rest wait their turn in order (as client-go's rate limiter keeps a controller polite). */
class Gate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly n: number) {}

  /** Resolves once no call waits for a slot (at once when none does). */
  idle(): Promise<void> {
    if (this.waiting.length === 0) return Promise.resolve();
    return new Promise((r) => this.idlers.push(r));
  }

  private readonly idlers: Array<() => void> = [];

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const w = this.waiting.shift();
      if (w) w();
      else this.active--;
      if (this.waiting.length === 0) for (const r of this.idlers.splice(0)) r();
    }
  }
}

export interface WriterStats {
  writes: number;
  conflicts: number;
  events: number;
}

export class JobWriter {
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  readonly stats: WriterStats = { writes: 0, conflicts: 0, events: 0 };
  /** Requests to the API server in flight at once: thousands of writes in a round go out 32 at a time. */
  private readonly gate = new Gate(32);
  /**
   * Events go out beside the writes, a few at a time and only while no write waits (as client-go's event recorder
   * sends them in the background): a round's decisions reach the cluster first, their explanations just after.
   */
  private readonly eventGate = new Gate(4);

  constructor(
    kc: KubeConfig,
    private readonly cfg: { readonly jobs: Reflector<KObj>; readonly jobServerUrl?: string | undefined; readonly identity: string; readonly log: (m: string) => void },
  ) {
    this.batch = kc.makeApiClient(BatchV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async clearStartTime(o: KObj): Promise<void> {
    const [namespace, name] = jobKey(o).split('/') as [string, string];
    const res = await this.gate.run(() => this.batch.patchNamespacedJobStatus({ namespace, name, body: { status: { startTime: null } } }, PATCH));
    this.stats.writes++;
    this.cfg.jobs.upsert(res as KObj);
  }

  /** The Secret the pod template references (`<job>-rondo` through envFrom): the job's API token and server. */
  async writeSecret(o: KObj, a: { readonly id: number; readonly jobId: string; readonly token?: string | undefined }): Promise<void> {
    const name = secretName(o);
    if (!wantsSecret(o) || !a.token || !this.cfg.jobServerUrl) return;
    const namespace = o.metadata!.namespace!;
    const stringData = { RONDO_SERVER: this.cfg.jobServerUrl, RONDO_TOKEN: a.token, RONDO_JOB_ID: a.jobId, RONDO_ATTEMPT: String(a.id) };
    try {
      await this.gate.run(() => this.core.patchNamespacedSecret({ namespace, name, body: { stringData } }, PATCH));
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
      await this.gate.run(() => this.core.createNamespacedSecret({
        namespace,
        body: {
          metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'rondo' }, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: o.metadata!.name!, uid: o.metadata!.uid!, controller: false }] },
          stringData,
          type: 'Opaque',
        },
      }));
    }
    this.stats.writes++;
  }

  /**
   * A merge patch computed from the cached Job and guarded by its resourceVersion; on 409 the patch is computed
   * again from a fresh GET (a few times). `build` returns undefined when nothing needs writing. Returns false when
   * the Job is gone.
   */
  async patchJob(key: string, build: (cur: KObj) => object | undefined): Promise<boolean> {
    const [namespace, name] = key.split('/') as [string, string];
    let cur: KObj | undefined = this.cfg.jobs.items.get(key);
    for (let i = 0; i < 5; i++) {
      if (!cur) return false;
      const body = build(cur);
      if (!body) return true;
      try {
        const res = await this.gate.run(() => this.batch.patchNamespacedJob({ namespace, name, body }, PATCH));
        this.stats.writes++;
        this.cfg.jobs.upsert(res as KObj);
        return true;
      } catch (e) {
        const code = (e as { code?: number }).code;
        if (code === 404) return false;
        if (code !== 409) throw e;
        this.stats.conflicts++;
        cur = (await this.gate.run(() => this.batch.readNamespacedJob({ namespace, name }))) as KObj;
      }
    }
    throw new Error(`${key}: still conflicting after 5 tries`);
  }

  /** No more Events after this (a stopping driver drops those still waiting). */
  close(): void {
    this.closed = true;
  }

  private closed = false;

  async event(o: KObj, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = o.metadata?.namespace ?? 'default';
    const now = new Date();
    try {
      await this.gate.idle();
      if (this.closed) return;
      await this.eventGate.run(async () => {
        if (this.closed) return;
        await this.core.createNamespacedEvent({
          namespace,
          body: {
            metadata: { generateName: `${o.metadata?.name}.`, namespace },
            involvedObject: { apiVersion: 'batch/v1', kind: 'Job', name: o.metadata?.name ?? '', namespace, uid: o.metadata?.uid ?? '' },
            reason,
            message,
            type,
            source: { component: 'rondo' },
            reportingComponent: 'rondo.dev/scheduler',
            reportingInstance: this.cfg.identity ?? 'rondo',
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        });
        this.stats.events++;
      });
    } catch (e) {
      this.cfg.log(`event on ${jobKey(o)}: ${(e as Error).message}`);
    }
  }
}
