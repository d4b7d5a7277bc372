/**
 * `rondo serve` under the load of issue 8: 10,000 submitted jobs, 50 concurrent pollers and 100 simulated workers,
 * all in this process and talking real HTTP on loopback to a real server in its own process (server-process.ts:
 * `startServer` as `rondo serve` runs it; fastify, the SQLite store with WAL and synchronous=FULL, the scheduler loop
 * planning real rounds). Reports API latency (p50/p99 per endpoint and over all requests), round planning time with
 * 10,000 active jobs, and CPU and memory of the server and of the clients apart. Writes bench/results/server.{json,md}.
 *
 *   npm run bench:server [-- --seconds 60 --round 10 --policy max_min_fairness_perf --jobs 10000 --profile-server DIR --why-eager N --why-compare --keep-store]
 *
 * Phases: (1) 50 clients submit the jobs concurrently (each submit is fsynced before it is acknowledged); (2) 100
 * workers (4 GPUs each: v100, p100, k80 in turn; 400 GPUs) register and sync every heartbeat while 50 pollers each
 * send one read request every second, for `--seconds`; the scheduler plans a round every `--round` seconds.
 * A simulated worker does what the real agent does over the protocol (reports running attempts, progress with
 * steps and throughput, ends at lease end or when the job's steps are done) but runs no process: a job advances
 * at a fixed rate per (job type, GPU type) and its step count is kept in a shared map (the "shared checkpoint
 * directory"), so a job resumed on another worker goes on from where it stopped.
 *
 * The server has its own process and event loop, as in production, so the clients' work does not queue behind the
 * server's (it still shares the machine's cores); timings on a shared machine are noisy (compare within one run).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../../src/io/index.js';
import { ApiClient } from '../../src/runtime/client/http-client.js';
import type { LeaseMessage, SyncEnded, SyncResponse } from '../../src/runtime/protocol.js';
import { flag, peakMemory, percentile, repoRoot } from '../root.js';
import { seededRandom } from '../../src/model/index.js';
import { EAGER_WHY } from '../../src/runtime/server/why.js';
import type { FromServer, LoopDelay, RoundSample, ServerProcessOptions, ToServer } from './server-process.js';
import type { SectionStats } from '../../src/runtime/server/loop-sections.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = repoRoot(here);

const JOBS = Number(flag('jobs', '10000'));
const POLLERS = Number(flag('pollers', '50'));
const WORKERS = Number(flag('workers', '100'));
const SECONDS = Number(flag('seconds', '60'));
const ROUND_S = Number(flag('round', '10'));
const POLICY = flag('policy', 'max_min_fairness_perf');
/** A folder: the server process writes a V8 CPU profile there (node --cpu-prof) when it exits. */
const PROFILE_SERVER = flag('profile-server', '');
/** Keep the store file at the end (its path is printed), e.g. to time the store's queries on a realistic database. */
const KEEP_STORE = process.argv.includes('--keep-store');
/**
 * Waiting jobs whose "why" a round computes at once (the server's default when absent). A run with another value
 * writes bench/results/server.why-eager-<N>.{json,md}, so the default run's results stay: `--why-eager 1000000` is
 * the behaviour before reasons were computed on request (every reason, every round).
 */
const WHY_EAGER = flag('why-eager', '');
/** Also time every queued job's reason after each full round (bench/server/server-process.ts); results in server.why-compare.*. */
const WHY_COMPARE = process.argv.includes('--why-compare');
// Pollers read as often as `rondo logs --follow` does; workers sync at the default heartbeat (`rondo serve --heartbeat 2`).
const POLL_MS = 1000;
const HEARTBEAT_MS = 2000;
const SUBMITTERS = 50;
const GPU_TYPES = ['v100', 'p100', 'k80'] as const;
const JOB_TYPES = ['resnet50', 'transformer', 'lm', 'recommendation', 'cyclegan'] as const;
/** Steps per second of each job type on each GPU type (heterogeneous, so the aware policy has something to do). */
const RATE: Record<string, Record<string, number>> = {
  resnet50: { v100: 6, p100: 3, k80: 1 },
  transformer: { v100: 4, p100: 2.5, k80: 1 },
  lm: { v100: 3, p100: 2, k80: 1 },
  recommendation: { v100: 2, p100: 1.8, k80: 1.5 },
  cyclegan: { v100: 5, p100: 2, k80: 0.8 },
};

