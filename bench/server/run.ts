/**
 * Throughput and latency of `rondo serve` on this machine, through real HTTP on loopback and the real SQLite store
 * (WAL, synchronous=FULL, so every acknowledged submit is fsynced):
 *   1. sequential submits (one client), 2. concurrent submits (8 clients), 3. worker syncs (32 workers at once),
 *   4. planning one round (policy + mechanism + leases committed) with many active jobs.
 * Writes bench/server/results.json. Run (about a minute):
 *
 *   npx tsc -p bench/server/tsconfig.json && node node_modules/.cache/rondo-bench-server/bench/server/run.js
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../src/runtime/serve.js';
import { ApiClient } from '../../src/runtime/http-client.js';

const here = dirname(fileURLToPath(import.meta.url));
const outFile = resolve(here.includes('node_modules') ? process.cwd() : join(here, '..', '..'), 'bench', 'server', 'results.json');

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(2));
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-server-'));
  const policy = process.argv.includes('--policy') ? process.argv[process.argv.indexOf('--policy') + 1]! : 'max_min_fairness_perf';
  // Long rounds: the loop must not plan while we measure; planning is measured explicitly below.
  const srv = await startServer({ db: join(dir, 'bench.db'), port: 0, policy, timing: { roundMs: 3_600_000, heartbeatMs: 60_000, workerTimeoutMs: 3_600_000, graceMs: 1000 } });
  const admin = new ApiClient({ server: srv.url, token: srv.adminToken! });
  const body = { command: ['python3', 'train.py', '--steps', '1000'], cwd: dir, totalSteps: 1000 };
  const results: Record<string, unknown> = { machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown'}`, node: process.version, policy };

  // 1. Sequential submits.
  for (let i = 0; i < 20; i++) await admin.post('/api/v1/jobs', body); // warm-up
  const seq: number[] = [];
  const t1 = performance.now();
  for (let i = 0; i < 500; i++) seq.push(await timed(() => admin.post('/api/v1/jobs', body)));
  const seqS = (performance.now() - t1) / 1000;
  results.sequentialSubmit = { requests: 500, perSecond: Math.round(500 / seqS), p50Ms: pct(seq, 50), p99Ms: pct(seq, 99) };

  // 2. Concurrent submits: 8 clients x 100.
  const conc: number[] = [];
  const t2 = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 100; i++) conc.push(await timed(() => admin.post('/api/v1/jobs', body)));
    }),
  );
  const concS = (performance.now() - t2) / 1000;
  results.concurrentSubmit = { clients: 8, requests: 800, perSecond: Math.round(800 / concS), p50Ms: pct(conc, 50), p99Ms: pct(conc, 99) };

  // 3. Worker syncs: 32 workers of 4 GPUs each, all syncing at once, 20 times.
  const workers: Array<{ id: string; client: ApiClient }> = [];
  for (let i = 0; i < 32; i++) {
    const { token } = await admin.post<{ token: string }>('/api/v1/tokens', { kind: 'worker' });
    const client = new ApiClient({ server: srv.url, token });
    const { id } = await client.post<{ id: string }>('/api/v1/workers', { name: `bench-${i}`, gpus: [{ type: ['v100', 'p100', 'k80'][i % 3]!, count: 4 }] });
    workers.push({ id, client });
  }
  // 4. Planning rounds with every submitted job active (1,320 jobs on 128 GPUs).
  const plans: number[] = [];
  for (let r = 0; r < 3; r++) {
    if (r > 0) await admin.post('/api/v1/jobs', body); // a new arrival forces a new allocation
    plans.push(await timed(async () => srv.scheduler.planNext(Date.now())));
  }
  const active = srv.store.activeJobs().length;
  results.planRound = { activeJobs: active, gpus: 128, workers: 32, firstMs: Math.round(plans[0]!), laterMs: plans.slice(1).map((x) => Math.round(x)), lastSolverMs: Math.round(srv.scheduler.stats.lastSolverMs) };

  const empty = { running: [], ended: [], progress: [], logs: [] };
  const sync: number[] = [];
  const t3 = performance.now();
  for (let k = 0; k < 20; k++) {
    await Promise.all(workers.map((w) => timed(() => w.client.post(`/api/v1/workers/${w.id}/sync`, empty)).then((ms) => sync.push(ms))));
  }
  const syncS = (performance.now() - t3) / 1000;
  results.workerSync = { workers: 32, syncs: sync.length, perSecond: Math.round(sync.length / syncS), p50Ms: pct(sync, 50), p99Ms: pct(sync, 99), note: 'each sync returns the worker its leases (128 GPUs leased after planning)' };

  await srv.close();
  rmSync(dir, { recursive: true, force: true });
  writeFileSync(outFile, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
