/**
 * A fake Kubernetes API server for tests: node:http on 127.0.0.1, the real wire protocol for what Rondo uses.
 * Discovery (/api, /apis, /version), list and watch with resourceVersion (a watch from a version older than the
 * retained history gets an ERROR event with a 410 Status, as the real server sends it), GET, POST, PUT and
 * merge-PATCH with optimistic concurrency (409 on a stale metadata.resourceVersion), DELETE, the /status
 * subresource (a main-resource write keeps the stored status; a /status write keeps everything else), label
 * selectors, a Content-Type on every response, and the Job validation of KEP-2926: a pod template's scheduling
 * directives may change only while the Job is suspended and has never started, the rest of it never (422).
 * Two custom resources as their CRDs define them, each optional (`crds`): JobSet (jobset.x-k8s.io/v1alpha2) and
 * Kubeflow PyTorchJob (kubeflow.org/v1), with their webhooks' rule that pod templates change only in scheduling
 * directives and only while suspended; a group whose CRD is not installed is absent from discovery and 404s.
 * In-process controllers (fake-cluster.ts) use `mutate`/`subscribe` directly; faults can be injected per request.
 * Over 500 lines because the object store, its history and the HTTP routes share one versioning rule; split, each
 * half would have to expose the other's internals.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are JSON of many kinds; fields are checked where read. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

export type Obj = { apiVersion?: string; kind?: string; metadata: Meta; spec?: any; status?: any; [k: string]: any };
export interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  generateName?: string;
  [k: string]: unknown;
}

interface Kind {
  readonly group: string; // '' for core
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly status: boolean;
}

export const KINDS: readonly Kind[] = [
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, status: true },
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, status: true },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, status: true },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true, status: false },
  { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, status: false },
  { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true, status: true },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true, status: false },
];

/** Custom resources the fake can serve (as if their CRDs were installed). */
export const CRD_KINDS: readonly Kind[] = [
  { group: 'jobset.x-k8s.io', version: 'v1alpha2', plural: 'jobsets', kind: 'JobSet', namespaced: true, status: true },
  { group: 'kubeflow.org', version: 'v1', plural: 'pytorchjobs', kind: 'PyTorchJob', namespaced: true, status: true },
];

export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface Change {
  readonly type: WatchType;
  readonly plural: string;
  readonly object: Obj;
  readonly rv: number;
}

/** A request the server saw (for tests that count writes and lists). */
export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly watch: boolean;
  readonly status: number;
  readonly body?: unknown;
  /** When it arrived (ms since the Unix epoch). */
  readonly at: number;
  /** A write that sets spec.suspend (an admission or a stop), kept also without bodies. */
  readonly suspend?: boolean;
  /** The `recordAnnotations` keys the write set (string values in its body's metadata), kept also without bodies. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** The `recordAnnotations` keys the object carried before a PATCH (which attempt a stop ends). */
  readonly priorAnnotations?: Readonly<Record<string, string>>;
}

/** A fault: the next `count` requests matching `match` get `status` instead of being served. */
interface Fault {
  match: (method: string, path: string) => boolean;
  status: number;
  count: number;
}

const clone = <T>(x: T): T => structuredClone(x);

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Kubernetes label selector (equality and set-based): `a=b,c!=d,e,!f,g in (x,y),h notin (z)`. */
export function parseSelector(sel: string): (labels: Record<string, string> | undefined) => boolean {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of sel) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') parts.push(cur);
  const tests = parts.map((raw) => {
    const p = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p))) {
      const key = m[1]!;
      const vals = new Set(m[3]!.split(',').map((v) => v.trim()));
      const neg = m[2] === 'notin';
      return (l: Record<string, string>) => (neg ? !(key in l) || !vals.has(l[key]!) : key in l && vals.has(l[key]!));
    }
    if ((m = /^([^!=\s]+)\s*!=\s*(\S*)$/.exec(p))) {
      const [, k, v] = m;
      return (l: Record<string, string>) => l[k!] !== v;
    }
    if ((m = /^([^!=\s]+)\s*==?\s*(\S*)$/.exec(p))) {
      const [, k, v] = m;
      return (l: Record<string, string>) => l[k!] === v;
    }
    if ((m = /^!(\S+)$/.exec(p))) {
      const k = m[1]!;
      return (l: Record<string, string>) => !(k in l);
    }
    if (/^[A-Za-z0-9./_-]+$/.test(p)) return (l: Record<string, string>) => p in l;
    throw new Error(`bad label selector ${JSON.stringify(sel)}`);
  });
  return (labels) => tests.every((t) => t(labels ?? {}));
}

