/**
 * Process helpers for the isolation tests: find a job's processes by a marker in their command line, and a fake
 * server speaking the worker protocol, so a test decides exactly when a lease ends.
 */
import { readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { LeaseMessage, SyncEnded, SyncRequest } from '../../src/runtime/protocol.js';

/** Live (non-zombie) processes whose command line contains `marker`. */
export function procsWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) continue;
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(marker)) out.push(Number(name));
    } catch {
      // gone while listing
    }
  }
  return out;
}

export const isRoot = process.getuid?.() === 0;

/**
 * How soon a job's processes must be gone after kill -9 of its agent: pdeathsig acts in the kernel and the warden
 * wakes on its pipe's end, about 0.1 s idle; a loaded machine can delay the warden's wake-up by seconds. No later
 * agent or lease end comes within this, so it still tells "killed at once" from "left running".
 */
export const KILLED_AT_ONCE_MS = 5000;

/** Polls until no process carries `marker`; returns the ms it took from `since`. */
export async function goneWithin(marker: string, since: number, limitMs: number): Promise<number> {
  return (await watchGone(marker, since, limitMs)).ms;
}

/**
 * As goneWithin, also returning when the last scan that still found a process began: the processes were provably
 * alive at or after `lastAliveAt`, which a loaded machine cannot move later (the `ms` seen can lag the true end by a
 * poll and a slow scan of /proc).
 */
export async function watchGone(marker: string, since: number, limitMs: number): Promise<{ ms: number; lastAliveAt: number }> {
  let lastAliveAt = since;
  while (Date.now() - since < limitMs) {
    const scanAt = Date.now();
    if (procsWith(marker).length === 0) return { ms: Date.now() - since, lastAliveAt };
    lastAliveAt = scanAt;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`processes with ${marker} still alive ${limitMs} ms later: ${procsWith(marker).join(', ')}`);
}

export interface FakeLease {
  jobId: string;
  command: string[];
  cwd: string;
  checkpointDir: string;
  /** Absolute lease end (ms). */
  leaseEnd: number;
  tenant?: string;
  env?: Record<string, string>;
  stop?: boolean;
}

/** A stand-in for the server's worker endpoints: hands out the leases a test sets, records the ends reported. */
export class FakeServer {
  readonly leases = new Map<number, FakeLease>();
  readonly ended = new Map<number, SyncEnded & { receivedAt: number }>();
  readonly running = new Set<number>();
  url = '';
  private server: Server | undefined;

  constructor(readonly graceMs = 500) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.url === '/api/v1/workers') {
          res.end(JSON.stringify({ id: 'w-1', heartbeatMs: 100, graceMs: this.graceMs }));
          return;
        }
        const r = JSON.parse(body) as SyncRequest;
        const now = Date.now();
        for (const x of r.running) this.running.add(x.attempt);
        for (const e of r.ended) if (!this.ended.has(e.attempt)) this.ended.set(e.attempt, { ...e, receivedAt: now });
        const leases: LeaseMessage[] = [];
        for (const [attempt, l] of this.leases) {
          if (this.ended.has(attempt)) continue;
          leases.push({
            attempt,
            jobId: l.jobId,
            command: l.command,
            cwd: l.cwd,
            env: l.env ?? {},
            gpuType: 'v100',
            devices: [attempt % 2],
            startInMs: 0,
            leaseEndInMs: l.leaseEnd - now,
            leaseEnd: l.leaseEnd,
            checkpointDir: l.checkpointDir,
            ...(l.tenant ? { tenant: l.tenant } : {}),
            stop: l.stop ?? false,
          });
        }
        res.end(JSON.stringify({ leases, acked: r.ended.map((e) => e.attempt), heartbeatMs: 100, graceMs: this.graceMs }));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this.url;
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** Removes an emptied cgroup and the folders below it; true once it is gone. */
export function removeTree(dir: string): boolean {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
    rmdirSync(dir);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** A job that forks children ignoring SIGTERM (one in a new session when cgroups can catch it), then waits or exits. */
export function hostile(marker: string, opts: { setsid: boolean; mainExits: boolean }): string[] {
  const s = `sleep ${marker}`;
  const script = [
    'trap "" TERM',
    `${s} &`,
    `(${s}; :) &`,
    ...(opts.setsid ? [`setsid ${s} </dev/null >/dev/null 2>&1 &`] : []),
    'echo forked',
    opts.mainExits ? 'exit 0' : s,
  ].join('\n');
  return ['sh', '-c', script];
}

let markers = 0;

/** A unique `sleep` argument that names a test's processes in `/proc` (procsWith). */
export function marker(): string {
  return `3600.${process.pid}${++markers}${Math.floor(Math.random() * 1e6)}`;
}
