/**
 * Tenant quotas (issue 22). Writes bench/results/tenants.json (fields: docs/tenants.md, "Benchmark").
 *
 * 1. `kueue8902`: two tenants with equal GPU guarantees on fast (v100) and slow (k80) GPUs, whose jobs gain
 *    differently from the fast type (ResNet-50 7.1x, A3C 2.1x in Gavel's table): `tenant_quota` (normalised
 *    quotas) against `kueue_quota` (GPU counts): each tenant's received normalised throughput against its
 *    entitlement, average JCT per tenant, total normalised throughput.
 * 2. `borrowing`: one tenant busy all along, the other idle for the first half and then back: how much of the idle
 *    guarantee the busy one uses, and how many rounds the returning tenant waits for its guarantee.
 * 3. `guaranteeHeld`: in both runs, the worst accounting period (10 rounds) of received over entitled normalised
 *    throughput among tenants with demand throughout the period.
 * 4. `scale`: one allocation of a 200-tenant tree (10 cohorts x 20) with 10,000 active jobs.
 *
 *   npm run bench:tenants [-- --scale-jobs 10000 --reps 3 --out FILE] [-- --only scale]
 *
 * `--only scale` times part 4 alone and replaces `scale` (and `scaleMachine`) in the existing results file, leaving
 * the simulated parts as they were (a few minutes on a loaded machine).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readThroughputs } from '../../src/io/index.js';
import { parseTenants } from '../../src/io/tenants.js';
import { jobKey, makeCluster, seededRandom, throughputRow, type Job, type ThroughputTable } from '../../src/model/index.js';
import type { TenantTree } from '../../src/model/tenants.js';
import { getPolicy } from '../../src/policies/registry.js';
import { initSolver } from '../../src/solver/index.js';
import { simulate } from '../../src/sim/simulate.js';
import { TenantAccounting, type TenantReport, type TenantRound } from '../../src/sim/tenant-accounting.js';
import { flag, repoRoot } from '../root.js';
import { scaleCase } from './scale.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = repoRoot(here);
const OUT = flag('out', join(root, 'bench/results/tenants.json'));
const SCALE_JOBS = Number(flag('scale-jobs', '10000'));
const REPS = Number(flag('reps', '3'));
const ROUND = 360;

const FAST = 'ResNet-50 (batch size 64)';
const SLOW = 'A3C';

interface Spec {
  readonly tenant: string;
  readonly jobType: string;
  readonly n: number;
  /** Arrival window [from, to) in hours (uniform), and run time alone on a v100 in hours [lo, hi). */
  readonly from: number;
  readonly to: number;
  readonly lo: number;
  readonly hi: number;
}

function jobs(table: ThroughputTable, specs: readonly Spec[], seed: number): Job[] {
  const rnd = seededRandom(seed);
  const out: Job[] = [];
  for (const s of specs) {
    const v100 = throughputRow(table, jobKey(s.jobType, 1), ['v100'])[0]!;
    for (let i = 0; i < s.n; i++) {
      const arrival = 3600 * (s.from + (s.to - s.from) * rnd());
      const hours = s.lo + (s.hi - s.lo) * rnd();
      out.push({ id: `${s.tenant}-${i}`, jobType: s.jobType, scaleFactor: 1, arrivalTime: Math.round(arrival), totalSteps: Math.round(hours * 3600 * v100), priorityWeight: 1, tenant: s.tenant });
    }
  }
  return out.sort((a, b) => a.arrivalTime - b.arrivalTime || (a.id < b.id ? -1 : 1));
}

interface RunOut {
  policy: string;
  tenants: TenantReport[];
  avgJctHoursByTenant: Record<string, number>;
  avgJctHours: number;
  /** Sum over tenants of received normalised throughput x time, over the run's length (v100-equivalents). */
  totalNormalizedThroughput: number;
  utilization: number;
  preemptions: number;
  policyCalls: number;
  series: readonly TenantRound[];
}

