import { createHash } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { RondoError } from '../model/errors.js';
import type { ThroughputTable } from '../model/throughput.js';
import { LiveThroughputs } from '../estimate/index.js';
import { loadPolicy } from './server/policy-source.js';
import { Scheduler, DEFAULT_TIMING, type MaxChanges, type RuntimeTiming } from './server/scheduler.js';
import { buildServer } from './server/app.js';
import type { ApiLimits } from './server/http.js';
import { checkKeepPlans, Store } from './server/store/index.js';
import { WorkerAgent } from './agent/worker.js';
import type { WorkerGpus } from './protocol.js';
import type { RunAsMap } from './agent/sandbox.js';
import { LivePrices, type PriceSource } from './server/prices.js';
import { LiveTenants } from './server/tenants.js';

export interface ServeOptions {
  readonly db: string;
  readonly host?: string;
  readonly port?: number;
  readonly policy?: string;
  readonly timing?: Partial<RuntimeTiming>;
  /** Work-conserving rounds: idle GPUs go to queued jobs at once, not at the next round (default true). */
  readonly backfill?: boolean;
  /**
   * Change budget: at most this many jobs whose placement a round changes (EngineConfig.maxChanges); a function is
   * read at each plan (`serve --kube`'s automatic budget: src/kube/change-budget.ts).
   */
  readonly maxChanges?: MaxChanges;
  readonly checkpointRoot?: string;
  readonly jobRoots?: readonly string[];
  /** Worker agents to run inside this process (the single-machine mode). */
  readonly localWorkers?: number;
  readonly localGpus?: readonly WorkerGpus[];
  /** Tenant -> Unix user for the local workers' jobs (`--run-as`). */
  readonly runAs?: RunAsMap;
  /** Agent environment variables the local workers' jobs also get (`--pass-env`). */
  readonly passEnv?: readonly string[];
  readonly log?: (msg: string) => void;
  /** Throughput table: known job types' throughputs and the references for estimating the rest (src/estimate). */
  readonly throughputs?: ThroughputTable;
  /** Folder of the built web dashboard (default `<package>/dist/web`). */
  readonly webDir?: string;
  /** Rate limit and what-if bounds (defaults in server/http.ts). */
  readonly limits?: Partial<ApiLimits>;
  /** GPU prices from a file or URL, read again every interval (`--prices`, `--prices-url`; docs/spot.md). */
  readonly prices?: PriceSource;
  /** Tenant tree file (`--tenants`): the policy divides by it (default policy tenant_quota); reloadable. */
  readonly tenants?: string;
  /** Rounds whose whole plan the store keeps (`--keep-plans`; older rounds keep a summary; store/rounds.ts). */
  readonly keepPlans?: number;
}