class Latency {
  readonly byKind = new Map<string, number[]>();
  errors = 0;
  add(kind: string, ms: number): void {
    let xs = this.byKind.get(kind);
    if (!xs) this.byKind.set(kind, (xs = []));
    xs.push(ms);
  }
  async time<T>(kind: string, fn: () => Promise<T>): Promise<T | undefined> {
    const t = performance.now();
    try {
      const v = await fn();
      this.add(kind, performance.now() - t);
      return v;
    } catch (e) {
      this.errors++;
      if (this.errors <= 5) process.stderr.write(`bench: ${kind} failed: ${(e as Error).message}\n`);
      return undefined;
    }
  }
}

function pct(xs: readonly number[], p: number): number {
  return Number(percentile(xs, p / 100).toFixed(2));
}

const round2 = (x: number): number => Number(x.toFixed(2));

/** Sections listed in the results (the longest p99 first). */
const SECTIONS_SHOWN = 20;

function summary(xs: readonly number[]): { requests: number; p50Ms: number; p99Ms: number; maxMs: number } {
  return { requests: xs.length, p50Ms: pct(xs, 50), p99Ms: pct(xs, 99), maxMs: Number(Math.max(0, ...xs).toFixed(2)) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface JobInfo {
  readonly jobType: string;
  readonly total: number;
}

/** Steps done per job, shared by all simulated workers (the shared checkpoint directory). */
const checkpoint = new Map<string, number>();

interface SimRun {
  readonly lease: LeaseMessage;
  startAt: number;
  deadline: number;
  startedAt?: number;
  base: number;
}

/** A worker agent without processes: the protocol of src/runtime/agent/worker.ts, with jobs advancing at a fixed rate. */
class SimWorker {
  private readonly runs = new Map<number, SimRun>();
  private readonly ended = new Map<number, SyncEnded>();
  /** Last step count of an ended attempt, sent with its end report (progress is recorded before ends). */
  private readonly finalSteps = new Map<number, number>();
  id = '';
  constructor(
    private readonly client: ApiClient,
    private readonly gpuType: string,
    private readonly jobs: ReadonlyMap<string, JobInfo>,
    private readonly lat: Latency,
  ) {}

  async register(name: string): Promise<void> {
    const r = await this.client.post<{ id: string }>('/api/v1/workers', { name, gpus: [{ type: this.gpuType, count: 4 }] });
    this.id = r.id;
  }

  private steps(r: SimRun, now: number): number {
    const info = this.jobs.get(r.lease.jobId)!;
    const rate = RATE[info.jobType]![this.gpuType]!;
    return Math.min(info.total, Math.floor(r.base + (rate * (now - r.startedAt!)) / 1000));
  }

  async sync(): Promise<void> {
    const now = Date.now();
    for (const [id, r] of this.runs) {
      if (r.startedAt === undefined) {
        if (now >= r.startAt && now < r.deadline) {
          r.startedAt = now;
          r.base = checkpoint.get(r.lease.jobId) ?? 0;
        } else if (now >= r.deadline) {
          this.runs.delete(id);
          this.ended.set(id, { attempt: id, exitCode: null, signal: null, stoppedByWorker: true, spawnError: null, at: now });
        }
        continue;
      }
      const s = this.steps(r, now);
      checkpoint.set(r.lease.jobId, s);
      const total = this.jobs.get(r.lease.jobId)!.total;
      if (s >= total || now >= r.deadline || r.lease.stop) {
        this.runs.delete(id);
        this.finalSteps.set(id, s);
        const done = s >= total;
        this.ended.set(id, { attempt: id, exitCode: done ? 0 : null, signal: done ? null : 'SIGTERM', stoppedByWorker: !done, spawnError: null, at: now });
      }
    }
    const running = [...this.runs.entries()].filter(([, r]) => r.startedAt !== undefined);
    const body = {
      running: running.map(([id, r]) => ({ attempt: id, pid: 1, startedAt: r.startedAt! })),
      ended: [...this.ended.values()],
      progress: [
        ...running.map(([id, r]) => {
          const info = this.jobs.get(r.lease.jobId)!;
          return { attempt: id, steps: this.steps(r, now), total: info.total, throughput: RATE[info.jobType]![this.gpuType]! };
        }),
        ...[...this.finalSteps.entries()].map(([id, steps]) => ({ attempt: id, steps })),
      ],
      logs: [],
    };
    const res = await this.lat.time('sync', () => this.client.post<SyncResponse>(`/api/v1/workers/${this.id}/sync`, body));
    if (!res) return;
    for (const a of res.acked) {
      this.ended.delete(a);
      this.finalSteps.delete(a);
    }
    const listed = new Set<number>();
    const at = Date.now();
    for (const l of res.leases) {
      listed.add(l.attempt);
      const r = this.runs.get(l.attempt);
      if (r) {
        r.deadline = at + l.leaseEndInMs; // extension
        if (l.stop) r.deadline = at;
      } else if (!this.ended.has(l.attempt)) {
        this.runs.set(l.attempt, { lease: l, startAt: at + l.startInMs, deadline: at + l.leaseEndInMs, base: 0 });
      }
    }
    // Attempts the server no longer lists are over for it: stop them (as the real agent does).
    for (const [id, r] of this.runs) {
      if (listed.has(id)) continue;
      this.runs.delete(id);
      if (r.startedAt !== undefined) {
        const s = this.steps(r, at);
        checkpoint.set(r.lease.jobId, s);
        this.finalSteps.set(id, s);
        this.ended.set(id, { attempt: id, exitCode: null, signal: 'SIGTERM', stoppedByWorker: true, spawnError: null, at });
      }
    }
  }
}

/** The server in its own process; rounds arrive as the server reports them. */
class ServerProcess {
  readonly rounds: RoundSample[] = [];
  private readonly waiting = new Map<string, (m: FromServer) => void>();
  private constructor(
    private readonly child: ReturnType<typeof fork>,
    readonly url: string,
    readonly adminToken: string,
  ) {
    child.on('message', (m: FromServer) => {
      if (m.type === 'round') this.rounds.push(m.round);
      else this.waiting.get(m.type)?.(m);
    });
  }

  static start(o: ServerProcessOptions): Promise<ServerProcess> {
    const child = fork(join(here, 'server-process.js'), [JSON.stringify(o)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: PROFILE_SERVER ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_SERVER}`] : [],
    });
    return new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the server process exited with code ${code} before it was ready`)));
      child.once('message', (m: FromServer) => {
        if (m.type === 'ready') resolve(new ServerProcess(child, m.url, m.adminToken));
        else reject(new Error(`the server process said ${m.type} before it was ready`));
      });
    });
  }

  private ask<T extends FromServer['type']>(msg: ToServer, reply: T): Promise<Extract<FromServer, { type: T }>> {
    return new Promise((resolve) => {
      this.waiting.set(reply, (m) => {
        this.waiting.delete(reply);
        resolve(m as Extract<FromServer, { type: T }>);
      });
      this.child.send(msg);
    });
  }

  /** The server process' CPU time so far, seconds (user + system, all threads), and its event loop's delay since the last call. */
  async cpu(): Promise<{ seconds: number; loopDelay: LoopDelay; sections: SectionStats[] }> {
    const c = await this.ask({ type: 'cpu' }, 'cpu');
    return { seconds: (c.user + c.system) / 1e6, loopDelay: c.loopDelay, sections: c.sections };
  }

  close(): Promise<Extract<FromServer, { type: 'closed' }>> {
    return this.ask({ type: 'close' }, 'closed');
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-server-'));
  const db = join(dir, 'bench.db');
  const srv = await ServerProcess.start({ db, policy: POLICY, roundMs: ROUND_S * 1000, heartbeatMs: HEARTBEAT_MS, ...(WHY_EAGER ? { whyEager: Number(WHY_EAGER) } : {}), whyCompare: WHY_COMPARE });
  const admin = new ApiClient({ server: srv.url, token: srv.adminToken, timeoutMs: 60_000 });
  const lat = new Latency();
  // Memory of this process: the clients only.
  const mem = peakMemory();
  const rounds = srv.rounds;

  // 1. Submit the jobs: 50 clients at once.
  const r = seededRandom(42);
  const jobs = new Map<string, JobInfo>();
  const specs = Array.from({ length: JOBS }, (_, i) => {
    const jobType = JOB_TYPES[Math.floor(r() * JOB_TYPES.length)]!;
    const u = r();
    // Mostly single-GPU jobs, some 2- and 4-GPU gangs (Gavel's mix: 70/25/5).
    const scaleFactor = u < 0.7 ? 1 : u < 0.95 ? 2 : 4;
    const total = 30 + Math.floor(r() * 600);
    return { i, jobType, body: { command: ['python3', 'train.py', '--steps', String(total)], cwd: dir, jobType, scaleFactor, totalSteps: total, name: `bench-${i}` } };
  });
  const submitT0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: SUBMITTERS }, async () => {
      while (next < specs.length) {
        const s = specs[next++]!;
        const v = await lat.time('submit', () => admin.post<{ id: string }>('/api/v1/jobs', s.body));
        if (v) jobs.set(v.id, { jobType: s.jobType, total: s.body.totalSteps });
      }
    }),
  );
  const submitS = (performance.now() - submitT0) / 1000;
  process.stderr.write(`bench: ${jobs.size} jobs submitted in ${submitS.toFixed(1)} s\n`);

  // 2. Workers and pollers.
  const workers: SimWorker[] = [];
  for (let i = 0; i < WORKERS; i++) {
    const { token } = await admin.post<{ token: string }>('/api/v1/tokens', { kind: 'worker', label: `bench-${i}` });
    const w = new SimWorker(new ApiClient({ server: srv.url, token, timeoutMs: 60_000 }), GPU_TYPES[i % GPU_TYPES.length]!, jobs, lat);
    await w.register(`bench-${i}`);
    workers.push(w);
  }
  const ids = [...jobs.keys()];
  const until = Date.now() + SECONDS * 1000;
  const loadT0 = performance.now();
  const cpu0 = process.cpuUsage();
  const serverCpu0 = (await srv.cpu()).seconds;
  const load0 = loadavg()[0]!;
  const syncing = workers.map(async (w, i) => {
    await sleep((i * HEARTBEAT_MS) / WORKERS); // spread the heartbeats over the interval, as real workers drift apart
    while (Date.now() < until) {
      const t = Date.now();
      await w.sync();
      await sleep(Math.max(0, HEARTBEAT_MS - (Date.now() - t)));
    }
  });
  // Pollers time the whole response (headers and body) but do not parse it: parsing is client work, and here it
  // would run on the server's event loop.
  const read = async (path: string): Promise<void> => {
    const res = await fetch(srv.url + path, { headers: { authorization: `Bearer ${srv.adminToken}` }, signal: AbortSignal.timeout(60_000) });
    await res.text();
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  };
  const pr = seededRandom(7);
  const polling = Array.from({ length: POLLERS }, async (_, i) => {
    await sleep((i * POLL_MS) / POLLERS);
    while (Date.now() < until) {
      const t = Date.now();
      const u = pr();
      if (u < 0.5) await lat.time('GET /api/v1/jobs/{id}', () => read(`/api/v1/jobs/${ids[Math.floor(pr() * ids.length)]!}`));
      else if (u < 0.7) await lat.time('GET /api/v1/jobs?state=running', () => read('/api/v1/jobs?state=running&limit=100'));
      else if (u < 0.8) await lat.time('GET /api/v1/cluster', () => read('/api/v1/cluster'));
      else if (u < 0.9) await lat.time('GET /api/v1/plan', () => read('/api/v1/plan'));
      else await lat.time('GET /metrics', () => read('/metrics'));
      await sleep(Math.max(0, POLL_MS - (Date.now() - t)));
    }
  });
  await Promise.all([...syncing, ...polling]);
  const loadS = (performance.now() - loadT0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const clientCpuS = (cpu.user + cpu.system) / 1e6;
  const serverEnd = await srv.cpu();
  const serverCpuS = serverEnd.seconds - serverCpu0;
  mem.stop();

  const end = await srv.close();
  const counts = end.counts;
  const problems = end.problems;
  if (!KEEP_STORE) rmSync(dir, { recursive: true, force: true });
  else process.stderr.write(`bench: store kept in ${dir} (--keep-store)\n`);

  const all = [...lat.byKind.entries()].filter(([k]) => k !== 'submit').flatMap(([, xs]) => xs);
  const big = rounds.filter((x) => x.activeJobs >= 0.9 * JOBS);
  const results = {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    config: {
      jobs: JOBS,
      submitters: SUBMITTERS,
      pollers: POLLERS,
      pollIntervalMs: POLL_MS,
      workers: WORKERS,
      gpus: WORKERS * 4,
      heartbeatMs: HEARTBEAT_MS,
      roundS: ROUND_S,
      loadSeconds: SECONDS,
      policy: POLICY,
      whyEager: WHY_EAGER ? Number(WHY_EAGER) : EAGER_WHY,
      store: 'SQLite WAL, synchronous=FULL',
    },
    submit: { ...summary(lat.byKind.get('submit') ?? []), perSecond: Math.round(jobs.size / submitS) },
    api: {
      all: { ...summary(all), perSecond: Math.round(all.length / loadS) },
      // CPU of the server process per request under load, rounds included: a number that depends less on what else
      // the machine runs than the latencies do. The load average says how busy the machine was.
      cpuMsPerRequest: Number(((1000 * serverCpuS) / Math.max(1, all.length)).toFixed(2)),
      serverCpuShare: Number((serverCpuS / loadS).toFixed(2)),
      clientCpuMsPerRequest: Number(((1000 * clientCpuS) / Math.max(1, all.length)).toFixed(2)),
      clientCpuShare: Number((clientCpuS / loadS).toFixed(2)),
      serverLoopDelay: serverEnd.loopDelay,
      // The server's synchronous sections under load with the longest p99 (src/runtime/server/loop-sections.ts): what
      // a request may wait behind. A regression of the tail latency shows here by name.
      longestSections: serverEnd.sections.slice(0, SECTIONS_SHOWN).map((x) => ({
        name: x.name,
        count: x.count,
        p50Ms: round2(x.p50Ms),
        p99Ms: round2(x.p99Ms),
        maxMs: round2(x.maxMs),
        totalMs: Math.round(x.totalMs),
      })),
      machineLoadAverage: Number(load0.toFixed(2)),
      byEndpoint: Object.fromEntries([...lat.byKind.entries()].filter(([k]) => k !== 'submit').map(([k, xs]) => [k, summary(xs)])),
      errors: lat.errors,
    },
    rounds: {
      planned: rounds.length,
      withAtLeast90PercentOfJobsActive: big.length,
      planMsMax: Math.max(0, ...big.map((x) => x.planMs)),
      planMsMedian: pct(big.map((x) => x.planMs), 50),
      planCpuMsMax: Math.max(0, ...big.map((x) => x.planCpuMs)),
      planCpuMsMedian: pct(big.map((x) => x.planCpuMs), 50),
      whyMsMax: Math.max(0, ...big.map((x) => x.whyMs)),
      whyAllMsMax: Math.max(0, ...big.map((x) => x.whyAllMs ?? 0)),
      detail: rounds,
    },
    memory: {
      server: { peakRssMb: Math.round(end.peakRssMb), peakHeapMb: Math.round(end.peakHeapMb) },
      clients: { peakRssMb: Math.round(mem.peakRssMb), peakHeapMb: Math.round(mem.peakHeapMb) },
      storeMb: Number(end.storeMb.toFixed(1)),
    },
    jobsAtEnd: counts,
    storeInvariants: problems,
    targets: { apiP99Ms: 50, planMs: 1000 },
  };
  const ok = results.api.all.p99Ms < 50 && results.rounds.planMsMax < 1000 && big.length > 0;
  const name = WHY_EAGER ? `server.why-eager-${WHY_EAGER}` : WHY_COMPARE ? 'server.why-compare' : 'server';
  writeFileAtomic(join(root, 'bench', 'results', `${name}.json`), JSON.stringify(results, null, 2) + '\n');
  writeFileAtomic(join(root, 'bench', 'results', `${name}.md`), markdown(results, ok));
  process.stdout.write(JSON.stringify({ submit: results.submit, api: results.api.all, rounds: { ...results.rounds, detail: undefined }, memory: results.memory, ok }, null, 2) + '\n');
}

