/**
 * Every write the Kubernetes driver makes, in one place: merge patches on Jobs guarded by resourceVersion (retried
 * on a fresh GET after a 409), the /status patch that clears startTime, the per-Job Secret with the job's API token,
 * and Events. Each write puts its result into the Job cache at once, so the next pass sees it before the watch does.
 */
import { BatchV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { KObj, ObjectCache } from './reflector.js';
import { kindOf, splitKey } from './kinds/index.js';
import { jobKey, secretName, wantsSecret } from './objects.js';
import type { Timeline } from './timeline.js';
import { keepAliveClient } from './client.js';
import type { ChangeRate } from './change-budget.js';

/** The writes of a round's decisions: their time in flight is the busy time of the change rate (change-budget.ts). */
const DECISION_WRITES = new Set(['admit', 'clear', 'secret', 'stop']);
/** The writes that complete a change: an admission's Job patch, a stop's suspend. */
const CHANGE_WRITES = new Set(['admit', 'stop']);

const PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The apiVersion and kind an Event or an ownerReference names the workload by. */
function involved(o: KObj): { apiVersion: string; kind: string } {
  const k = kindOf(o);
  return { apiVersion: `${k.group}/${k.version}`, kind: k.kind };
}

/** Runs `fn` over `items` with at most `n` calls in flight. */
export async function pool<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, run));
}

/** Which writes go first: stops (the GPUs they free and the jobs they let move are what admissions wait for), then
 * admissions and the writes they need, then background writes. */
export type WritePriority = 'stop' | 'admit' | 'background';

/**
 * At most `n` urgent calls in flight and, beside them, at most `nb` background ones; the rest wait their turn, stops
 * before admissions, in order within each (as client-go's rate limiter keeps a controller polite). A background call
 * (an Event, an annotation, tidying a stopped Job) starts only while no urgent call waits, so it never delays a
 * round's admissions and stops.
 */
class Gate {
  private active = 0;
  private bgActive = 0;
  private readonly stops: Array<() => void> = [];
  private readonly urgent: Array<() => void> = [];
  private readonly background: Array<() => void> = [];
  constructor(
    private readonly n: number,
    private readonly nb: number,
  ) {}

  async run<T>(fn: () => Promise<T>, priority: WritePriority = 'admit'): Promise<T> {
    const background = priority === 'background';
    await new Promise<void>((r) => {
      (priority === 'stop' ? this.stops : background ? this.background : this.urgent).push(r);
      this.pump();
    });
    try {
      return await fn();
    } finally {
      if (background) this.bgActive--;
      else this.active--;
      this.pump();
    }
  }

  private pump(): void {
    while (this.stops.length + this.urgent.length > 0 && this.active < this.n) {
      this.active++;
      (this.stops.shift() ?? this.urgent.shift()!)();
    }
    while (this.stops.length + this.urgent.length === 0 && this.background.length > 0 && this.bgActive < this.nb) {
      this.bgActive++;
      this.background.shift()!();
    }
  }
}

/** How a write is marked on the driver's timeline, and whether it may wait behind urgent ones. */
export interface WriteTag {
  /** Timeline kind prefix (`admit`, `stop`, `restore`, ...). */
  readonly tag: string;
  readonly round?: number | undefined;
  /** Default `admit`. */
  readonly priority?: WritePriority;
  /** For an admission or a stop: when it was due (its lease's start or end), for the change budget's latency. */
  readonly dueAt?: number | undefined;
}

export interface WriterStats {
  writes: number;
  conflicts: number;
  events: number;
}

export class JobWriter {
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  /** JobSets and PyTorchJobs (CRDs) are read and patched through the generic custom-objects API. */
  private readonly custom: CustomObjectsApi;
  readonly stats: WriterStats = { writes: 0, conflicts: 0, events: 0 };
  /**
   * Requests to the API server in flight at once: thousands of writes in a round go out 32 at a time; Events and
   * other background writes a few at a time beside them, only while no urgent write waits (as client-go's event
   * recorder sends Events in the background): a round's decisions reach the cluster first, their explanations after.
   */
  private readonly gate = new Gate(32, 4);
  /** Secrets this driver created or updated: the next write to one is a patch, the first a create. */
  private readonly secrets = new Set<string>();

  constructor(
    kc: KubeConfig,
    private readonly cfg: {
      readonly jobs: ObjectCache;
      readonly jobServerUrl?: string | undefined;
      readonly identity: string;
      readonly log: (m: string) => void;
      readonly timeline?: Timeline;
      /** Measures the decision writes for the automatic change budget (change-budget.ts). */
      readonly rate?: ChangeRate | undefined;
    },
  ) {
    this.batch = keepAliveClient(kc, BatchV1Api);
    this.core = keepAliveClient(kc, CoreV1Api);
    this.custom = keepAliveClient(kc, CustomObjectsApi);
  }

  /** A merge patch of a workload of any kind (the cache key names the kind). */
  private patchWorkload(key: string, body: object): Promise<unknown> {
    const { kind, namespace, name } = splitKey(key);
    if (kind.id === 'job') return this.batch.patchNamespacedJob({ namespace, name, body }, PATCH);
    return this.custom.patchNamespacedCustomObject({ group: kind.group, version: kind.version, plural: kind.plural, namespace, name, body }, PATCH);
  }

