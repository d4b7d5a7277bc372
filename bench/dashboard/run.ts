/**
 * What the dashboard costs the server: latency of the endpoints the web UI polls (src/runtime/server/routes/dashboard.ts) with
 * 1,000 and 10,000 jobs in the store, the bounded `whatif` estimate they share, and the size of the built UI.
 * Writes bench/results/dashboard.{json,md}.
 *
 *   npm run bench:dashboard [-- --jobs 1000,10000 --requests 40]
 *
 * A real server in this process (fastify, the SQLite store, the scheduler planning rounds) with 8 registered
 * workers of 4 GPUs each (v100, p100, k80 in turn) that never sync, so no process runs: jobs stay queued, the
 * allocation covers all of them. Jobs come from three tenants. Requests are sequential (one dashboard tab), with
 * the admin token; latencies include the client in the same process. Timings on a shared machine are noisy.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { writeFileAtomic } from '../../src/io/index.js';
import { startServer } from '../../src/runtime/serve.js';
import { whatIf } from '../../src/runtime/server/whatif.js';
import { flag, repoRoot } from '../root.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = repoRoot(here);
const SIZES = flag('jobs', '1000,10000').split(',').map(Number);
const REQUESTS = Number(flag('requests', '40'));

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const round1 = (x: number): number => Math.round(x * 10) / 10;

interface Row {
  jobs: number;
  endpoint: string;
  firstMs: number;
  p50Ms: number;
  p99Ms: number;
  bytes: number;
}

async function measure(jobs: number): Promise<{ rows: Row[]; whatifMs: number; whatifTruncated: boolean; whatifRounds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-dashboard-'));
  const srv = await startServer({
    db: join(dir, 'r.db'),
    port: 0,
    policy: 'max_min_fairness_perf',
    timing: { roundMs: 5000, heartbeatMs: 1000, workerTimeoutMs: 600_000, graceMs: 1000 },
  });
  try {
    const admin = srv.adminToken!;
    const call = async (method: string, path: string, body?: unknown, token = admin): Promise<{ ms: number; bytes: number; json: unknown }> => {
      const t0 = performance.now();
      const res = await fetch(srv.url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      const ms = performance.now() - t0;
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return { ms, bytes: text.length, json: JSON.parse(text) as unknown };
    };
    const types = ['v100', 'p100', 'k80'];
    for (let w = 0; w < 8; w++) {
      const { token } = (await call('POST', '/api/v1/tokens', { kind: 'worker', label: `bench-${w}` })).json as { token: string };
      await call('POST', '/api/v1/workers', { name: `bench-${w}`, gpus: [{ type: types[w % 3], count: 4 }] }, token);
    }
    // Submitted through the store (one transaction): this bench is about reads, bench:server measures submits.
    const tenants = ['alice', 'bob', 'carol'];
    srv.store.tx(() => {
      for (let i = 0; i < jobs; i++) {
        srv.store.submitJob({
          name: `run-${i}`,
          command: ['sleep', '600'],
          cwd: dir,
          env: {},
          scaleFactor: i % 10 === 0 ? 2 : 1,
          jobType: null,
          priorityWeight: 1,
          tenant: tenants[i % 3]!,
          sloFactor: null,
          deadlineS: null,
          totalSteps: 1000 + (i % 50) * 100,
          gpuTypes: null,
        });
      }
    });
    srv.scheduler.poke();
    // Let the scheduler plan a round with every job, so the allocation matrix is full.
    const until = Date.now() + 60_000;
    while (Date.now() < until && (srv.store.lastRoundInfo()?.round ?? 0) < 1) await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    const est = await whatIf(srv.store, srv.scheduler, undefined, { maxRounds: 2000, budgetMs: 150 });
    const whatifMs = performance.now() - t0;

    const endpoints = [
      '/api/v1/queue?limit=50',
      '/api/v1/queue?limit=50&offset=500&tenant=bob&state=queued',
      '/api/v1/fairness',
      '/api/v1/cluster',
      '/api/v1/cluster/history?minutes=30',
    ];
    const rows: Row[] = [];
    for (const e of endpoints) {
      const first = await call('GET', e);
      const ms: number[] = [];
      for (let i = 0; i < REQUESTS; i++) ms.push((await call('GET', e)).ms);
      rows.push({ jobs, endpoint: e, firstMs: round1(first.ms), p50Ms: round1(q(ms, 0.5)), p99Ms: round1(q(ms, 0.99)), bytes: first.bytes });
    }
    return { rows, whatifMs: round1(whatifMs), whatifTruncated: est.truncated, whatifRounds: est.simulatedRounds };
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function bundle(): { js: number; jsGzip: number; css: number } | null {
  const assets = join(root, 'dist', 'web', 'assets');
  if (!existsSync(assets)) return null;
  let js = 0;
  let jsGzip = 0;
  let css = 0;
  for (const f of readdirSync(assets)) {
    const p = join(assets, f);
    if (f.endsWith('.js')) {
      js += statSync(p).size;
      jsGzip += gzipSync(readFileSync(p)).length;
    } else if (f.endsWith('.css')) css += statSync(p).size;
  }
  return { js, jsGzip, css };
}

const results = [];
for (const n of SIZES) {
  console.log(`${n} jobs ...`);
  results.push(await measure(n));
}
const out = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '?', loadavg: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version },
  requests: REQUESTS,
  bundle: bundle(),
  sizes: results.map((r, i) => ({ jobs: SIZES[i], whatifMs: r.whatifMs, whatifTruncated: r.whatifTruncated, whatifRounds: r.whatifRounds })),
  endpoints: results.flatMap((r) => r.rows),
};
const b = out.bundle;
const md = [
  '# Dashboard endpoints',
  '',
  `${out.date}, ${out.machine.cpus} cores (${out.machine.model}), load ${out.machine.loadavg.join(' ')}, Node ${out.machine.node}; ${REQUESTS} sequential requests per endpoint after one first request. \`npm run bench:dashboard\`.`,
  '',
  b ? `Built UI: ${(b.js / 1024).toFixed(0)} KiB of JavaScript (${(b.jsGzip / 1024).toFixed(0)} KiB gzipped), ${(b.css / 1024).toFixed(1)} KiB of CSS.` : 'Built UI: dist/web missing (run npm run build).',
  '',
  '| jobs | bounded whatif (ms) | rounds simulated | truncated |',
  '|---:|---:|---:|---|',
  ...out.sizes.map((s) => `| ${s.jobs} | ${s.whatifMs} | ${s.whatifRounds} | ${s.whatifTruncated} |`),
  '',
  '| jobs | endpoint | first (ms) | p50 (ms) | p99 (ms) | bytes |',
  '|---:|---|---:|---:|---:|---:|',
  ...out.endpoints.map((e) => `| ${e.jobs} | \`${e.endpoint}\` | ${e.firstMs} | ${e.p50Ms} | ${e.p99Ms} | ${e.bytes} |`),
  '',
];
writeFileAtomic(join(root, 'bench', 'results', 'dashboard.json'), JSON.stringify(out, null, 2) + '\n');
writeFileAtomic(join(root, 'bench', 'results', 'dashboard.md'), md.join('\n'));
console.log(md.join('\n'));