async function run(table: ThroughputTable, tree: TenantTree, cluster: Record<string, number>, js: readonly Job[], policyName: string): Promise<RunOut> {
  const spec = makeCluster(cluster);
  const tenantOf = new Map(js.map((j) => [j.id, j.tenant]));
  const acct = new TenantAccounting(tree, spec, (id) => tenantOf.get(id), { keepRounds: true });
  const policy = acct.wrap(getPolicy(policyName, { tenants: tree }));
  const out = await simulate({ cluster: spec, throughputs: table, policy, jobs: js, roundDuration: ROUND, minReallocationInterval: 0, observer: acct.observer, seed: 0 });
  const byTenant: Record<string, number[]> = {};
  for (const j of out.metrics.perJob) {
    if (j.jctSeconds === null) continue;
    (byTenant[tenantOf.get(j.id)!] ??= []).push(j.jctSeconds / 3600);
  }
  const series = acct.series();
  const end = Math.max(...series.map((r) => r.end));
  const start = Math.min(...series.map((r) => r.start));
  const total = series.reduce((s, r) => s + r.received * (r.end - r.start), 0) / (end - start);
  return {
    policy: policyName,
    tenants: acct.reports(),
    avgJctHoursByTenant: Object.fromEntries(Object.entries(byTenant).map(([t, v]) => [t, v.reduce((a, b) => a + b, 0) / v.length])),
    avgJctHours: out.metrics.summary.avgJctHours ?? NaN,
    totalNormalizedThroughput: total,
    utilization: out.metrics.summary.utilization,
    preemptions: out.metrics.summary.preemptions,
    policyCalls: out.metrics.summary.policyCalls,
    series,
  };
}

/** Worst period ratio over the tenants of a run (null when no tenant had a full period with demand). */
function worst(r: RunOut): number | null {
  const v = r.tenants.map((t) => t.worstPeriodRatio).filter((x): x is number => x !== null);
  return v.length ? Math.min(...v) : null;
}

function strip(r: RunOut): Omit<RunOut, 'series'> {
  const { series: _s, ...rest } = r;
  return rest;
}

