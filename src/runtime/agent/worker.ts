// Over 500 lines: one class, the agent's sync loop and the processes it starts, stops and streams logs from.
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { RondoError } from '../../model/errors.js';
import { ApiClient, HttpError } from '../client/http-client.js';
import { parseProgressLine, type LeaseMessage, type SyncEnded, type SyncLogs, type SyncProgress, type SyncRequest, type SyncResponse } from '../protocol.js';
import type { WorkerGpus } from '../protocol.js';
export { parseGpuSpec } from './gpu-spec.js';
import type { CgroupSupport } from './cgroup.js';
import { jobAlive, launchJob, releaseJob, SETPRIV, setupIsolation, signalJob, teardownCgroups, type JobGroup } from './launch.js';
import { jobEnvironment, mayExecute, prepareCheckpointDir, resolveIdentity, type JobIdentity, type RunAsMap } from './sandbox.js';
import type { Warden } from './warden.js';
import type { GroupRecord } from './leftovers.js';
import { machineIdentity } from './machine.js';

/**
 * The worker agent: registers its GPUs, syncs with the server every heartbeat, and runs each lease as a child
 * process (argv, never a shell) in its own process group and cgroup (launch.ts), under the tenant's Unix user
 * and with a clean environment (sandbox.ts). It enforces leases on its own clock: when a lease ends without an
 * extension the whole job gets SIGTERM, then SIGKILL after the grace period, even when the server is unreachable;
 * an attempt is reported ended only once none of its processes is left. A warden process kills the jobs if the
 * agent dies (warden.ts). So the server can hand a job to another worker once the old attempt is reported
 * over, or once its lease plus grace is over, without ever running it twice.
 */

export interface WorkerOptions {
  readonly server: string;
  readonly token: string;
  readonly gpus: readonly WorkerGpus[];
  readonly name?: string;
  /** The machine's stable identity (default: machine.ts); with the name, what makes a registration "the same worker". */
  readonly machine?: string;
  /** URL handed to jobs as RONDO_SERVER (default: `server`). */
  readonly jobServerUrl?: string;
  readonly log?: (msg: string) => void;
  /**
   * Kill a job's processes when the agent dies, even by kill -9: a warden process kills every job group and
   * cgroup when the agent is gone, and the main process also gets `setpriv --pdeathsig KILL` where setpriv exists.
   * Default: on.
   */
  readonly killOnAgentDeath?: boolean;
  /** Tenant -> Unix user for jobs (`--run-as`). An agent running as root maps unlisted tenants to `auto`. */
  readonly runAs?: RunAsMap;
  /** Names of agent environment variables jobs also get (`--pass-env`), beyond the allow-list. */
  readonly passEnv?: readonly string[];
  /** Put each job in its own cgroup v2 where the machine allows (default: on). */
  readonly cgroups?: boolean;
  /**
   * Folder for the record of the jobs' process groups that lets the next agent kill what a dead agent left
   * (leftovers.ts); default /run/rondo as root, else under $XDG_RUNTIME_DIR or the temporary directory.
   */
  readonly stateDir?: string;
}

/** Per-attempt cap on log lines waiting to be sent: a job that floods stdout while the server is down loses its oldest lines. */
const MAX_PENDING_LOG_LINES = 2000;
const MAX_LINE_CHARS = 8000;
const MAX_LOG_BYTES_PER_SYNC = 512 * 1024;

interface Proc {
  readonly lease: LeaseMessage;
  token: string | undefined;
  /** Local ms times. */
  startAt: number;
  deadline: number;
  child?: ChildProcess;
  pid?: number;
  group?: JobGroup;
  /** How the main process ended; the attempt ends once the rest of its processes are gone too. */
  exit?: { code: number | null; signal: NodeJS.Signals | null; at: number };
  /** stdout and stderr both closed. */
  streamsClosed?: boolean;
  /** When the job was first seen with no process left. */
  emptyAt?: number;
  killAt?: number;
  survivorsLogged?: boolean;
  startedAt?: number;
  termSentAt?: number;
  stoppedByWorker: boolean;
  killTimer?: NodeJS.Timeout;
  ended?: SyncEnded;
  progress?: SyncProgress;
  logs: Array<{ stream: 'stdout' | 'stderr' | 'system'; text: string; at: number }>;
  droppedLines: number;
}

/**
 * Resolves a command like a shell would (PATH search), so a missing program is a clear spawn error; with an
 * identity, as that user would (what only the agent's user may run is skipped).
 */
