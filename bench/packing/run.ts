/**
 * Space sharing and POP at scale (issue 6). Writes bench/results/packing.{json,md}.
 *
 * 1. `max_min_fairness_packed` (aware LAS with space sharing) at 64 ... 2048 active jobs drawn from Gavel's job
 *    table, n/4 GPUs of each of v100, p100, k80: the class-pair LP (as the policy runs it) against the per-job-pair
 *    LP (the exact reference, one class per job) while that stays under a time budget, each with and without
 *    pruning of dominated pairs, so the savings of classes and of pruning show separately.
 * 2. POP: 2048 jobs on 512 + 512 + 512 GPUs with space sharing, k = 1, 2, 4, 8, 16.
 * 3. Without space sharing: 10,000 active jobs on 10,000 GPUs (and, contended, on 2,000), `max_min_fairness_perf`:
 *    the exact LP, the policy (which decomposes over the GPU types once jobs have their own rows: `solver: 'auto'`
 *    in las.ts) and POP, for jobs from the job table, for estimated rows (job-table rows with per-job, per-type noise of up to +-10%, as
 *    estimates carry) and for the worst case where every job has its own random row (classes do not help).
 * 4. What a worker thread would cost: starting one and loading HiGHS in it, against the per-partition solve times.
 *
 * Objectives are evaluated on the returned allocations (co-located throughputs from the table), not taken from the
 * LP, and compared with the exact optimum: the per-job-pair LP where it was solved, else the class-pair LP (equal
 * to it by construction, docs/policies.md; tested on random instances). Times: wall time of `allocate` (build,
 * solve, rows), median of 3 after a warm-up for anything under 2 s, one run otherwise.
 *
 * `--sections` runs only some parts (scale, pop, big, workers) and keeps the other parts' rows from the existing
 * packing.json, so one part can be re-measured without the minutes the per-job-pair LPs take.
 *
 *   npm run bench:packing [-- --sizes 64,128 --exact-max-seconds 60 --exact-max-jobs 1024 --pop-jobs 2048 --big-jobs 10000 --sections big --out DIR]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { readThroughputs } from '../../src/io/index.js';
import { jobKeys, makeCluster, parseJobKey, throughputRow, validateAllocation, type Allocation, type ThroughputTable, seededRandom } from '../../src/model/index.js';
import { getPolicy } from '../../src/policies/registry.js';
import { packedLasObjective, solvePackedLas } from '../../src/policies/las-packed.js';
import { finishClassAllocation } from '../../src/policies/common.js';
import { createLasPolicy, DECOMPOSE_MIN_CLASSES, lasModel, solveLas } from '../../src/policies/las.js';
import type { Policy, PolicyJob, PolicySnapshot } from '../../src/policies/types.js';
import { configureSolveCache, initSolver } from '../../src/solver/index.js';
import { flag, repoRoot } from '../root.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = repoRoot(here);
const TYPES = ['v100', 'p100', 'k80'];

const SIZES = flag('sizes', '64,128,256,512,1024,2048').split(',').map(Number);
/** Stop solving the per-job-pair LPs of a series at larger sizes once one took longer than this. */
const EXACT_MAX_SECONDS = Number(flag('exact-max-seconds', '60'));
/** The per-job-pair LP grows 4x per doubling; past this many jobs it is not attempted (WASM heap, minutes). */
const EXACT_MAX_JOBS = Number(flag('exact-max-jobs', '1024'));
const POP_JOBS = Number(flag('pop-jobs', '2048'));
const BIG_JOBS = Number(flag('big-jobs', '10000'));
const SECTIONS = new Set(flag('sections', 'scale,pop,big,workers').split(','));
for (const x of SECTIONS) if (!['scale', 'pop', 'big', 'workers'].includes(x)) throw new Error(`--sections: unknown part ${x} (scale, pop, big, workers)`);