function machine(): { cpus: number; model: string; loadAverage1m: number | undefined } {
  return { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', loadAverage1m: os.loadavg()[0] };
}

function scaleRuns(table: ThroughputTable): Record<string, ReturnType<typeof scaleCase>> {
  return {
    tenantQuota: scaleCase(table, { cohorts: 10, perCohort: 20, jobs: SCALE_JOBS, reps: REPS, policy: 'tenant_quota' }),
    kueueQuota: scaleCase(table, { cohorts: 10, perCohort: 20, jobs: SCALE_JOBS, reps: REPS, policy: 'kueue_quota' }),
  };
}

async function main(): Promise<void> {
  await initSolver();
  const table = readThroughputs(join(root, 'data/gavel/simulation_throughputs.json'));
  if (flag('only', '') === 'scale') {
    const doc = JSON.parse(readFileSync(OUT, 'utf8')) as Record<string, unknown>;
    const scaleMachine = machine();
    const scale = scaleRuns(table);
    writeFileSync(OUT, `${JSON.stringify({ ...doc, scale, scaleMachine: { ...scaleMachine, loadAverage1mAfter: os.loadavg()[0] } }, null, 1)}\n`);
    process.stdout.write(`${OUT} (scale only)\n`);
    return;
  }
  const cluster = { v100: 8, k80: 8 };

  // 1. Equal GPU guarantees, different gains from the fast type.
  const tree1 = parseTenants('tenants:\n  - {name: vision, guarantee: {v100: 2, k80: 2}, policy: fifo}\n  - {name: rl, guarantee: {v100: 2, k80: 2}, policy: fifo}\n', 'kueue8902.yaml');
  const js1 = jobs(table, [
    { tenant: 'vision', jobType: FAST, n: 40, from: 0, to: 12, lo: 2, hi: 6 },
    { tenant: 'rl', jobType: SLOW, n: 40, from: 0, to: 12, lo: 2, hi: 6 },
  ], 1);
  const k1 = { tenantQuota: await run(table, tree1, cluster, js1, 'tenant_quota'), kueueQuota: await run(table, tree1, cluster, js1, 'kueue_quota') };
  process.stderr.write(`kueue8902 done\n`);

  // 2. Borrowing: rl idle for the first 12 h, then 16 jobs at once.
  const tree2 = parseTenants('tenants:\n  - {name: vision, guarantee: {v100: 4, k80: 4}, policy: fifo}\n  - {name: rl, guarantee: {v100: 4, k80: 4}, policy: fifo}\n', 'borrowing.yaml');
  const back = 12 * 3600;
  const js2 = jobs(table, [
    { tenant: 'vision', jobType: FAST, n: 60, from: 0, to: 0.01, lo: 6, hi: 14 },
    { tenant: 'rl', jobType: SLOW, n: 16, from: 12, to: 12, lo: 4, hi: 8 },
  ], 2);
  const borrowing: Record<string, unknown> = {};
  const b2: Record<string, RunOut> = {};
  for (const [key, name] of [['tenantQuota', 'tenant_quota'], ['kueueQuota', 'kueue_quota']] as const) {
    const r = await run(table, tree2, cluster, js2, name);
    b2[key] = r;
    const idle = r.series.filter((x) => x.tenant === 'vision' && x.end <= back);
    const gpusWhileIdle = idle.reduce((s, x) => s + x.gpus.reduce((a, b) => a + b, 0) * (x.end - x.start), 0) / idle.reduce((s, x) => s + (x.end - x.start), 0);
    const after = r.series.filter((x) => x.tenant === 'rl' && x.start >= back).sort((a, b) => a.start - b.start);
    const firstGuaranteed = after.findIndex((x) => x.gpus.reduce((a, b) => a + b, 0) >= 8 - 1e-9);
    const firstEntitled = after.findIndex((x) => x.entitlement > 0 && x.received >= 0.95 * x.entitlement);
    borrowing[key] = {
      policy: name,
      busyTenantGpusWhileOtherIdle: gpusWhileIdle,
      clusterGpus: 16,
      roundsUntilGuaranteedGpusBack: firstGuaranteed < 0 ? null : firstGuaranteed,
      roundsUntil95PercentOfEntitlement: firstEntitled < 0 ? null : firstEntitled,
      returningTenantFirstRounds: after.slice(0, 3).map((x) => ({ startHours: x.start / 3600, gpus: x.gpus, received: x.received, entitlement: x.entitlement })),
      tenants: r.tenants,
      avgJctHoursByTenant: r.avgJctHoursByTenant,
      preemptions: r.preemptions,
    };
  }
  process.stderr.write(`borrowing done\n`);

  // 3. Guarantee held.
  const guaranteeHeld = {
    periodRounds: 10,
    kueue8902: { tenantQuota: worst(k1.tenantQuota), kueueQuota: worst(k1.kueueQuota) },
    borrowing: { tenantQuota: worst(b2.tenantQuota!), kueueQuota: worst(b2.kueueQuota!) },
  };

  // 4. Scale.
  const scale = scaleRuns(table);

  const doc = {
    rondo: 'bench-tenants',
    machine: machine(),
    settings: { roundSeconds: ROUND, reallocIntervalSeconds: 0, cluster, fastJob: FAST, slowJob: SLOW, normalizedUnit: 'v100-equivalents of the tenant\'s own jobs' },
    kueue8902: { tenantQuota: strip(k1.tenantQuota), kueueQuota: strip(k1.kueueQuota) },
    borrowing,
    guaranteeHeld,
    scale,
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(doc, null, 1)}\n`);
  process.stdout.write(`${OUT}\n`);
}

await main();