export function resolveCommand(cmd: string, cwd: string, pathVar: string | undefined, identity?: JobIdentity): string | undefined {
  const ok = (p: string): boolean => {
    if (identity) return mayExecute(p, identity);
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (cmd.includes('/')) {
    const p = isAbsolute(cmd) ? cmd : join(cwd, cmd);
    return ok(p) ? p : undefined;
  }
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (dir && ok(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

export class WorkerAgent {
  id: string | undefined;
  private readonly client: ApiClient;
  private readonly procs = new Map<number, Proc>();
  /** Attempts this agent has finished with (ended and acknowledged): never start them again. */
  private readonly done = new Set<number>();
  private heartbeatMs = 1000;
  private graceMs = 10_000;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private readonly log: (msg: string) => void;
  private readonly pdeathsig: boolean;
  private readonly isRoot = process.getuid?.() === 0;
  private cgroups: CgroupSupport | undefined;
  private warden: Warden | undefined;
  private record: GroupRecord | undefined;
  private wakeSync: (() => void) | undefined;
  lastSyncOk = 0;

  constructor(private readonly opts: WorkerOptions) {
    this.client = new ApiClient({ server: opts.server, token: opts.token, timeoutMs: 10_000 });
    this.log = opts.log ?? (() => {});
    this.pdeathsig = (opts.killOnAgentDeath ?? true) && SETPRIV !== undefined && process.platform === 'linux';
  }

  /** How jobs are confined on this machine, for the start-up log and tests. */
  isolation(): { cgroup: string | undefined; warden: number | undefined } {
    return { cgroup: this.cgroups?.dir, warden: this.warden?.pid };
  }

  /** Registers (retrying while the server is unreachable) and starts syncing. */
  async start(): Promise<void> {
    for (let delay = 200; ; delay = Math.min(delay * 2, 5000)) {
      try {
        const r = await this.client.post<{ id: string; heartbeatMs: number; graceMs: number }>('/api/v1/workers', {
          name: this.opts.name ?? `worker-${process.pid}`,
          gpus: this.opts.gpus,
          machine: this.opts.machine ?? machineIdentity(),
        });
        this.id = r.id;
        this.heartbeatMs = r.heartbeatMs;
        this.graceMs = r.graceMs;
        break;
      } catch (e) {
        if (e instanceof HttpError && e.status >= 400 && e.status < 500) {
          throw new RondoError({ code: 'E_USAGE', problem: `the server refused to register this worker: ${e.message}` });
        }
        if (this.stopped) return;
        this.log(`cannot register yet (${(e as Error).message}); retrying`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    ({ cgroups: this.cgroups, warden: this.warden, record: this.record } = await setupIsolation(this.opts, this.log));
    if (this.isRoot && !this.opts.runAs?.has('*')) this.log('tenants without a --run-as entry run as a per-tenant uid (auto)');
    this.log(`registered as ${this.id} with ${this.opts.gpus.map((g) => `${g.type}:${g.count}`).join(',')}`);
    this.ticker = setInterval(() => this.tick(), 50);
    this.loop = this.syncLoop();
  }

  /** Stops every process (SIGTERM, then SIGKILL after the grace period), reports their ends, and stops syncing. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of this.procs.values()) this.terminate(p, 'agent shutting down');
    const until = Date.now() + this.graceMs + 2000;
    while ([...this.procs.values()].some((p) => p.child && !p.ended) && Date.now() < until) {
      this.reapEnded();
      await new Promise((r) => setTimeout(r, 50));
    }
    if (this.ticker) clearInterval(this.ticker);
    // Before the warden goes: what outlived the wait is killed and waited for here, and the cgroups removed.
    for (const p of this.procs.values()) if (p.group && !p.ended) signalJob(p.group, 'SIGKILL', this.cgroups);
    await teardownCgroups(this.cgroups, this.log);
    this.warden?.close();
    if (![...this.procs.values()].some((p) => p.child && !p.ended && p.group && jobAlive(p.group))) this.record?.close();
    this.wakeSync?.();
    await this.loop;
    if (this.id) await this.syncOnce().catch(() => undefined); // best effort: report the ends
  }

  /** Processes currently alive (for tests and status output). */
  running(): Array<{ attempt: number; jobId: string; pid: number | undefined }> {
    return [...this.procs.values()].filter((p) => p.child && !p.ended).map((p) => ({ attempt: p.lease.attempt, jobId: p.lease.jobId, pid: p.pid }));
  }

  private async syncLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.syncOnce();
      } catch (e) {
        if (e instanceof HttpError && (e.status === 401 || e.status === 403)) {
          this.log(`server refused the worker token: ${e.message}`);
        } else this.log(`sync failed: ${(e as Error).message}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.heartbeatMs);
        this.wakeSync = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  private async syncOnce(): Promise<void> {
    const body = this.buildSync();
    const sentAt = Date.now();
    const res = await this.client.post<SyncResponse>(`/api/v1/workers/${this.id}/sync`, body.request);
    const receivedAt = Date.now();
    this.lastSyncOk = receivedAt;
    this.heartbeatMs = res.heartbeatMs;
    this.graceMs = res.graceMs;
    // What was sent is delivered: drop it from the queues.
    for (const [attempt, n] of body.sentLogs) {
      const p = this.procs.get(attempt);
      if (p) p.logs.splice(0, n);
    }
    for (const pr of body.request.progress) {
      const p = this.procs.get(pr.attempt);
      if (p && p.progress === pr) p.progress = undefined;
    }
    for (const a of res.acked) {
      const p = this.procs.get(a);
      if (p?.ended && p.logs.length === 0 && !p.progress) {
        this.procs.delete(a);
        this.remember(a);
      }
    }
    const listed = new Set<number>();
    for (const lease of res.leases) {
      listed.add(lease.attempt);
      if (this.done.has(lease.attempt)) continue;
      let p = this.procs.get(lease.attempt);
      if (!p) {
        if (this.stopped) continue;
        p = {
          lease,
          token: lease.token,
          // The lease ends by the server's clock no later than here (the reply left after this request did), and
          // starts no earlier: the server may count on the process being gone at lease end plus grace.
          startAt: receivedAt + lease.startInMs,
          deadline: sentAt + lease.leaseEndInMs,
          stoppedByWorker: false,
          logs: [],
          droppedLines: 0,
        };
        this.procs.set(lease.attempt, p);
      } else {
        p.deadline = sentAt + lease.leaseEndInMs; // extension (or the same end again)
        p.token ??= lease.token;
      }
      if (lease.stop) this.terminate(p, 'job cancelled');
    }
    // Attempts the server no longer lists are over for it (lost, withdrawn, cancelled): stop what is left.
    for (const p of this.procs.values()) {
      if (listed.has(p.lease.attempt) || p.ended) continue;
      if (!p.child) {
        this.procs.delete(p.lease.attempt);
        this.remember(p.lease.attempt);
      } else this.terminate(p, 'lease withdrawn by the server');
    }
    this.tick();
  }

  /** Remembers a finished attempt; old ones are forgotten (the server never lists an ended attempt again). */
  private remember(attempt: number): void {
    this.done.add(attempt);
    if (this.done.size > 10_000) this.done.delete(this.done.values().next().value!);
  }

  private buildSync(): { request: SyncRequest; sentLogs: Map<number, number> } {
    const running = [];
    const ended: SyncEnded[] = [];
    const progress: SyncProgress[] = [];
    const logs: SyncLogs[] = [];
    const sentLogs = new Map<number, number>();
    let bytes = 0;
    for (const p of this.procs.values()) {
      if (p.child && !p.ended && p.pid !== undefined) running.push({ attempt: p.lease.attempt, pid: p.pid, startedAt: p.startedAt! });
      if (p.progress) progress.push(p.progress);
      if (p.logs.length > 0 && bytes < MAX_LOG_BYTES_PER_SYNC) {
        let n = 0;
        while (n < p.logs.length && bytes < MAX_LOG_BYTES_PER_SYNC && n < 2000) bytes += p.logs[n++]!.text.length;
        logs.push({ attempt: p.lease.attempt, lines: p.logs.slice(0, n) });
        sentLogs.set(p.lease.attempt, n);
      }
      // Report an end only once its last output is in this or an earlier sync, so the log is complete first.
      if (p.ended && p.logs.length === (sentLogs.get(p.lease.attempt) ?? 0)) ended.push(p.ended);
    }
    return { request: { running, ended, progress, logs }, sentLogs };
  }

  /** Starts due leases and enforces lease ends. Runs every 50 ms and after each sync. */
  private tick(): void {
    this.reapEnded();
    const now = Date.now();
    const held = new Set<string>();
    for (const p of this.procs.values()) {
      if (p.child && !p.ended) for (const d of p.lease.devices) held.add(`${p.lease.gpuType}:${d}`);
    }
    for (const p of this.procs.values()) {
      if (p.ended) continue;
      if (!p.child) {
        if (this.stopped || now >= p.deadline) {
          // Never started within its lease: nothing ran; tell the server so it can requeue at once.
          this.finish(p, { exitCode: null, signal: null, stoppedByWorker: true, spawnError: null });
          continue;
        }
        // Start once the lease begins and the previous holder of these GPUs on this machine has exited.
        if (now >= p.startAt && p.lease.devices.every((d) => !held.has(`${p.lease.gpuType}:${d}`))) {
          this.spawn(p);
          for (const d of p.lease.devices) held.add(`${p.lease.gpuType}:${d}`);
        }
        continue;
      }
      if (now >= p.deadline && p.termSentAt === undefined) this.terminate(p, 'lease ended');
    }
  }

  private terminate(p: Proc, why: string): void {
    if (p.ended) return;
    if (!p.child) {
      this.finish(p, { exitCode: null, signal: null, stoppedByWorker: true, spawnError: null });
      return;
    }
    if (p.termSentAt !== undefined) return;
    const now = Date.now();
    p.termSentAt = now;
    if (!p.exit) p.stoppedByWorker = true; // leftovers of a process that ended on its own do not change its result
    // At lease end the grace runs from the lease end itself, so the job is gone by lease end + grace.
    const killIn = why === 'lease ended' ? Math.max(0, p.deadline + this.graceMs - now) : this.graceMs;
    this.pushLog(p, 'system', `rondo: SIGTERM to all processes of the job (${why}); SIGKILL in ${killIn} ms if any is left`);
    this.signal(p, 'SIGTERM');
    p.killAt = now + killIn;
    p.killTimer = setTimeout(() => this.kill(p), killIn);
  }

  private kill(p: Proc): void {
    if (p.ended) return;
    this.pushLog(p, 'system', 'rondo: grace period over, SIGKILL to all processes of the job');
    this.signal(p, 'SIGKILL');
  }

  private signal(p: Proc, sig: NodeJS.Signals): void {
    if (p.group) signalJob(p.group, sig, this.cgroups);
  }

  /**
   * Ends the attempts whose main process has exited once no process of theirs is left (leftover background
   * processes get SIGTERM, then SIGKILL after the grace period) and their output is read: only then are the GPUs
   * free for the next job and is the end reported to the server.
   */
  private reapEnded(): void {
    const now = Date.now();
    for (const p of this.procs.values()) {
      if (p.ended || !p.exit || !p.group) continue;
      if (jobAlive(p.group)) {
        p.emptyAt = undefined;
        if (p.termSentAt === undefined) {
          this.pushLog(p, 'system', 'rondo: the main process ended but other processes of the job are still running');
          this.terminate(p, 'the main process ended');
        } else if (p.killAt !== undefined && now > p.killAt + 5000 && !p.survivorsLogged) {
          // Only a process in uninterruptible I/O outlives SIGKILL; it dies when the I/O returns.
          p.survivorsLogged = true;
          this.pushLog(p, 'system', 'rondo: processes of the job survive SIGKILL (uninterruptible I/O?); the GPUs stay held until they are gone');
          this.signal(p, 'SIGKILL');
        }
        continue;
      }
      p.emptyAt ??= now;
      // Output still buffered in the pipes arrives within moments of the last writer's exit.
      if (!p.streamsClosed && now - p.emptyAt < 1000) continue;
      if (p.killTimer) clearTimeout(p.killTimer);
      releaseJob(p.group, this.warden);
      this.record?.remove(p.group.pgid);
      this.finish(p, {
        exitCode: p.exit.code,
        signal: p.exit.signal ?? null,
        stoppedByWorker: p.stoppedByWorker,
        spawnError: null,
      });
      this.wakeSync?.(); // report the end promptly
    }
  }

  private spawn(p: Proc): void {
    const l = p.lease;
    const now = Date.now();
    p.startedAt = now;
    const tenant = l.tenant ?? 'default';
    const identity = resolveIdentity(this.opts.runAs ?? new Map(), tenant, this.isRoot);
    let spawnError: string | undefined;
    try {
      prepareCheckpointDir(l.checkpointDir, identity);
    } catch (e) {
      spawnError = `cannot create checkpoint directory ${l.checkpointDir}: ${(e as Error).message}`;
    }
    if (!spawnError && !(existsSync(l.cwd) && statSync(l.cwd).isDirectory())) spawnError = `working directory ${l.cwd} does not exist on this worker`;
    const env = jobEnvironment({
      agentEnv: process.env,
      passEnv: this.opts.passEnv ?? [],
      identity,
      checkpointDir: l.checkpointDir,
      declared: l.env,
      rondo: {
        RONDO_JOB_ID: l.jobId,
        RONDO_ATTEMPT_ID: String(l.attempt),
        RONDO_LEASE_END: (l.leaseEnd / 1000).toFixed(3),
        RONDO_CHECKPOINT_DIR: l.checkpointDir,
        RONDO_SERVER: this.opts.jobServerUrl ?? this.opts.server,
        RONDO_LEASE_TOKEN: p.token ?? '',
        CUDA_VISIBLE_DEVICES: l.devices.join(','),
        RONDO_GPU_TYPE: l.gpuType,
      },
    });
    const file = spawnError ? undefined : resolveCommand(l.command[0]!, l.cwd, env.PATH, identity);
    if (!spawnError && !file) spawnError = `command not found or not executable: ${l.command[0]}`;
    if (spawnError || !file) {
      this.pushLog(p, 'system', `rondo: could not start: ${spawnError}`);
      this.finish(p, { exitCode: null, signal: null, stoppedByWorker: false, spawnError: spawnError ?? 'unknown' });
      return;
    }
    let group: JobGroup;
    try {
      group = launchJob({ attempt: l.attempt, file, args: l.command.slice(1), cwd: l.cwd, env, identity, pdeathsig: this.pdeathsig }, this.cgroups, this.warden);
    } catch (e) {
      this.pushLog(p, 'system', `rondo: could not start: ${(e as Error).message}`);
      this.finish(p, { exitCode: null, signal: null, stoppedByWorker: false, spawnError: (e as Error).message });
      return;
    }
    const child = group.child;
    if (group.pgid > 0) this.record?.add(group.pgid);
    p.child = child;
    p.group = group;
    p.pid = child.pid;
    const who = identity ? ` as uid ${identity.uid}${identity.name ? ` (${identity.name})` : ''}` : '';
    this.pushLog(p, 'system', `rondo: started attempt ${l.attempt} on ${l.gpuType} [${l.devices.join(',')}] pid ${child.pid}${who}${group.cgroup ? ' in its own cgroup' : ''}`);
    child.on('error', (e) => {
      // A process that never started emits no 'exit' on every Node version: end the attempt here.
      if (child.pid === undefined) this.finish(p, { exitCode: null, signal: null, stoppedByWorker: false, spawnError: e.message });
    });
    let open = 0;
    for (const [stream, src] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
      if (!src) continue;
      open++;
      src.on('close', () => {
        if (--open === 0) p.streamsClosed = true;
      });
      const rl = createInterface({ input: src, crlfDelay: Infinity });
      rl.on('line', (line) => {
        if (stream === 'stdout') {
          const pr = parseProgressLine(line);
          if (pr) p.progress = { ...(p.progress ?? {}), ...pr, attempt: l.attempt };
        }
        this.pushLog(p, stream, line);
      });
    }
    // 'exit', not 'close': background processes holding stdout open must not hide the main process's end.
    child.on('exit', (code, signal) => {
      p.exit = { code, signal, at: Date.now() };
      this.reapEnded();
    });
    this.log(`${l.jobId}: attempt ${l.attempt} started (pid ${child.pid}${who})`);
  }

  private finish(p: Proc, e: Omit<SyncEnded, 'attempt' | 'at'>): void {
    if (p.ended) return;
    p.ended = { attempt: p.lease.attempt, at: Date.now(), ...e };
    if (p.child) {
      this.pushLog(p, 'system', `rondo: attempt ${p.lease.attempt} ended (${e.signal ? `signal ${e.signal}` : `exit code ${e.exitCode}`})`);
      this.log(`${p.lease.jobId}: attempt ${p.lease.attempt} ended (${e.signal ?? e.exitCode})`);
    }
  }

  private pushLog(p: Proc, stream: 'stdout' | 'stderr' | 'system', text: string): void {
    if (p.logs.length >= MAX_PENDING_LOG_LINES) {
      p.logs.shift();
      p.droppedLines++;
      if (p.droppedLines === 1 || p.droppedLines % 1000 === 0) {
        p.logs.push({ stream: 'system', text: `rondo: log buffer full, ${p.droppedLines} old lines dropped`, at: Date.now() });
      }
    }
    p.logs.push({ stream, text: text.length > MAX_LINE_CHARS ? text.slice(0, MAX_LINE_CHARS) + '…' : text, at: Date.now() });
  }
}
