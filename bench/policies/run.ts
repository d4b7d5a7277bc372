/**
 * Build + solve time of heterogeneity-aware LAS (`max_min_fairness_perf`) against the number of active jobs, on a
 * cluster with n/4 GPUs of each of v100, p100, k80. Two workloads: jobs drawn from Gavel's job table (so many
 * jobs share a throughput row and the class LP stays small), and a worst case where every job has its own random
 * row. Median of 3 timed runs after one warm-up. Writes bench/results/policies.{json,md}.
 *
 *   npm run bench:policies [-- --sizes 32,128 --workloads job-table,per-job,worst-case --max-seconds 60
 *                              --per-job-max 2048 --out DIR]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCluster, seededRandom } from '../../src/model/index.js';
import { finishClassAllocation } from '../../src/policies/common.js';
import { solveLas } from '../../src/policies/las.js';
import type { PolicyJob, PolicySnapshot } from '../../src/policies/types.js';
import { configureSolveCache, initSolver } from '../../src/solver/index.js';
import { flag, repoRoot } from '../root.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = repoRoot(here);
const TYPES = ['v100', 'p100', 'k80'];

const SIZES = flag('sizes', '32,128,512,1024,2048,4096,8192,16384').split(',').map(Number);
const WORKLOADS = flag('workloads', 'job-table,per-job,worst-case').split(',');
/** Skip the remaining sizes of a series once one median run takes longer than this. */
const MAX_SECONDS = Number(flag('max-seconds', '60'));
const PER_JOB_MAX = Number(flag('per-job-max', '2048'));

interface Row {
  jobType: string;
  sf: number;
  t: number[];
}

function jobTable(): { rows: Row[]; source: string } {
  const candidates = [join(root, 'data/gavel/simulation_throughputs.json'), '/work/shared/data/gavel/simulation_throughputs.json'];
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new Error(`simulation_throughputs.json not found in ${candidates.join(' or ')}`);
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, { null: number }>>;
  const rows: Row[] = [];
  for (const key of Object.keys(raw['v100']!).sort()) {
    const m = /^\('(.*)', (\d+)\)$/.exec(key);
    if (!m) continue;
    const t = TYPES.map((ty) => raw[ty]?.[key]?.null ?? 0);
    if (t.every((v) => v > 0)) rows.push({ jobType: m[1]!, sf: Number(m[2]), t });
  }
  return { rows, source: file.startsWith(root) ? file.slice(root.length + 1) : file };
}

function snapshot(n: number, workload: 'job-table' | 'worst-case', table: Row[], seed: number): PolicySnapshot {
  const rnd = seededRandom(seed);
  const jobs: PolicyJob[] = [];
  for (let i = 0; i < n; i++) {
    let row: Row;
    if (workload === 'job-table') row = table[Math.floor(rnd() * table.length)]!;
    else {
      const v = 0.5 + 9.5 * rnd();
      const p = v * (0.3 + 0.7 * rnd());
      const k = p * (0.2 + 0.8 * rnd());
      const sfs = [1, 1, 1, 1, 2, 2, 4, 8];
      row = { jobType: `random-${i}`, sf: sfs[Math.floor(rnd() * sfs.length)]!, t: [v, p, k] };
    }
    jobs.push({
      id: `job${String(i).padStart(6, '0')}`,
      jobType: row.jobType,
      scaleFactor: row.sf,
      priorityWeight: 1,
      throughput: row.t,
      totalSteps: 1e6,
      remainingSteps: 1e6,
      arrivalTime: i,
    });
  }
  const g = Math.max(1, Math.floor(n / 4));
  return { now: 0, cluster: makeCluster({ v100: g, p100: g, k80: g }), jobs };
}