/** Pod template fields that KEP-2926 lets change while a Job is suspended and has never started. */
function withoutSchedulingDirectives(tpl: any): string {
  const t = clone(tpl ?? {});
  if (t.metadata) {
    delete t.metadata.labels;
    delete t.metadata.annotations;
    // An empty ObjectMeta is the same as none.
    if (Object.keys(t.metadata).length === 0) delete t.metadata;
  }
  if (t.spec) {
    delete t.spec.nodeSelector;
    delete t.spec.affinity;
    delete t.spec.tolerations;
    delete t.spec.schedulingGates;
  }
  return JSON.stringify(t);
}

export class FakeApiServer {
  private readonly server: Server;
  /** Built-in kinds and the CRDs installed. */
  private readonly kinds: readonly Kind[];
  private readonly objects: Map<string, Map<string, Obj>>;
  private rv = 1;
  /** Retained change history (for watches from a resourceVersion); older versions get 410. */
  private history: Change[] = [];
  private oldestRetained = 1;
  private readonly watchers = new Set<{ plural: string; ns: string | undefined; sel: (l: Record<string, string> | undefined) => boolean; res: ServerResponse }>();
  private readonly subscribers = new Set<(c: Change) => void>();
  private readonly faults: Fault[] = [];
  readonly seen: Seen[] = [];
  /** Whether `seen` keeps request bodies (a large benchmark turns it off to keep its memory flat). */
  keepBodies = true;
  /** Annotation keys `seen` records per write, with and without bodies (a benchmark attributes writes by them). */
  recordAnnotations: readonly string[] = [];
  /** How many history entries to keep (small values make 410s likely). */
  historyLimit = 10_000;
  url = '';