interface Row {
  /** Benchmark part: scale (1), pop (2), big (3). */
  section: 'scale' | 'pop' | 'big';
  policy: string;
  /** How the allocation was computed. */
  variant: string;
  workload: string;
  jobs: number;
  gpus: number;
  partitions: number;
  solveSeconds: number;
  objective: number;
  objectiveRatioToExact: number | null;
  /** Which optimum the ratio is against. */
  exact: string | null;
  columns?: number;
  pairCells?: number;
  rows?: number;
  /** CPU seconds of the process over the timed run (all threads; the machine is shared, so wall time overstates). */
  cpuSeconds?: number;
  /** Decomposition (big part): master solves, and the certified lower / upper bound ratio it reported. */
  iterations?: number;
  certifiedRatio?: number;
}

function tableFile(): string {
  const candidates = [join(root, 'data/gavel/simulation_throughputs.json'), '/work/shared/data/gavel/simulation_throughputs.json'];
  const f = candidates.find((c) => existsSync(c));
  if (!f) throw new Error(`simulation_throughputs.json not found in ${candidates.join(' or ')}`);
  return f;
}

/** Job-table keys with all three types measured (as bench/policies draws them). */
function keysOf(table: ThroughputTable): string[] {
  return jobKeys(table).filter((k) => throughputRow(table, k, TYPES).every((v) => v > 0));
}

type Workload = 'job-table' | 'estimated' | 'worst-case';

