/**
 * The live server's policy on a worker thread (`PolicyThread`): a policy over 10,000 jobs takes tens to hundreds of
 * milliseconds (the LP and the work around it), which on the server's event loop would hold up every request that
 * arrives meanwhile. Policies are pure functions of their snapshot, so the thread computes exactly what the main
 * thread would; snapshot, allocation and the policy's opaque state (plain data and Maps) cross by structured clone.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { RondoError, type RondoErrorInit } from '../../model/errors.js';
import type { Allocation } from '../../model/index.js';
import type { PolicyResult, PolicySnapshot } from '../../policies/types.js';
import { loadPolicy } from './policy-source.js';
import type { TenantTree } from '../../model/tenants.js';
import type { TenantFigures } from './tenant-figures.js';
import { TreePolicy, type LiveTenants } from './tenants.js';

/** A policy's result, with its allocation as the store records it with each round (`allocationJson`). */
export type ThreadResult = PolicyResult & { readonly allocationJson: string };

/** An allocation as the rounds table holds it: shares by row key. */
export function allocationJson(a: Allocation | undefined): string {
  return JSON.stringify({
    gpuTypes: a?.gpuTypes ?? [],
    shares: Object.fromEntries([...(a?.shares ?? new Map<string, readonly number[]>())].map(([k, v]) => [k, [...v]])),
  });
}

// A tree message (`rondo serve --tenants`, reloaded) applies to every snapshot posted after it.
type Request = { id: number; snapshot: PolicySnapshot } | { tree: TenantTree };
type Reply =
  | { id: number; ok: true; result: ThreadResult; figures?: TenantFigures }
  | { id: number; ok: false; rondo?: RondoErrorInit; message: string; stack?: string };

/** The compiled thread entry (this file); a .ts file when running from TypeScript sources (tests under vitest). */
const ENTRY = fileURLToPath(import.meta.url);

export class PolicyThread {
  private readonly worker: Worker;
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (r: ThreadResult) => void; reject: (e: unknown) => void }>();
  private failed: Error | undefined;

  private constructor(policy: string, tenants?: LiveTenants) {
    this.worker = new Worker(ENTRY, { workerData: { policy, ...(tenants ? { tree: tenants.tree } : {}) } });
    tenants?.onChange((tree) => this.worker.postMessage({ tree } satisfies Request));
    // A server that stops does not wait for its policy thread.
    this.worker.unref();
    this.worker.on('message', (m: Reply) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok && m.figures) tenants?.record(m.figures);
      if (m.ok) w.resolve(m.result);
      else if (m.rondo) w.reject(new RondoError(m.rondo));
      else w.reject(Object.assign(new Error(m.message), m.stack ? { stack: m.stack } : {}));
    });
    const fail = (e: Error): void => {
      this.failed ??= e;
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the policy thread exited (code ${code})`)));
  }

  /** A thread for `policy`, or undefined where it cannot run (from TypeScript sources): compute in-process then. */
  static start(policy: string, tenants?: LiveTenants): PolicyThread | undefined {
    return ENTRY.endsWith('.js') && existsSync(ENTRY) ? new PolicyThread(policy, tenants) : undefined;
  }

  /** The policy's allocation for `snapshot`, and that allocation encoded for the store (off the main thread too). */
  allocate(snapshot: PolicySnapshot): Promise<ThreadResult> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, snapshot } satisfies Request);
    });
  }

  async close(): Promise<void> {
    this.failed ??= new Error('the policy thread was closed');
    await this.worker.terminate();
  }
}

function errorReply(id: number, e: unknown): Reply {
  if (e instanceof RondoError) {
    const init: RondoErrorInit = { code: e.code, problem: e.problem };
    if (e.expected !== undefined) init.expected = e.expected;
    if (e.found !== undefined) init.found = e.found;
    if (e.hint !== undefined) init.hint = e.hint;
    return { id, ok: false, message: e.message, rondo: init };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { id, ok: false, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
}

if (!isMainThread && parentPort && typeof (workerData as { policy?: unknown } | null)?.policy === 'string') {
  const port = parentPort;
  const data = workerData as { policy: string; tree?: TenantTree };
  const policy = await loadPolicy(data.policy);
  const host = data.tree ? new TreePolicy(policy.name, data.tree) : undefined;
  // Requests posted while the policy loaded wait in the port's queue until this listener starts it.
  port.on('message', (m: Request) => {
    if ('tree' in m) {
      host?.setTree(m.tree);
      return;
    }
    let reply: Reply;
    try {
      let figures: TenantFigures | undefined;
      let r: PolicyResult;
      if (host) ({ figures, ...r } = host.allocate(m.snapshot));
      else r = policy.allocate(m.snapshot);
      const json = allocationJson(r.allocation);
      const result: ThreadResult = r.state === undefined ? { allocation: r.allocation, allocationJson: json } : { allocation: r.allocation, state: r.state, allocationJson: json };
      reply = figures ? { id: m.id, ok: true, result, figures } : { id: m.id, ok: true, result };
    } catch (e) {
      reply = errorReply(m.id, e);
    }
    port.postMessage(reply);
  });
}