function markdown(r: {
  date: string;
  machine: string;
  node: string;
  config: Record<string, unknown>;
  submit: ReturnType<typeof summary> & { perSecond: number };
  api: {
    all: ReturnType<typeof summary> & { perSecond: number };
    cpuMsPerRequest: number;
    serverCpuShare: number;
    clientCpuMsPerRequest: number;
    clientCpuShare: number;
    serverLoopDelay: LoopDelay;
    longestSections: Array<{ name: string; count: number; p50Ms: number; p99Ms: number; maxMs: number; totalMs: number }>;
    machineLoadAverage: number;
    byEndpoint: Record<string, ReturnType<typeof summary>>;
    errors: number;
  };
  rounds: {
    planned: number;
    withAtLeast90PercentOfJobsActive: number;
    planMsMax: number;
    planMsMedian: number;
    planCpuMsMax: number;
    planCpuMsMedian: number;
    whyMsMax: number;
    whyAllMsMax: number;
    detail: RoundSample[];
  };
  memory: { server: { peakRssMb: number; peakHeapMb: number }; clients: { peakRssMb: number; peakHeapMb: number }; storeMb: number };
  jobsAtEnd: Record<string, number>;
  storeInvariants: string[];
}, ok: boolean): string {
  const c = r.config;
  const lines = [
    '# `rondo serve` under load',
    '',
    `Generated by \`npm run bench:server\` on ${r.date}; ${r.machine}, Node ${r.node}. The server runs in its own process ` +
      '(as `rondo serve`); the clients (submitters, simulated workers, pollers) in the bench process, over HTTP on loopback.',
    `${c.jobs} jobs submitted by ${c.submitters} concurrent clients, then ${c.loadSeconds} s with ${c.workers} simulated workers ` +
      `(${c.gpus} GPUs, sync every ${c.heartbeatMs} ms) and ${c.pollers} pollers (one read every ${c.pollIntervalMs} ms each); ` +
      `policy ${String(c.policy)}, ${c.roundS} s rounds, store ${String(c.store)}.`,
    '',
    `Targets: API p99 under 50 ms, a round with 10,000 jobs planned in under 1 s: **${ok ? 'met' : 'NOT met'}**.`,
    '',
    '| requests | count | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|',
    `| submit (fsynced), ${r.submit.perSecond}/s | ${r.submit.requests} | ${r.submit.p50Ms} | ${r.submit.p99Ms} | ${r.submit.maxMs} |`,
    `| **all requests under load**, ${r.api.all.perSecond}/s | ${r.api.all.requests} | ${r.api.all.p50Ms} | ${r.api.all.p99Ms} | ${r.api.all.maxMs} |`,
    ...Object.entries(r.api.byEndpoint).map(([k, s]) => `| ${k === 'sync' ? 'worker sync' : k} | ${s.requests} | ${s.p50Ms} | ${s.p99Ms} | ${s.maxMs} |`),
    '',
    `CPU per request under load: server process ${r.api.cpuMsPerRequest} ms (rounds included; ${r.api.serverCpuShare} of a core), ` +
      `clients ${r.api.clientCpuMsPerRequest} ms (${r.api.clientCpuShare} of a core); the machine's load average was ` +
      `${r.api.machineLoadAverage} when the load phase started. The server's event loop ran a 10 ms timer every ` +
      `p50 ${r.api.serverLoopDelay.p50Ms} ms, p99 ${r.api.serverLoopDelay.p99Ms} ms, max ${r.api.serverLoopDelay.maxMs} ms under load ` +
      `(monitorEventLoopDelay counts the 10 ms itself: late by p99 ${round2(Math.max(0, r.api.serverLoopDelay.p99Ms - 10))} ms, ` +
      'the wait of a request that arrives at a random moment, before any work of its own).',
    '',
    "The server's longest synchronous sections under load (each holds the event loop; a request that arrives meanwhile waits; " +
      '"engine: work before X" is the scheduler\'s work between two yields, named after the yield that ended it):',
    '',
    '| section | count | p50 ms | p99 ms | max ms | total ms |',
    '|---|---|---|---|---|---|',
    ...r.api.longestSections.map((x) => `| ${x.name} | ${x.count} | ${x.p50Ms} | ${x.p99Ms} | ${x.maxMs} | ${x.totalMs} |`),
    '',
    `Errors: ${r.api.errors}. Rounds planned: ${r.rounds.planned} (${r.rounds.withAtLeast90PercentOfJobsActive} with at least 90% of the jobs active): ` +
      `plan time (policy, mechanism and the leases committed) median ${r.rounds.planMsMedian} ms, max ${r.rounds.planMsMax} ms wall; ` +
      `server CPU while planning (all threads, requests served between the plan's stages included) median ${r.rounds.planCpuMsMedian} ms, ` +
      `max ${r.rounds.planCpuMsMax} ms. A plan no longer holds the event loop for its length: the policy runs on a worker thread and the ` +
      'engine yields between stages; "plan ready" is the time to the finished plan (policy included, in brackets), "commit" the one ' +
      'transaction that writes the leases.',
    '',
    `"why ms" (max ${r.rounds.whyMsMax}) is the longest the round's record of why each job waits held the event loop at once (it is made in slices of 50 reasons; reasons computed at once for the first ${String(c.whyEager)} waiting jobs; 0 for a backfill plan, which records none).`,
    '',
    ...(r.rounds.whyAllMsMax > 0
      ? [`"all why ms" (max ${r.rounds.whyAllMsMax}; --why-compare): after the same round, on the same event loop, the time to compute every queued job's reason, as each round did before reasons were computed on request.`, '']
      : []),
    `| round | active jobs | placed | plan ms (wall) | plan ms (CPU) | plan ready ms (policy) | commit ms | why ms |${r.rounds.whyAllMsMax > 0 ? ' all why ms |' : ''}`,
    `|---|---|---|---|---|---|---|---|${r.rounds.whyAllMsMax > 0 ? '---|' : ''}`,
    ...r.rounds.detail.map(
      (d) =>
        `| ${d.round} | ${d.activeJobs} | ${d.placed} | ${d.planMs} | ${d.planCpuMs} | ${d.readyMs} (${d.solverMs}) | ${d.commitMs} | ${d.whyMs} |${r.rounds.whyAllMsMax > 0 ? ` ${d.whyAllMs ?? ''} |` : ''}`,
    ),
    '',
    `Memory: server process peak RSS ${r.memory.server.peakRssMb} MiB, peak heap ${r.memory.server.peakHeapMb} MiB; clients ` +
      `${r.memory.clients.peakRssMb} MiB RSS, ${r.memory.clients.peakHeapMb} MiB heap; store ${r.memory.storeMb} MiB.`,
    `Jobs at the end: ${Object.entries(r.jobsAtEnd).map(([k, v]) => `${k} ${v}`).join(', ')}. Store invariants: ${r.storeInvariants.length === 0 ? 'all hold' : r.storeInvariants.join('; ')}.`,
    '',
  ];
  return lines.join('\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