function snapshot(n: number, gpusPerType: number[], workload: Workload, table: ThroughputTable, keys: string[], seed: number): PolicySnapshot {
  const rnd = seededRandom(seed);
  const jobs: PolicyJob[] = [];
  for (let i = 0; i < n; i++) {
    let jobType: string;
    let scaleFactor: number;
    let throughput: number[];
    if (workload === 'job-table' || workload === 'estimated') {
      const key = keys[Math.floor(rnd() * keys.length)]!;
      ({ jobType, scaleFactor } = parseJobKey(key));
      throughput = throughputRow(table, key, TYPES);
      // An estimate's error: each type's value off by a factor in [0.9, 1.1], so no two jobs share a row.
      if (workload === 'estimated') throughput = throughput.map((v) => v * (0.9 + 0.2 * rnd()));
    } else {
      const v = 0.5 + 9.5 * rnd();
      const p = v * (0.3 + 0.7 * rnd());
      const k = p * (0.2 + 0.8 * rnd());
      const sfs = [1, 1, 1, 1, 2, 2, 4, 8];
      jobType = `random-${i}`;
      scaleFactor = sfs[Math.floor(rnd() * sfs.length)]!;
      throughput = [v, p, k];
    }
    jobs.push({
      id: `job${String(i).padStart(6, '0')}`,
      jobType,
      scaleFactor,
      priorityWeight: 1,
      throughput,
      totalSteps: 1e6,
      remainingSteps: 1e6,
      arrivalTime: i,
    });
  }
  const cluster = makeCluster(TYPES.map((t, k) => [t, gpusPerType[k]!] as [string, number]));
  return { now: 0, cluster, jobs, ...(workload === 'job-table' ? { throughputs: table } : {}) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Times `f` (median of 3 after a warm-up when one run is under 2 s), wall and process CPU seconds. */
function timed<T>(f: () => T): { value: T; seconds: number; cpuSeconds: number } {
  const cpu = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1e6;
  let c0 = process.cpuUsage();
  let t0 = performance.now();
  let value = f();
  const first = (performance.now() - t0) / 1000;
  if (first > 2) return { value, seconds: first, cpuSeconds: cpu(process.cpuUsage(c0)) };
  const times: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < 3; i++) {
    c0 = process.cpuUsage();
    t0 = performance.now();
    value = f();
    times.push((performance.now() - t0) / 1000);
    cpus.push(cpu(process.cpuUsage(c0)));
  }
  return { value, seconds: median(times), cpuSeconds: median(cpus) };
}

/**
 * `packedLasObjective` for allocations without pair rows: the same value, without building the per-job-pair model
 * (minutes at 10,000 jobs with a table).
 */
function lasObjective(s: PolicySnapshot, a: Allocation): number {
  const m = lasModel(s, true);
  let best = Infinity;
  s.jobs.forEach((job, j) => {
    if (!m.inLp[j]) return;
    const x = a.shares.get(job.id)!;
    let u = 0;
    for (let k = 0; k < x.length; k++) u += m.a[j]![k]! * x[k]!;
    best = Math.min(best, m.mult[j]! * u);
  });
  return best === Infinity ? 0 : best;
}

function check(s: PolicySnapshot, a: Allocation): void {
  const sf = new Map(s.jobs.map((j) => [j.id, j.scaleFactor]));
  validateAllocation(a, s.cluster, (id) => sf.get(id)!);
}

/** Seconds from starting a worker thread to HiGHS loaded in it (what each POP worker would pay once). */
async function workerStartSeconds(): Promise<number> {
  const solver = new URL('../../src/solver/index.js', import.meta.url).href;
  const code = `import(${JSON.stringify(solver)}).then(async (m) => { await m.initSolver(); (await import('node:worker_threads')).parentPort.postMessage('ready'); });`;
  const t0 = performance.now();
  const w = new Worker(code, { eval: true });
  await new Promise<void>((res, rej) => {
    w.once('message', () => res());
    w.once('error', rej);
  });
  const s = (performance.now() - t0) / 1000;
  await w.terminate();
  return s;
}

async function main(): Promise<void> {
  await initSolver();
  // Time the solver itself, not the memo of identical models (src/solver/cache.ts).
  configureSolveCache({ maxBytes: 0 });
  const file = tableFile();
  const table = readThroughputs(file);
  const keys = keysOf(table);
  const outDir = flag('out', join(root, 'bench/results'));
  // Parts not run keep their rows (and the worker start time) from the last full run.
  const old = SECTIONS.size < 4 ? (JSON.parse(readFileSync(join(outDir, 'packing.json'), 'utf8')) as { workerStartSeconds: number; rows: Row[] }) : undefined;
  const results: Row[] = old ? old.rows.filter((r) => !SECTIONS.has(r.section)) : [];
  const log = (r: Row): void => {
    results.push(r);
    console.log(
      `${r.policy.padEnd(26)} ${r.variant.padEnd(26)} ${r.workload.padEnd(10)} n=${String(r.jobs).padStart(5)} k=${String(r.partitions).padStart(2)} ${r.solveSeconds.toFixed(4)}s obj=${r.objective.toPrecision(8)} ratio=${r.objectiveRatioToExact?.toFixed(6) ?? '-'}${r.columns !== undefined ? ` cols=${r.columns}` : ''}`,
    );
  };
  // Let V8 optimise the WASM before timing (see bench/policies).
  const warmUntil = performance.now() + 3000;
  while (performance.now() < warmUntil) solvePackedLas(snapshot(256, [64, 64, 64], 'job-table', table, keys, 1));

  // 1. Packed LAS: class-pair LP vs per-job-pair LP, with and without pruning.
  const skip = new Set<string>();
  for (const n of SECTIONS.has('scale') ? SIZES : []) {
    const g = Math.max(1, Math.floor(n / 4));
    const s = snapshot(n, [g, g, g], 'job-table', table, keys, 42 + n);
    const variants: Array<{ name: string; perJob: boolean; prune: boolean }> = [
      { name: 'per-job-pair LP (plain)', perJob: true, prune: false },
      { name: 'per-job-pair LP, pruned', perJob: true, prune: true },
      { name: 'class-pair LP, unpruned', perJob: false, prune: false },
      { name: 'class-pair LP (policy)', perJob: false, prune: true },
    ];
    const got: Array<{ v: (typeof variants)[number]; r: ReturnType<typeof solvePackedLas>; seconds: number; objective: number }> = [];
    for (const v of variants) {
      if (skip.has(v.name) || (v.perJob && n > EXACT_MAX_JOBS)) continue;
      let out: { value: ReturnType<typeof solvePackedLas>; seconds: number };
      try {
        out = v.perJob ? (() => {
          const t0 = performance.now();
          const value = solvePackedLas(s, { perJob: true, prune: v.prune });
          return { value, seconds: (performance.now() - t0) / 1000 };
        })() : timed(() => solvePackedLas(s, { prune: v.prune }));
      } catch (e) {
        console.log(`  ${v.name} at n=${n}: ${e instanceof Error ? e.message : String(e)}; not run at larger sizes`);
        skip.add(v.name);
        continue;
      }
      check(s, out.value.allocation);
      got.push({ v, r: out.value, seconds: out.seconds, objective: packedLasObjective(s, out.value.allocation) });
      if (v.perJob && out.seconds > EXACT_MAX_SECONDS) {
        console.log(`  ${v.name} took ${out.seconds.toFixed(1)} s at n=${n}; not run at larger sizes`);
        skip.add(v.name);
      }
    }
    const exactRun = got.find((x) => x.v.perJob);
    const classRun = got.find((x) => x.v.name === 'class-pair LP (policy)')!;
    const exact = exactRun ? exactRun.objective : classRun.objective;
    for (const x of got) {
      log({
        section: 'scale',
        policy: 'max_min_fairness_packed',
        variant: x.v.name,
        workload: 'job-table',
        jobs: n,
        gpus: s.cluster.totalGpus,
        partitions: 1,
        solveSeconds: Number(x.seconds.toFixed(6)),
        objective: Number(x.objective.toPrecision(10)),
        objectiveRatioToExact: Number((x.objective / exact).toFixed(8)),
        exact: exactRun ? exactRun.v.name : 'class-pair LP (policy)',
        columns: x.r.columns,
        pairCells: x.r.model.pairCellsAfterPruning,
        rows: x.r.allocation.shares.size,
      });
    }
    // Unpacked aware LAS on the same instance, for the gain from packing.
    const un = timed(() => getPolicy('max_min_fairness_perf').allocate(s));
    log({
      section: 'scale',
      policy: 'max_min_fairness_perf',
      variant: 'class LP, no space sharing',
      workload: 'job-table',
      jobs: n,
      gpus: s.cluster.totalGpus,
      partitions: 1,
      solveSeconds: Number(un.seconds.toFixed(6)),
      objective: Number(packedLasObjective(s, un.value.allocation).toPrecision(10)),
      objectiveRatioToExact: Number((packedLasObjective(s, un.value.allocation) / exact).toFixed(8)),
      exact: 'packed optimum',
    });
  }

  // 2. POP with space sharing.
  const popG = POP_JOBS / 4;
  const sPop = snapshot(POP_JOBS, [popG, popG, popG], 'job-table', table, keys, 7);
  // Exact on this instance: the class-pair LP (the per-job-pair LP does not fit at this size).
  const popExact = SECTIONS.has('pop') ? packedLasObjective(sPop, solvePackedLas(sPop).allocation) : 0;
  for (const k of SECTIONS.has('pop') ? [1, 2, 4, 8, 16] : []) {
    const pol: Policy = getPolicy('max_min_fairness_packed', { partitions: k });
    const out = timed(() => pol.allocate(sPop));
    check(sPop, out.value.allocation);
    const obj = packedLasObjective(sPop, out.value.allocation);
    log({
      section: 'pop',
      policy: 'max_min_fairness_packed',
      variant: k === 1 ? 'class-pair LP (policy)' : 'POP over class-pair LPs',
      workload: 'job-table',
      jobs: POP_JOBS,
      gpus: sPop.cluster.totalGpus,
      partitions: k,
      solveSeconds: Number(out.seconds.toFixed(6)),
      objective: Number(obj.toPrecision(10)),
      objectiveRatioToExact: Number((obj / popExact).toFixed(8)),
      exact: 'class-pair LP (policy)',
    });
  }

  // 3. No space sharing, 10,000 jobs on 10,000 GPUs, and (contended) on a fifth as many, where capacity rather than
  // one job's top speed sets the level and the decomposition needs the most master solves.
  const third = Math.floor(BIG_JOBS / 3);
  const fifteenth = Math.floor(BIG_JOBS / 15);
  const bigCases: Array<{ workload: Workload; gpus: number[] }> = [
    ...(['job-table', 'estimated', 'worst-case'] as const).map((workload) => ({ workload, gpus: [BIG_JOBS - 2 * third, third, third] })),
    ...(['estimated', 'worst-case'] as const).map((workload) => ({ workload, gpus: [BIG_JOBS / 5 - 2 * fifteenth, fifteenth, fifteenth] })),
  ];
  for (const { workload, gpus } of SECTIONS.has('big') ? bigCases : []) {
    const s = snapshot(BIG_JOBS, gpus, workload, table, keys, 99);
    const contended = gpus[0]! + gpus[1]! + gpus[2]! < BIG_JOBS;
    // The exact LP once (timed as the policy would run it, rows included), for the reference level.
    const exactRun = timed(() => {
      const r = solveLas(s, { aware: true, solver: 'lp' }, 'bench');
      return { r, allocation: finishClassAllocation(r.model.problem, r.size, r.classShares, s.jobs, r.classOf) };
    });
    const exact = exactRun.value.r;
    const decomposed = solveLas(s, { aware: true, solver: 'decomposed' }, 'bench').decomposition!;
    const runs: Array<{ variant: string; pol?: Policy; k: number }> = [
      { variant: 'exact LP', k: 1 },
      { variant: 'decomposed', pol: createLasPolicy('max_min_fairness_perf', [], { aware: true, solver: 'decomposed' }), k: 1 },
      ...(contended ? [1] : [1, 4, 16, 64]).map((k) => ({ variant: k === 1 ? 'policy (auto)' : 'POP over the policy (auto)', pol: getPolicy('max_min_fairness_perf', { partitions: k }), k })),
    ];
    for (const r of runs) {
      const out = r.pol ? timed(() => r.pol!.allocate(s).allocation) : { value: exactRun.value.allocation, seconds: exactRun.seconds, cpuSeconds: exactRun.cpuSeconds };
      check(s, out.value);
      const obj = lasObjective(s, out.value);
      // What `auto` chose at k = 1: the decomposition from DECOMPOSE_MIN_CLASSES classes.
      const usesDecomposition = r.variant === 'decomposed' || (r.variant === 'policy (auto)' && exact.classes >= DECOMPOSE_MIN_CLASSES);
      log({
        section: 'big',
        policy: 'max_min_fairness_perf',
        variant: r.variant === 'policy (auto)' ? `policy (auto: ${usesDecomposition ? 'decomposed' : 'exact LP'})` : r.variant,
        workload,
        jobs: BIG_JOBS,
        gpus: s.cluster.totalGpus,
        partitions: r.k,
        solveSeconds: Number(out.seconds.toFixed(6)),
        cpuSeconds: Number(out.cpuSeconds.toFixed(6)),
        objective: Number(obj.toPrecision(10)),
        objectiveRatioToExact: Number((obj / exact.level).toFixed(8)),
        exact: 'exact LP optimum (k = 1)',
        ...(usesDecomposition ? { iterations: decomposed.iterations, certifiedRatio: Number(decomposed.ratio.toFixed(8)) } : {}),
      });
    }
  }

  // 4. Worker threads.
  let workerStart = old?.workerStartSeconds ?? NaN;
  if (SECTIONS.has('workers')) workerStart = median([await workerStartSeconds(), await workerStartSeconds(), await workerStartSeconds()]);
  const popK8 = results.find((r) => r.section === 'pop' && r.partitions === 8);
  const perPartition8 = popK8 ? popK8.solveSeconds / 8 : NaN;
  console.log(`worker thread start + HiGHS load: ${workerStart.toFixed(3)} s (median of 3); packed POP per partition at k=8: ${perPartition8.toFixed(3)} s`);

  const order = ['scale', 'pop', 'big'];
  results.sort((x, y) => order.indexOf(x.section) - order.indexOf(y.section));
  writeFileSync(join(outDir, 'packing.json'), `${JSON.stringify({ workerStartSeconds: Number(workerStart.toFixed(4)), rows: results }, null, 2)}\n`);
  const fmt = (v: number | null | undefined, d: number): string => (v === null || v === undefined ? '' : v.toFixed(d));
  const table1 = results.filter((r) => r.section === 'scale');
  const lines = [
    '# Space sharing and POP benchmark',
    '',
    `Throughputs: ${file.startsWith(root) ? file.slice(root.length + 1) : file}; jobs drawn uniformly from its ${keys.length} (job type, scale factor) rows with all three types measured; weight 1.`,
    'Times: wall time of one allocation (build, solve, rows), median of 3 after a warm-up when a run is under 2 s, else one run. Objective: the smallest `scale * throughput / T_eq` over jobs, evaluated on the returned allocation (pair rows at co-located throughputs). Ratio: to the exact optimum named in the last column.',
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), shared with other work: load average ${os.loadavg()[0]!.toFixed(1)} at the end, so compare times within this run. Node ${process.version}. Rerun: \`npm run bench:packing\`.`,
    ...(old ? [`This run re-measured only: ${[...SECTIONS].join(', ')}; the other parts' rows are from the previous full run (another load).`] : []),
    '',
    '## Aware LAS with space sharing (`max_min_fairness_packed`), n/4 GPUs of each of v100, p100, k80',
    '',
    'Per-job-pair LP: a column per job and per pair of equal-scale jobs per type (the exact formulation, as Gavel). Class-pair LP: the policy (docs/policies.md). Pruned: (pair, type) cells whose co-located throughputs do not beat time slicing are dropped.',
    '',
    '| variant | jobs | GPUs | LP columns | pair cells | allocation rows | time (s) | objective | ratio to exact | exact |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...table1.map(
      (r) =>
        `| ${r.policy === 'max_min_fairness_perf' ? 'no space sharing (`max_min_fairness_perf`)' : r.variant} | ${r.jobs} | ${r.gpus} | ${r.columns ?? ''} | ${r.pairCells ?? ''} | ${r.rows ?? ''} | ${fmt(r.solveSeconds, 4)} | ${r.objective.toPrecision(6)} | ${fmt(r.objectiveRatioToExact, 6)} | ${r.exact ?? ''} |`,
    ),
    '',
    `## POP with space sharing: ${POP_JOBS} jobs on ${popG} + ${popG} + ${popG} GPUs`,
    '',
    '| partitions | time (s) | objective | ratio to exact |',
    '|---:|---:|---:|---:|',
    ...results.filter((r) => r.section === 'pop').map(
      (r) => `| ${r.partitions} | ${fmt(r.solveSeconds, 4)} | ${r.objective.toPrecision(6)} | ${fmt(r.objectiveRatioToExact, 6)} |`,
    ),
    '',
    `## Without space sharing: ${BIG_JOBS} jobs on ${BIG_JOBS} GPUs, and contended on ${BIG_JOBS / 5} (\`max_min_fairness_perf\`)`,
    '',
    'Estimated: job-table rows, each type off by a factor drawn from [0.9, 1.1] per job (as estimates carry), so no two jobs share a row. Worst case: every job has its own random throughput row. In both each class holds one job, and the policy (`solver: auto`) decomposes over the GPU types (docs/policies.md, "Many distinct rows"). Decomposed: forced on (also on the job table). CPU: process CPU seconds of the same runs (the machine is shared; wall time includes waiting). Certified: the lower / upper bound ratio the decomposition itself reports (a guarantee against the exact optimum without solving it). Ratio: the evaluated objective over the exact LP optimum.',
    '',
    '| workload | GPUs | variant | partitions | time (s) | CPU (s) | objective | ratio to exact | certified | master solves |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    ...results
      .filter((r) => r.section === 'big')
      .map(
        (r) =>
          `| ${r.workload} | ${r.gpus} | ${r.variant} | ${r.partitions} | ${fmt(r.solveSeconds, 4)} | ${fmt(r.cpuSeconds, 4)} | ${r.objective.toPrecision(6)} | ${fmt(r.objectiveRatioToExact, 6)} | ${fmt(r.certifiedRatio, 6)} | ${r.iterations ?? ''} |`,
      ),
    '',
    '## Worker threads for POP',
    '',
    `Starting a worker thread and loading HiGHS in it: ${workerStart.toFixed(3)} s (median of 3). Packed POP at k = 8 spends ${perPartition8.toFixed(3)} s per partition, sequentially, on this machine.`,
    '',
  ];
  writeFileSync(join(outDir, 'packing.md'), lines.join('\n'));
  console.log(`wrote ${join(outDir, 'packing.json')} and packing.md`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
