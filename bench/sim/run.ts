/**
 * Times a full continuous-arrival simulation, Gavel Figure-8 style: Poisson arrivals at 4.8 jobs/h of Gavel's
 * single-GPU job mix, measurement window jobs 4000-4999, heterogeneity-aware LAS (`max_min_fairness_perf`),
 * 36 v100 + 36 p100 + 36 k80 (1 GPU per server), 360 s rounds, seed 0. Records wall time, rounds, allocations, LP
 * solves and where the time goes. Writes bench/results/sim.{json,md}.
 *
 *   npm run bench:sim [-- --policy max_min_fairness --rate 5.6 --seed 1 --window 4000:5000 --multi-gpu]
 *   npm run bench:sim -- --headline [--gavel-rng]   (aware vs agnostic LAS at 4.8 and 5.6 jobs/h, seeds 0-2; ~4 min;
 *   --gavel-rng: Gavel's exact generated jobs for those seeds)
 *   npm run bench:sim -- --space-sharing [--gavel-rng] [--seeds 0,1,2] [--rate 5.6]   (aware LAS without and with
 *   space sharing, max_min_fairness_perf vs max_min_fairness_packed; writes bench/results/sim.space-sharing*.{json,md})
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCluster, readThroughputs, writeFileAtomic } from '../../src/io/index.js';
import { getPolicy, initSolver } from '../../src/policies/index.js';
import { LpBuilder } from '../../src/solver/index.js';
import { simulate } from '../../src/sim/index.js';
import { flag, repoRoot } from '../root.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = repoRoot(here);
const args = process.argv.slice(2);

// Count LP solves and the time spent in them (benchmark-only instrumentation of the solver layer).
let lpSolves = 0;
let lpSeconds = 0;
const origSolve = LpBuilder.prototype.solve;
LpBuilder.prototype.solve = function (this: LpBuilder, ...a: Parameters<typeof origSolve>) {
  const t0 = performance.now();
  try {
    return origSolve.apply(this, a);
  } finally {
    lpSolves++;
    lpSeconds += (performance.now() - t0) / 1000;
  }
};

interface Run {
  policy: string;
  rate: number;
  seed: number;
  window: { start: number; end: number };
  multiGpu: boolean;
  avgJctHours: number | null;
  medianJctHours: number | null;
  p99JctHours: number | null;
  makespanHours: number | null;
  utilization: number;
  jobsGenerated: number;
  rounds: number;
  allocations: number;
  lpSolves: number;
  wallSeconds: number;
  policySeconds: number;
  lpSeconds: number;
  mechanismSeconds: number;
  executorSeconds: number;
  otherSeconds: number;
}

const gavelRng = args.includes('--gavel-rng');

async function one(policyName: string, rate: number, seed: number, window: { start: number; end: number }, multiGpu: boolean): Promise<Run> {
  const throughputs = readThroughputs(join(root, 'data', 'gavel', 'simulation_throughputs.json'));
  const cluster = parseCluster('v100:36,p100:36,k80:36', '1');
  await initSolver();
  lpSolves = 0;
  lpSeconds = 0;
  const out = await simulate({ cluster, throughputs, policy: getPolicy(policyName), generate: { rate, multiGpu, rng: gavelRng ? 'gavel' : 'pure-rand' }, window, seed, roundDuration: 360 });
  const s = out.metrics.summary;
  const r = out.result;
  return {
    policy: policyName,
    rate,
    seed,
    window,
    multiGpu,
    avgJctHours: s.avgJctHours,
    medianJctHours: s.medianJctHours,
    p99JctHours: s.p99JctHours,
    makespanHours: s.makespanHours,
    utilization: s.utilization,
    jobsGenerated: s.jobs,
    rounds: s.rounds,
    allocations: s.policyCalls,
    lpSolves,
    wallSeconds: out.wallSeconds,
    policySeconds: r.policySeconds,
    lpSeconds,
    mechanismSeconds: r.mechanismSeconds,
    executorSeconds: r.executorSeconds,
    otherSeconds: out.wallSeconds - r.policySeconds - r.mechanismSeconds - r.executorSeconds,
  };
}

const f = (x: number | null, d = 2): string => (x === null ? '-' : x.toFixed(d));
const [ws, we] = flag('window', '4000:5000').split(':').map(Number);
const window = { start: ws!, end: we! };

if (args.includes('--headline')) {
  const headlineName = gavelRng ? 'sim.headline.gavel-rng' : 'sim.headline';
  // Gavel's headline (Fig. 8, single-GPU jobs): aware LAS ~2x lower avg JCT than agnostic at 4.8 jobs/h, ~3.5x at 5.6.
  const runs: Run[] = [];
  for (const rate of [4.8, 5.6]) {
    for (const seed of [0, 1, 2]) {
      for (const policy of ['max_min_fairness', 'max_min_fairness_perf']) {
        const r = await one(policy, rate, seed, window, false);
        runs.push(r);
        process.stderr.write(`${policy} rate ${rate} seed ${seed}: avg JCT ${f(r.avgJctHours)} h (${r.wallSeconds.toFixed(1)} s)\n`);
        writeFileAtomic(join(root, 'bench', 'results', `${headlineName}.json`), `${JSON.stringify({ date: new Date().toISOString(), gavelRng, runs }, null, 2)}\n`);
      }
    }
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const lines = ['| jobs/h | seed | agnostic LAS avg JCT h | aware LAS avg JCT h | ratio |', '|---|---|---|---|---|'];
  for (const rate of [4.8, 5.6]) {
    const ag: number[] = [];
    const aw: number[] = [];
    for (const seed of [0, 1, 2]) {
      const a = runs.find((r) => r.rate === rate && r.seed === seed && r.policy === 'max_min_fairness')!;
      const b = runs.find((r) => r.rate === rate && r.seed === seed && r.policy === 'max_min_fairness_perf')!;
      ag.push(a.avgJctHours!);
      aw.push(b.avgJctHours!);
      lines.push(`| ${rate} | ${seed} | ${f(a.avgJctHours)} | ${f(b.avgJctHours)} | ${(a.avgJctHours! / b.avgJctHours!).toFixed(2)}x |`);
    }
    lines.push(`| ${rate} | mean | ${f(mean(ag))} | ${f(mean(aw))} | ${(mean(ag) / mean(aw)).toFixed(2)}x |`);
  }
  writeFileAtomic(join(root, 'bench', 'results', `${headlineName}.md`), `${lines.join('\n')}\n`);
  console.log(lines.join('\n'));
} else if (args.includes('--space-sharing')) {
  // Gavel section 7.2: aware LAS with space sharing beats it without (26.4 h -> 19.1 h average JCT at 5.6 jobs/h).
  const name = gavelRng ? 'sim.space-sharing.gavel-rng' : 'sim.space-sharing';
  const rate = Number(flag('rate', '5.6'));
  const seeds = flag('seeds', '0,1,2').split(',').map(Number);
  const policies = ['max_min_fairness_perf', 'max_min_fairness_packed'];
  const runs: Run[] = [];
  for (const seed of seeds) {
    for (const policy of policies) {
      const r = await one(policy, rate, seed, window, false);
      runs.push(r);
      process.stderr.write(`${policy} rate ${rate} seed ${seed}: avg JCT ${f(r.avgJctHours)} h (${r.wallSeconds.toFixed(1)} s)\n`);
      writeFileAtomic(join(root, 'bench', 'results', `${name}.json`), `${JSON.stringify({ date: new Date().toISOString(), gavelRng, runs }, null, 2)}\n`);
    }
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const lines = [
    `| jobs/h | seed | aware LAS avg JCT h | aware LAS + space sharing avg JCT h | ratio | utilisation (without / with) | wall s (without / with) |`,
    '|---|---|---|---|---|---|---|',
  ];
  const without: number[] = [];
  const withSs: number[] = [];
  for (const seed of seeds) {
    const a = runs.find((r) => r.seed === seed && r.policy === policies[0])!;
    const b = runs.find((r) => r.seed === seed && r.policy === policies[1])!;
    without.push(a.avgJctHours!);
    withSs.push(b.avgJctHours!);
    lines.push(
      `| ${rate} | ${seed} | ${f(a.avgJctHours)} | ${f(b.avgJctHours)} | ${(a.avgJctHours! / b.avgJctHours!).toFixed(2)}x | ${(100 * a.utilization).toFixed(1)}% / ${(100 * b.utilization).toFixed(1)}% | ${a.wallSeconds.toFixed(0)} / ${b.wallSeconds.toFixed(0)} |`,
    );
  }
  lines.push(`| ${rate} | mean | ${f(mean(without))} | ${f(mean(withSs))} | ${(mean(without) / mean(withSs)).toFixed(2)}x | | |`);
  lines.push(`| 5.6 | Gavel paper | 26.4 | 19.1 | 1.38x | | |`);
  writeFileAtomic(join(root, 'bench', 'results', `${name}.md`), `${lines.join('\n')}\n`);
  console.log(lines.join('\n'));
} else {
  const r = await one(flag('policy', 'max_min_fairness_perf'), Number(flag('rate', '4.8')), Number(flag('seed', '0')), window, args.includes('--multi-gpu'));
  const md = [
    '# Simulation benchmark',
    '',
    `${r.policy}, ${r.rate} jobs/h${r.multiGpu ? ' (multi-GPU jobs)' : ''}${gavelRng ? " (Gavel's RNG)" : ''}, window jobs ${window.start}-${window.end - 1}, seed ${r.seed}, 36+36+36 GPUs (1 per server), 360 s rounds.`,
    `Generated by \`npm run bench:sim\` on ${new Date().toISOString().slice(0, 10)} (Node ${process.version}).`,
    '',
    '| metric | value |',
    '|---|---|',
    `| wall time | ${r.wallSeconds.toFixed(2)} s |`,
    `| jobs generated | ${r.jobsGenerated} |`,
    `| rounds simulated | ${r.rounds} |`,
    `| allocations (policy calls) | ${r.allocations} |`,
    `| LP solves | ${r.lpSolves} |`,
    `| time in the policy | ${r.policySeconds.toFixed(2)} s (LP solves ${r.lpSeconds.toFixed(2)} s) |`,
    `| time in the mechanism | ${r.mechanismSeconds.toFixed(2)} s |`,
    `| time in the simulated executor | ${r.executorSeconds.toFixed(2)} s |`,
    `| other (engine bookkeeping, metrics, generation) | ${r.otherSeconds.toFixed(2)} s |`,
    `| avg / median / p99 JCT | ${f(r.avgJctHours)} / ${f(r.medianJctHours)} / ${f(r.p99JctHours)} h |`,
    `| makespan | ${f(r.makespanHours)} h |`,
    `| utilisation | ${(100 * r.utilization).toFixed(1)}% |`,
    '',
  ].join('\n');
  writeFileAtomic(join(root, 'bench', 'results', 'sim.json'), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, ...r }, null, 2)}\n`);
  writeFileAtomic(join(root, 'bench', 'results', 'sim.md'), md);
  console.log(md);
}