export interface RunningServer {
  readonly url: string;
  /** The admin token, only when it was created by this start (first start on a new store). */
  readonly adminToken: string | undefined;
  readonly adminTokenFile: string;
  readonly store: Store;
  readonly scheduler: Scheduler;
  readonly workers: readonly WorkerAgent[];
  /** The tenant tree in force (`--tenants`), with `reload()`. */
  readonly tenants: LiveTenants | undefined;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The store holds job environments and token hashes: only the server's user may read it. A missing folder is made
 * 0700 and a new file is created 0600 before SQLite opens it (SQLite gives its -wal and -shm files the same mode),
 * so there is no moment when it is readable by others.
 */
function privateStoreFile(dbPath: string): string {
  const dir = dirname(dbPath);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(dbPath)) closeSync(openSync(dbPath, 'a', 0o600));
  return dbPath;
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const log = opts.log ?? (() => {});
  const timing: RuntimeTiming = { ...DEFAULT_TIMING, ...opts.timing };
  for (const [k, v] of Object.entries(timing)) {
    if (!Number.isFinite(v) || v <= 0) throw new RondoError({ code: 'E_USAGE', problem: `bad ${k}`, expected: 'a positive number of milliseconds', found: String(v) });
  }
  if (timing.workerTimeoutMs < 2 * timing.heartbeatMs) {
    throw new RondoError({ code: 'E_USAGE', problem: 'worker timeout must be at least two heartbeats', found: `${timing.workerTimeoutMs} ms < 2 x ${timing.heartbeatMs} ms` });
  }
  if (opts.keepPlans !== undefined) checkKeepPlans(opts.keepPlans); // before anything is opened or started
  const tenants = opts.tenants ? LiveTenants.load(resolve(opts.tenants), log) : undefined;
  const policy = await loadPolicy(opts.policy ?? (tenants ? 'tenant_quota' : 'max_min_fairness_perf'), tenants);
  const dbPath = resolve(opts.db);
  const checkpointRoot = resolve(opts.checkpointRoot ?? defaultCheckpointRoot(dbPath, log));
  if (dbPath.startsWith(checkpointRoot.endsWith(sep) ? checkpointRoot : checkpointRoot + sep)) {
    throw new RondoError({ code: 'E_USAGE', problem: `the store ${dbPath} is inside the checkpoint root ${checkpointRoot}, where jobs could reach it`, hint: 'pass a --checkpoint-dir outside the store\'s folder' });
  }
  const store = new Store(privateStoreFile(dbPath), opts.keepPlans !== undefined ? { keepPlans: opts.keepPlans } : {});
  for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) if (existsSync(f)) chmodSync(f, 0o600); // stores made before 0600
  let adminToken: string | undefined;
  const adminTokenFile = `${dbPath}.admin-token`;
  if (!store.hasAdminToken()) {
    adminToken = store.createToken('admin', { label: 'created at first start' }).token;
    writeFileSync(adminTokenFile, adminToken + '\n', { mode: 0o600 });
    chmodSync(adminTokenFile, 0o600);
  }
  const scheduler = new Scheduler(store, timing, policy, log, opts.throughputs ? new LiveThroughputs(opts.throughputs) : undefined, opts.backfill ?? true, opts.maxChanges);
  if (opts.prices) {
    const prices = new LivePrices(opts.prices, store, log);
    try {
      await prices.start();
    } catch (e) {
      store.close();
      throw e;
    }
    scheduler.livePrices = prices;
  }
  const host = opts.host ?? '127.0.0.1';
  let url = '';
  const app = buildServer({
    store,
    scheduler,
    checkpointRoot,
    ...(opts.jobRoots ? { jobRoots: opts.jobRoots.map((r) => resolve(r)) } : {}),
    publicUrl: () => url,
    ...(opts.webDir ? { webDir: opts.webDir } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
  });
  let address: string;
  try {
    address = await app.listen({ host, port: opts.port ?? 8470 });
  } catch (e) {
    store.close();
    throw new RondoError({ code: 'E_IO', problem: `cannot listen on ${host}:${opts.port ?? 8470}: ${(e as Error).message}`, hint: 'pick another --port' });
  }
  const port = (app.server.address() as { port: number }).port;
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (!LOOPBACK.has(host)) log(`warning: listening on ${address}, reachable from other machines; tokens travel in clear without TLS`);
  scheduler.start();

  const workers: WorkerAgent[] = [];
  const n = opts.localWorkers ?? 0;
  if (n > 0) {
    // Local agents get fresh worker tokens each start; the previous start's ones are revoked.
    for (const t of store.listTokens()) if (t.kind === 'worker' && t.label === 'local' && !t.revoked) store.revokeToken(t.id);
    for (let i = 0; i < n; i++) {
      const token = store.createToken('worker', { label: 'local' }).token;
      const w = new WorkerAgent({
        server: url,
        token,
        gpus: opts.localGpus ?? [{ type: 'local', count: 1 }],
        name: `local-${i + 1}`,
        log: (m) => log(`[local-${i + 1}] ${m}`),
        ...(opts.runAs ? { runAs: opts.runAs } : {}),
        ...(opts.passEnv ? { passEnv: opts.passEnv } : {}),
      });
      await w.start();
      workers.push(w);
    }
  }
  let closed = false;
  return {
    url,
    adminToken,
    adminTokenFile,
    store,
    scheduler,
    workers,
    tenants,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(workers.map((w) => w.stop()));
      await scheduler.stop();
      scheduler.livePrices?.stop();
      await app.close();
      store.close();
    },
  };
}

/**
 * Where checkpoints go without `--checkpoint-dir`: not beside the store, since every job learns its checkpoint
 * path (RONDO_CHECKPOINT_DIR) and must not learn the store's from it. One folder per store (a hash of its path,
 * which does not reveal it) under /var/lib/rondo (root) or the user's data directory. A store that already has its
 * checkpoints beside it (`<db>.checkpoints`, the old default) keeps them there, with a warning.
 */
export function defaultCheckpointRoot(dbPath: string, log: (m: string) => void): string {
  const legacy = `${dbPath}.checkpoints`;
  if (existsSync(legacy)) {
    log(`warning: checkpoints stay in ${legacy}, from which jobs can tell where the store is; move them and pass --checkpoint-dir`);
    return legacy;
  }
  const base = process.getuid?.() === 0 ? '/var/lib/rondo' : join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'rondo');
  return join(base, 'checkpoints', createHash('sha256').update(dbPath).digest('hex').slice(0, 16));
}