  private readWorkload(key: string): Promise<unknown> {
    const { kind, namespace, name } = splitKey(key);
    if (kind.id === 'job') return this.batch.readNamespacedJob({ namespace, name });
    return this.custom.getNamespacedCustomObject({ group: kind.group, version: kind.version, plural: kind.plural, namespace, name });
  }

  /** The change rate a write counts toward: a decision write's (not a background one's). */
  private rateOf(t: WriteTag): ChangeRate | undefined {
    return t.priority !== 'background' && DECISION_WRITES.has(t.tag) ? this.cfg.rate : undefined;
  }

  /** Runs one request through the gate, marking on the timeline when it leaves the queue and when it is done. */
  private send<T>(t: WriteTag, fn: () => Promise<T>): Promise<T> {
    const queued = Date.now();
    const rate = this.rateOf(t);
    return this.gate.run(async () => {
      this.cfg.timeline?.mark(`${t.tag}.sent`, t.round, Date.now() - queued);
      const res = await (rate ? rate.measure(fn) : fn());
      this.cfg.timeline?.mark(`${t.tag}.done`, t.round);
      return res;
    }, t.priority);
  }

  /** `guard`: only on the version `o` was read at (a 409 otherwise), for writes that may race an admission. */
  async clearStartTime(o: KObj, t: WriteTag = { tag: 'clear' }, guard = false): Promise<void> {
    const [namespace, name] = jobKey(o).split('/') as [string, string];
    const body = { ...(guard ? { metadata: { resourceVersion: o.metadata?.resourceVersion } } : {}), status: { startTime: null } };
    const res = await this.send(t, () => this.batch.patchNamespacedJobStatus({ namespace, name, body }, PATCH));
    this.stats.writes++;
    this.cfg.jobs.upsert(res as KObj);
  }

  /** The Secret the pod template references (`<job>-rondo` through envFrom): the job's API token and server. */
  /**
   * One request in the common case: a create the first time (a patch after a 409, when it outlived a restart of the
   * driver), a patch after that (a create after a 404, when someone deleted it).
   */
  async writeSecret(o: KObj, a: { readonly id: number; readonly jobId: string; readonly token?: string | undefined; readonly round?: number | undefined }): Promise<void> {
    const name = secretName(o);
    if (!wantsSecret(o) || !a.token || !this.cfg.jobServerUrl) return;
    const namespace = o.metadata!.namespace!;
    const key = `${namespace}/${name}/${o.metadata!.uid}`;
    const stringData = { RONDO_SERVER: this.cfg.jobServerUrl, RONDO_TOKEN: a.token, RONDO_JOB_ID: a.jobId, RONDO_ATTEMPT: String(a.id) };
    const t: WriteTag = { tag: 'secret', round: a.round };
    const patch = (): Promise<unknown> => this.send(t, () => this.core.patchNamespacedSecret({ namespace, name, body: { stringData } }, PATCH));
    const create = (): Promise<unknown> =>
      this.send(t, () =>
        this.core.createNamespacedSecret({
          namespace,
          body: {
            metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'rondo' }, ownerReferences: [{ ...involved(o), name: o.metadata!.name!, uid: o.metadata!.uid!, controller: false }] },
            stringData,
            type: 'Opaque',
          },
        }),
      );
    const code = (e: unknown): number | undefined => (e as { code?: number }).code;
    if (this.secrets.has(key)) {
      try {
        await patch();
      } catch (e) {
        if (code(e) !== 404) throw e;
        await create();
      }
    } else {
      try {
        await create();
      } catch (e) {
        if (code(e) !== 409) throw e;
        await patch();
      }
      this.secrets.add(key);
    }
    this.stats.writes++;
  }

  /**
   * A merge patch computed from the cached Job and guarded by its resourceVersion; on 409 the patch is computed
   * again from a fresh GET (a few times). `build` returns undefined when nothing needs writing. Returns false when
   * the Job is gone.
   */
  async patchJob(key: string, build: (cur: KObj) => object | undefined, t: WriteTag = { tag: 'patch' }): Promise<boolean> {
    let cur: KObj | undefined = this.cfg.jobs.items.get(key);
    for (let i = 0; i < 5; i++) {
      if (!cur) return false;
      const body = build(cur);
      if (!body) return true;
      try {
        const res = await this.send(t, () => this.patchWorkload(key, body));
        this.stats.writes++;
        if (CHANGE_WRITES.has(t.tag)) this.rateOf(t)?.changed(t.dueAt);
        this.cfg.jobs.upsert(res as KObj);
        return true;
      } catch (e) {
        const code = (e as { code?: number }).code;
        if (code === 404) return false;
        if (code !== 409) throw e;
        this.stats.conflicts++;
        this.cfg.timeline?.mark('conflict', t.round);
        const rate = this.rateOf(t);
        // The re-read is part of the change's cost.
        cur = (await this.gate.run(() => (rate ? rate.measure(() => this.readWorkload(key)) : this.readWorkload(key)), t.priority)) as KObj;
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
      await this.gate.run(async () => {
        if (this.closed) return;
        this.cfg.timeline?.mark('event.sent');
        await this.core.createNamespacedEvent({
          namespace,
          body: {
            metadata: { generateName: `${o.metadata?.name}.`, namespace },
            involvedObject: { ...involved(o), name: o.metadata?.name ?? '', namespace, uid: o.metadata?.uid ?? '' },
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
      }, 'background');
    } catch (e) {
      this.cfg.log(`event on ${jobKey(o)}: ${(e as Error).message}`);
    }
  }
}
