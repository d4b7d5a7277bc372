/**
 * A list-then-watch cache of one resource (what client-go calls a reflector): one LIST, then a WATCH from the
 * list's resourceVersion; a closed watch is re-established from the last version seen, and a 410 Gone (history
 * compacted) costs one new LIST. Between those, nothing is listed again: the driver reads the cache every pass.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are JSON of many kinds; the driver checks each field where it reads it. */
import { Watch, type KubeConfig } from '@kubernetes/client-node';

export interface KObj {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: any;
}

export interface ReflectorStats {
  lists: number;
  watches: number;
  relistsAfterGone: number;
  events: number;
}

export interface KList {
  metadata?: { resourceVersion?: string };
  items: KObj[];
}

/** What the driver's writes need of a cache: its objects by key, and a way to put a written object in at once. */
export interface ObjectCache {
  readonly items: ReadonlyMap<string, KObj>;
  upsert(o: KObj): void;
}

export class Reflector<T extends KObj> {
  readonly items: Map<string, T>;
  readonly stats: ReflectorStats = { lists: 0, watches: 0, relistsAfterGone: 0, events: 0 };
  private rv = '';
  private stopped = false;
  private abort: AbortController | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private synced = false;
  private readonly syncWaiters: Array<() => void> = [];

  constructor(
    private readonly kc: KubeConfig,
    /** Watch path, e.g. /apis/batch/v1/jobs or /apis/batch/v1/namespaces/x/jobs. */
    private readonly path: string,
    private readonly list: () => Promise<{ metadata?: { resourceVersion?: string }; items: T[] }>,
    private readonly opts: {
      labelSelector?: string;
      onChange?: (type: string, obj: T) => void;
      log?: (m: string) => void;
      retryMs?: number;
      /**
       * A map shared with other reflectors (one cache of several workload kinds), with the key of an object and which
       * objects are this reflector's (a relist forgets only its own).
       */
      shared?: { readonly items: Map<string, T>; readonly keyOf: (o: KObj) => string; readonly owns: (o: T) => boolean };
    } = {},
  ) {
    this.items = opts.shared?.items ?? new Map<string, T>();
    this.key = opts.shared?.keyOf ?? Reflector.key;
  }

  private readonly key: (o: KObj) => string;

  static key(o: KObj): string {
    return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves after the first LIST. */
  waitSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  start(): void {
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.abort?.abort();
  }

  /** Puts an object we wrote into the cache at once (the watch event follows and is idempotent). */
  upsert(o: T): void {
    const k = this.key(o);
    const cur = this.items.get(k);
    if (cur && Number(cur.metadata?.resourceVersion) > Number(o.metadata?.resourceVersion)) return;
    this.items.set(k, o);
  }

  private later(fn: () => void): void {
    if (this.stopped) return;
    this.retryTimer = setTimeout(fn, this.opts.retryMs ?? 500);
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    try {
      this.stats.lists++;
      const res = await this.list();
      const seen = new Set<string>();
      for (const o of res.items) {
        const k = this.key(o);
        seen.add(k);
        this.items.set(k, o);
        this.opts.onChange?.('ADDED', o);
      }
      for (const [k, o] of this.items) {
        if (!seen.has(k) && (this.opts.shared?.owns(o) ?? true)) {
          this.items.delete(k);
          this.opts.onChange?.('DELETED', o);
        }
      }
      this.rv = res.metadata?.resourceVersion ?? '';
      if (!this.synced) {
        this.synced = true;
        for (const w of this.syncWaiters.splice(0)) w();
      }
      void this.watch();
    } catch (e) {
      this.opts.log?.(`list ${this.path} failed: ${(e as Error).message}; retrying`);
      this.later(() => void this.relist());
    }
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    this.stats.watches++;
    let gone = false;
    const w = new Watch(this.kc);
    const params: Record<string, string | boolean> = { allowWatchBookmarks: true, resourceVersion: this.rv };
    if (this.opts.labelSelector) params.labelSelector = this.opts.labelSelector;
    this.abort = await w.watch(
      this.path,
      params,
      (type: string, obj: any) => {
        if (type === 'ERROR') {
          if (obj?.code === 410) gone = true;
          return;
        }
        const rv = obj?.metadata?.resourceVersion as string | undefined;
        if (rv) this.rv = rv;
        if (type === 'BOOKMARK') return;
        this.stats.events++;
        const o = obj as T;
        const k = this.key(o);
        if (type === 'DELETED') this.items.delete(k);
        else this.items.set(k, o);
        this.opts.onChange?.(type, o);
      },
      (err: any) => {
        if (this.stopped) return;
        if (gone || err?.statusCode === 410) {
          this.stats.relistsAfterGone++;
          this.opts.log?.(`watch ${this.path}: 410 Gone, listing again`);
          this.later(() => void this.relist());
        } else {
          if (err) this.opts.log?.(`watch ${this.path} closed: ${(err as Error).message ?? err}; re-establishing`);
          this.later(() => void this.watch());
        }
      },
    );
  }
}