interface Result {
  policy: string;
  workload: string;
  jobs: number;
  gpus: number;
  classes: number;
  buildSeconds: number;
  solveSeconds: number;
  objective: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function measure(s: PolicySnapshot, formulation: 'classes' | 'per-job'): { build: number; solve: number; objective: number; classes: number } {
  const run = (): { total: number; solve: number; objective: number; classes: number } => {
    const t0 = performance.now();
    // The exact LP's scaling is what this measures; large distinct-row cases would otherwise decompose (las.ts).
    const r = solveLas(s, { aware: true, formulation, solver: 'lp' }, 'bench');
    // The policy's own last step: per-job allocation rows (included in build time).
    finishClassAllocation(r.model.problem, r.size, r.classShares, s.jobs, r.classOf);
    const total = (performance.now() - t0) / 1000;
    return { total, solve: r.solveSeconds, objective: r.level, classes: r.classes };
  };
  run(); // warm-up
  const runs = [run(), run(), run()];
  const solve = median(runs.map((r) => r.solve));
  const total = median(runs.map((r) => r.total));
  return { build: Math.max(0, total - solve), solve, objective: runs[0]!.objective, classes: runs[0]!.classes };
}

async function main(): Promise<void> {
  await initSolver();
  // Time the solver itself, not the memo of identical models (src/solver/cache.ts).
  configureSolveCache({ maxBytes: 0 });
  const { rows, source } = jobTable();
  // V8 first runs WASM through its baseline compiler and optimises hot functions in the background; a long-running
  // simulator sees the optimised code, so let the tier-up happen before timing anything.
  const warm = snapshot(256, 'worst-case', rows, 1);
  const warmUntil = performance.now() + 3000;
  while (performance.now() < warmUntil) {
    solveLas(warm, { aware: true }, 'warm-up');
    solveLas(snapshot(512, 'job-table', rows, 2), { aware: true }, 'warm-up');
  }
  const results: Result[] = [];
  const series: Array<{ workload: 'job-table' | 'worst-case'; formulation: 'classes' | 'per-job'; max: number }> = [
    { workload: 'job-table', formulation: 'classes', max: Infinity },
    { workload: 'job-table', formulation: 'per-job', max: PER_JOB_MAX },
    { workload: 'worst-case', formulation: 'classes', max: Infinity },
  ];
  for (const { workload, formulation, max } of series) {
    const tag = formulation === 'per-job' ? 'per-job' : workload;
    if (!WORKLOADS.includes(tag)) continue;
    for (const n of SIZES) {
      if (n > max) continue;
      const s = snapshot(n, workload, rows, 42 + n);
      const m = measure(s, formulation);
      const policy = formulation === 'classes' ? 'max_min_fairness_perf' : 'max_min_fairness_perf (plain per-job LP)';
      const r: Result = {
        policy,
        workload,
        jobs: n,
        gpus: s.cluster.totalGpus,
        classes: m.classes,
        buildSeconds: Number(m.build.toFixed(6)),
        solveSeconds: Number(m.solve.toFixed(6)),
        objective: Number(m.objective.toPrecision(10)),
      };
      results.push(r);
      console.log(`${policy.padEnd(42)} ${workload.padEnd(10)} n=${String(n).padStart(5)} classes=${String(m.classes).padStart(5)} build=${m.build.toFixed(4)}s solve=${m.solve.toFixed(4)}s level=${m.objective.toPrecision(8)}`);
      if (m.build + m.solve > MAX_SECONDS) {
        console.log(`  (stopping this series: one run took over ${MAX_SECONDS} s)`);
        break;
      }
    }
  }
  const outDir = flag('out', join(root, 'bench/results'));
  writeFileSync(join(outDir, 'policies.json'), `${JSON.stringify(results, null, 2)}\n`);
  const gavel: Record<number, number> = { 128: 0.013, 1024: 0.046, 2048: 0.083 };
  const lines = [
    '# Policy benchmark: heterogeneity-aware LAS (`max_min_fairness_perf`)',
    '',
    `Cluster: n/4 GPUs of each of v100, p100, k80. Throughputs: ${source} (jobs drawn uniformly from its ${rows.length} (job type, scale factor) rows with all three types measured).`,
    'Worst case: every job has its own random throughput row and a scale factor from {1,1,1,1,2,2,4,8}.',
    'Times: median of 3 runs after a warm-up; build = snapshot to LP (incl. grouping), solve = HiGHS interior point without crossover.',
    `Machine: ${flag('label', `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), load average ${os.loadavg()[0]!.toFixed(1)} at the end`)}. Node ${process.version}, ${process.platform}/${process.arch}. Rerun: \`npm run bench:policies\`.`,
    '',
    '| policy | workload | jobs | GPUs | LP classes | build (s) | solve (s) | total (s) | Gavel published (s) | level |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.policy} | ${r.workload} | ${r.jobs} | ${r.gpus} | ${r.classes} | ${r.buildSeconds.toFixed(4)} | ${r.solveSeconds.toFixed(4)} | ${(r.buildSeconds + r.solveSeconds).toFixed(4)} | ${r.workload === 'job-table' && gavel[r.jobs] ? gavel[r.jobs] : ''} | ${r.objective.toPrecision(6)} |`,
    ),
    '',
  ];
  writeFileSync(join(outDir, 'policies.md'), lines.join('\n'));
  console.log(`wrote ${join(outDir, 'policies.json')} and policies.md`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