  /** `crds`: plurals of the custom resources installed (default both: jobsets, pytorchjobs). */
  constructor(opts: { crds?: readonly string[] } = {}) {
    const crds = opts.crds ?? CRD_KINDS.map((k) => k.plural);
    this.kinds = [...KINDS, ...CRD_KINDS.filter((k) => crds.includes(k.plural))];
    this.objects = new Map(this.kinds.map((k) => [k.plural, new Map()]));
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        try {
          this.handle(req, res, body);
        } catch (e) {
          this.send(res, 500, status(500, 'InternalError', (e as Error).message));
        }
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.dropWatches();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** A kubeconfig (YAML is a superset of JSON) pointing at this server. */
  kubeconfig(): string {
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node refuses plain HTTP unless TLS verification is off (as for `kubectl proxy`).
      clusters: [{ name: 'fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'fake', user: { token: 'fake-token' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    });
  }

  // ---- fault injection ----

  /** The next `count` requests matching get `status` (409, 410, 500, ...). */
  inject(match: (method: string, path: string) => boolean, status: number, count = 1): void {
    this.faults.push({ match, status, count });
  }

  /** Closes every open watch connection (clients must re-establish them). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
  }

  /** Forgets all history: every watch resumed from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.history = [];
    this.oldestRetained = this.rv + 1;
  }

  /** Whether a resource is served (a CRD's plural only when installed). */
  serves(plural: string): boolean {
    return this.objects.has(plural);
  }

  get watchCount(): number {
    return this.watchers.size;
  }

  // ---- direct access for in-process controllers ----

  subscribe(fn: (c: Change) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  list(plural: string, ns?: string): Obj[] {
    const m = this.objects.get(plural)!;
    return [...m.values()].filter((o) => ns === undefined || o.metadata.namespace === ns).map(clone);
  }

  /** The stored objects themselves, not copies: for in-process controllers that only read (large fakes). */
  peek(plural: string): Obj[] {
    return [...this.objects.get(plural)!.values()];
  }

  get(plural: string, ns: string | undefined, name: string): Obj | undefined {
    const o = this.objects.get(plural)!.get(key(ns, name));
    return o ? clone(o) : undefined;
  }

  /** Creates an object as a client would (defaults, uid, version). Throws on a duplicate. */
  create(plural: string, obj: Obj): Obj {
    const kind = this.kindOf(plural);
    const m = this.objects.get(plural)!;
    const o = clone(obj);
    if (!o.metadata.name && o.metadata.generateName) o.metadata.name = o.metadata.generateName + randomUUID().slice(0, 5);
    if (!kind.namespaced) delete o.metadata.namespace;
    if (m.has(key(o.metadata.namespace, o.metadata.name))) throw new HttpStatus(409, 'AlreadyExists', `${plural} "${o.metadata.name}" already exists`);
    o.apiVersion = kind.group ? `${kind.group}/${kind.version}` : kind.version;
    o.kind = kind.kind;
    o.metadata.uid = randomUUID();
    o.metadata.creationTimestamp = new Date().toISOString();
    o.metadata.generation = 1;
    if (plural === 'jobs') {
      o.spec = { suspend: false, parallelism: 1, completions: 1, backoffLimit: 6, ...o.spec };
      o.status = {};
    }
    if (plural === 'pods') o.status = { phase: 'Pending', ...o.status };
    this.commit(plural, 'ADDED', o);
    return clone(o);
  }

  /**
   * Writes a new version of an object (the caller's copy, changed). With `checkRv` a stale resourceVersion is a
   * 409. `subresource` 'status' keeps the stored spec and metadata; a main write keeps the stored status.
   */
  update(plural: string, obj: Obj, opts: { checkRv?: boolean; subresource?: 'status' } = {}): Obj {
    const kind = this.kindOf(plural);
    const m = this.objects.get(plural)!;
    const old = m.get(key(kind.namespaced ? obj.metadata.namespace : undefined, obj.metadata.name));
    if (!old) throw new HttpStatus(404, 'NotFound', `${plural} "${obj.metadata.name}" not found`);
    if (opts.checkRv && obj.metadata.resourceVersion !== undefined && obj.metadata.resourceVersion !== old.metadata.resourceVersion) {
      throw new HttpStatus(409, 'Conflict', `Operation cannot be fulfilled on ${plural} "${obj.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    let next: Obj;
    if (opts.subresource === 'status') next = { ...clone(old), status: clone(obj.status) };
    else {
      next = { ...clone(obj), metadata: { ...clone(obj.metadata), uid: old.metadata.uid!, creationTimestamp: old.metadata.creationTimestamp! } };
      if (kind.status) next.status = clone(old.status);
      if (plural === 'jobs') validateJobUpdate(old, next);
      if (plural === 'jobsets' || plural === 'pytorchjobs') validateGangUpdate(kind.kind, old, next);
      if (JSON.stringify(old.spec) !== JSON.stringify(next.spec)) next.metadata.generation = (old.metadata.generation ?? 1) + 1;
    }
    this.commit(plural, 'MODIFIED', next);
    return clone(next);
  }

  /** Removes an object (the caller decides about grace; the fake kubelet deletes pods only once they stopped). */
  remove(plural: string, ns: string | undefined, name: string): Obj | undefined {
    const m = this.objects.get(plural)!;
    const k = key(this.kindOf(plural).namespaced ? ns : undefined, name);
    const old = m.get(k);
    if (!old) return undefined;
    m.delete(k);
    this.commit(plural, 'DELETED', old, true);
    return clone(old);
  }

  /** Applies a change through `fn` with retries on conflicts (for in-process controllers). */
  mutate(plural: string, ns: string | undefined, name: string, fn: (o: Obj) => void, subresource?: 'status'): Obj | undefined {
    const cur = this.get(plural, ns, name);
    if (!cur) return undefined;
    fn(cur);
    return this.update(plural, cur, subresource ? { subresource } : {});
  }

  private kindOf(plural: string): Kind {
    const k = this.kinds.find((x) => x.plural === plural);
    if (!k) throw new Error(`unknown resource ${plural}`);
    return k;
  }

  private commit(plural: string, type: WatchType, o: Obj, deleted = false): void {
    const rv = ++this.rv;
    o.metadata.resourceVersion = String(rv);
    if (!deleted) this.objects.get(plural)!.set(key(o.metadata.namespace, o.metadata.name), o);
    const c: Change = { type, plural, object: clone(o), rv };
    this.history.push(c);
    if (this.history.length > this.historyLimit) {
      const drop = this.history.length - this.historyLimit;
      this.oldestRetained = this.history[drop - 1]!.rv + 1;
      this.history.splice(0, drop);
    }
    for (const w of this.watchers) {
      if (w.plural === plural && (w.ns === undefined || w.ns === o.metadata.namespace) && w.sel(o.metadata.labels)) {
        w.res.write(JSON.stringify({ type, object: c.object }) + '\n');
      }
    }
    for (const s of this.subscribers) s(c);
  }

  // ---- HTTP ----

  private send(res: ServerResponse, code: number, body: unknown): void {
    if (res.headersSent) return;
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    const isWatch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const record = (s: number, b?: unknown, prior?: Obj): void => {
      const suspend = (b as { spec?: { suspend?: unknown } } | undefined)?.spec?.suspend;
      const annotations = this.pick((b as Obj | undefined)?.metadata?.annotations);
      const priorAnnotations = this.pick(prior?.metadata.annotations);
      this.seen.push({
        method,
        path,
        watch: isWatch,
        status: s,
        at: Date.now(),
        ...(b !== undefined && this.keepBodies ? { body: b } : {}),
        ...(typeof suspend === 'boolean' ? { suspend } : {}),
        ...(annotations ? { annotations } : {}),
        ...(priorAnnotations ? { priorAnnotations } : {}),
      });
    };
    const fault = this.faults.find((f) => f.count > 0 && f.match(method, path));
    if (fault) {
      fault.count--;
      record(fault.status);
      const reason = fault.status === 409 ? 'Conflict' : fault.status === 410 ? 'Gone' : 'InternalError';
      return this.send(res, fault.status, status(fault.status, reason, `injected ${fault.status}`));
    }
    if (path === '/version') return this.send(res, 200, { major: '1', minor: '30', gitVersion: 'v1.30.0-fake' });
    if (path === '/api') return this.send(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    if (path === '/apis') {
      const groups = [...new Set(this.kinds.filter((k) => k.group).map((k) => k.group))].map((g) => {
        const v = this.kinds.find((k) => k.group === g)!.version;
        return { name: g, versions: [{ groupVersion: `${g}/${v}`, version: v }], preferredVersion: { groupVersion: `${g}/${v}`, version: v } };
      });
      return this.send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups });
    }
    const route = parsePath(this.kinds, path);
    if (!route) {
      record(404);
      return this.send(res, 404, status(404, 'NotFound', `the server could not find the requested resource (${path})`));
    }
    if (route.resourceList) {
      const ks = this.kinds.filter((k) => k.group === route.group && k.version === route.version);
      return this.send(res, 200, {
        kind: 'APIResourceList',
        groupVersion: route.group ? `${route.group}/${route.version}` : route.version,
        resources: ks.flatMap((k) => [
          { name: k.plural, singularName: k.kind.toLowerCase(), namespaced: k.namespaced, kind: k.kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] },
          ...(k.status ? [{ name: `${k.plural}/status`, singularName: '', namespaced: k.namespaced, kind: k.kind, verbs: ['get', 'patch', 'update'] }] : []),
        ]),
      });
    }
    const kind = route.kind;
    try {
      if (method === 'GET' && route.name === undefined) {
        const sel = parseSelector(url.searchParams.get('labelSelector') ?? '');
        if (isWatch) {
          record(200);
          return this.watch(res, kind.plural, route.ns, sel, url.searchParams.get('resourceVersion'));
        }
        record(200);
        const items = [...this.objects.get(kind.plural)!.values()].filter((o) => (route.ns === undefined || o.metadata.namespace === route.ns) && sel(o.metadata.labels));
        return this.send(res, 200, { apiVersion: kind.group ? `${kind.group}/${kind.version}` : 'v1', kind: `${kind.kind}List`, metadata: { resourceVersion: String(this.rv) }, items });
      }
      if (method === 'GET') {
        const o = this.get(kind.plural, route.ns, route.name!);
        if (!o) throw new HttpStatus(404, 'NotFound', `${kind.plural} "${route.name}" not found`);
        record(200);
        return this.send(res, 200, o);
      }
      const parsed = body ? (JSON.parse(body) as Obj) : undefined;
      if (method === 'POST' && route.name === undefined) {
        if (!parsed?.metadata) throw new HttpStatus(422, 'Invalid', 'metadata is required');
        if (kind.namespaced) {
          if (parsed.metadata.namespace && parsed.metadata.namespace !== route.ns) throw new HttpStatus(400, 'BadRequest', 'the namespace of the object does not match the namespace on the request');
          parsed.metadata.namespace = route.ns;
        }
        const o = this.create(kind.plural, parsed);
        record(201, parsed);
        return this.send(res, 201, o);
      }
      if (method === 'PUT' && route.name !== undefined) {
        if (!parsed?.metadata || parsed.metadata.name !== route.name) throw new HttpStatus(400, 'BadRequest', 'the name of the object does not match the name on the URL');
        if (kind.namespaced) parsed.metadata.namespace = route.ns;
        // A PUT without a resourceVersion is an unconditional update, as in Kubernetes.
        const o = this.update(kind.plural, parsed, { checkRv: true, ...(route.sub === 'status' ? { subresource: 'status' as const } : {}) });
        record(200, parsed);
        return this.send(res, 200, o);
      }
      if (method === 'PATCH' && route.name !== undefined) {
        const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
        if (ct !== 'application/merge-patch+json') {
          record(415);
          return this.send(res, 415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json (got ${ct || 'none'})`));
        }
        const cur = this.get(kind.plural, route.ns, route.name);
        if (!cur) throw new HttpStatus(404, 'NotFound', `${kind.plural} "${route.name}" not found`);
        const patched = mergePatch(cur, parsed) as Obj;
        // A resourceVersion in the patch is a precondition: a stale one is a conflict.
        const checkRv = parsed?.metadata?.resourceVersion !== undefined;
        const o = this.update(kind.plural, patched, { checkRv, ...(route.sub === 'status' ? { subresource: 'status' as const } : {}) });
        record(200, parsed, cur);
        return this.send(res, 200, o);
      }
      if (method === 'DELETE' && route.name !== undefined) {
        const o = this.remove(kind.plural, route.ns, route.name);
        if (!o) throw new HttpStatus(404, 'NotFound', `${kind.plural} "${route.name}" not found`);
        record(200);
        return this.send(res, 200, status(200, '', 'deleted', 'Success'));
      }
      record(405);
      return this.send(res, 405, status(405, 'MethodNotAllowed', `${method} is not supported on ${path}`));
    } catch (e) {
      if (e instanceof HttpStatus) {
        record(e.code);
        return this.send(res, e.code, status(e.code, e.reason, e.message));
      }
      if (e instanceof SyntaxError) {
        record(400);
        return this.send(res, 400, status(400, 'BadRequest', `invalid JSON: ${e.message}`));
      }
      throw e;
    }
  }

  /** The `recordAnnotations` keys of an annotation map that hold strings; undefined when none. */
  private pick(ann: unknown): Record<string, string> | undefined {
    if (this.recordAnnotations.length === 0 || ann === null || typeof ann !== 'object') return undefined;
    const out: Record<string, string> = {};
    for (const k of this.recordAnnotations) {
      const v = (ann as Record<string, unknown>)[k];
      if (typeof v === 'string') out[k] = v;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }

  private watch(res: ServerResponse, plural: string, ns: string | undefined, sel: (l: Record<string, string> | undefined) => boolean, rvParam: string | null): void {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    // Headers go out at once, as the real server sends them, before any event.
    res.flushHeaders();
    const matches = (o: Obj): boolean => (ns === undefined || o.metadata.namespace === ns) && sel(o.metadata.labels);
    if (rvParam === null || rvParam === '' || rvParam === '0') {
      // No version: the current state as ADDED events, then changes.
      for (const o of this.objects.get(plural)!.values()) if (matches(o)) res.write(JSON.stringify({ type: 'ADDED', object: o }) + '\n');
    } else {
      const from = Number(rvParam);
      if (!Number.isInteger(from) || from + 1 < this.oldestRetained) {
        res.write(JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${rvParam} (${this.oldestRetained - 1})`) }) + '\n');
        res.end();
        return;
      }
      for (const c of this.history) if (c.rv > from && c.plural === plural && matches(c.object)) res.write(JSON.stringify({ type: c.type, object: c.object }) + '\n');
    }
    const w = { plural, ns, sel, res };
    this.watchers.add(w);
    // The response's 'close' (not the request's, which fires once its body is read) marks a closed watch.
    res.on('close', () => this.watchers.delete(w));
  }
}

export class HttpStatus extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function status(code: number, reason: string, message: string, st: 'Failure' | 'Success' = 'Failure'): Obj {
  return { apiVersion: 'v1', kind: 'Status', metadata: { name: '' }, status: st, message, reason, code } as unknown as Obj;
}

function key(ns: string | undefined, name: string): string {
  return `${ns ?? ''}/${name}`;
}

/**
 * JobSet's and the training operator's webhooks: a pod template changes only in its scheduling directives, and only
 * while the workload is suspended (no startTime rule: that one is batch/v1's, KEP-2926).
 */
function validateGangUpdate(kind: string, old: Obj, next: Obj): void {
  const templates = (o: Obj): any[] =>
    kind === 'JobSet' ? (o.spec?.replicatedJobs ?? []).map((r: any) => r?.template?.spec?.template) : Object.keys(o.spec?.pytorchReplicaSpecs ?? {}).sort().map((k) => o.spec.pytorchReplicaSpecs[k]?.template);
  const a = templates(old);
  const b = templates(next);
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  const was = kind === 'JobSet' ? old.spec?.suspend === true : old.spec?.runPolicy?.suspend === true;
  if (a.length !== b.length || a.some((t, i) => withoutSchedulingDirectives(t) !== withoutSchedulingDirectives(b[i])) || !was) {
    throw new HttpStatus(422, 'Invalid', `${kind} "${old.metadata.name}" is invalid: pod templates: field is immutable (scheduling directives may change only while it is suspended)`);
  }
}

/** KEP-2926 and the immutable parts of a Job, as the real validation checks them. */
function validateJobUpdate(old: Obj, next: Obj): void {
  const a = old.spec?.template;
  const b = next.spec?.template;
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  const field = 'spec.template';
  if (withoutSchedulingDirectives(a) !== withoutSchedulingDirectives(b)) {
    throw new HttpStatus(422, 'Invalid', `Job.batch "${old.metadata.name}" is invalid: ${field}: Invalid value: field is immutable`);
  }
  if (!(old.spec?.suspend === true && !old.status?.startTime)) {
    throw new HttpStatus(422, 'Invalid', `Job.batch "${old.metadata.name}" is invalid: ${field}: Invalid value: field is immutable (scheduling directives may change only while the Job is suspended and has never started)`);
  }
}

interface Route {
  group: string;
  version: string;
  kind: Kind;
  ns: string | undefined;
  name: string | undefined;
  sub: string | undefined;
  resourceList?: false;
}

function parsePath(KINDS: readonly Kind[], path: string): Route | { resourceList: true; group: string; version: string } | undefined {
  const seg = path.split('/').filter(Boolean);
  let group: string;
  let version: string;
  let rest: string[];
  if (seg[0] === 'api' && seg.length >= 2) {
    group = '';
    version = seg[1]!;
    rest = seg.slice(2);
  } else if (seg[0] === 'apis' && seg.length >= 3) {
    group = seg[1]!;
    version = seg[2]!;
    rest = seg.slice(3);
  } else return undefined;
  if (rest.length === 0) return KINDS.some((k) => k.group === group && k.version === version) ? { resourceList: true, group, version } : undefined;
  let ns: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    ns = rest[1];
    rest = rest.slice(2);
  }
  const kind = KINDS.find((k) => k.group === group && k.version === version && k.plural === rest[0]);
  if (!kind) return undefined;
  if (kind.namespaced === false && ns !== undefined) return undefined;
  const name = rest[1];
  const sub = rest[2];
  if (rest.length > 3 || (sub !== undefined && (sub !== 'status' || !kind.status))) return undefined;
  return { group, version, kind, ns, name, sub };
}
