/**
 * The change budget (`--max-changes`, src/mechanism/budget.ts) on a small simulation: average JCT and jobs whose
 * placement a round changes (starts, stops, moves), without a budget and with a few. Gavel's generated job mix with
 * multi-GPU jobs, Poisson arrivals, max_min_fairness_perf, 360 s rounds. Writes bench/results/churn.{json,md}.
 *
 *   npm run bench:churn [-- --jobs 300 --rate 6 --cluster v100:16,p100:16,k80:16 --gpus-per-server 4 --budgets 4,8,16,32 --seed 0
 *     --round 360 --restart-overhead 0]   (with a restart overhead: bench/results/churn.restart-<s>s.{json,md})
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCluster, readThroughputs, writeFileAtomic } from '../../src/io/index.js';
import { getPolicy, initSolver } from '../../src/policies/index.js';
import { countChanges } from '../../src/mechanism/index.js';
import type { Assignment } from '../../src/model/index.js';
import { simulate } from '../../src/sim/index.js';
import { flag, percentile, repoRoot } from '../root.js';

const root = repoRoot(dirname(fileURLToPath(import.meta.url)));
const jobs = Number(flag('jobs', '300'));
const rate = Number(flag('rate', '6'));
const clusterSpec = flag('cluster', 'v100:16,p100:16,k80:16');
const perServer = flag('gpus-per-server', '4');
const seed = Number(flag('seed', '0'));
const budgets = flag('budgets', '4,8,16,32').split(',').map(Number);
const policy = flag('policy', 'max_min_fairness_perf');
const restartOverhead = Number(flag('restart-overhead', '0'));
const round = Number(flag('round', '360'));
const suffix = restartOverhead > 0 ? `.restart-${restartOverhead}s` : '';

interface Row {
  maxChanges: number | null;
  avgJctHours: number;
  makespanHours: number;
  rounds: number;
  changesPerRound: { mean: number; p50: number; p95: number; max: number };
  /** Rounds whose plan changed more jobs than this run's budget (must be 0). */
  roundsOverBudget: number;
  finished: number;
  cpuSeconds: number;
}

async function run(maxChanges: number | undefined): Promise<Row> {
  // Changes per round, counted from the plans themselves (the same rule as the budget: a job that finished or was
  // cancelled frees its GPUs without counting), so runs with and without a budget are measured alike.
  const active = new Set<string>();
  let prev: readonly Assignment[] = [];
  const perRound: number[] = [];
  const cpu0 = process.cpuUsage();
  const out = await simulate({
    cluster: parseCluster(clusterSpec, perServer),
    throughputs: readThroughputs(join(root, 'data/gavel/simulation_throughputs.json')),
    policy: getPolicy(policy),
    generate: { rate, limit: jobs, multiGpu: true },
    seed,
    roundDuration: round,
    ...(restartOverhead > 0 ? { restartOverhead } : {}),
    ...(maxChanges !== undefined ? { maxChanges } : {}),
    observer: {
      onJobArrived: (id) => void active.add(id),
      onJobFinished: (id) => void active.delete(id),
      onJobRemoved: (id) => void active.delete(id),
      onPlan: (p) => {
        perRound.push(countChanges(prev, p.assignments, active));
        prev = p.assignments;
      },
    },
  });
  const cpu = process.cpuUsage(cpu0);
  const mean = perRound.reduce((a, b) => a + b, 0) / Math.max(1, perRound.length);
  return {
    maxChanges: maxChanges ?? null,
    avgJctHours: out.metrics.summary.avgJctHours!,
    makespanHours: out.metrics.summary.makespanHours!,
    rounds: perRound.length,
    changesPerRound: { mean, p50: percentile(perRound, 0.5), p95: percentile(perRound, 0.95), max: Math.max(0, ...perRound) },
    roundsOverBudget: maxChanges === undefined ? 0 : perRound.filter((c) => c > maxChanges).length,
    finished: out.result.jobs.filter((j) => j.finishTime !== undefined).length,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

await initSolver();
const rows: Row[] = [];
for (const b of [undefined, ...budgets]) {
  const r = await run(b);
  rows.push(r);
  process.stderr.write(`max-changes ${b ?? 'none'}: avg JCT ${r.avgJctHours.toFixed(2)} h, changes/round mean ${r.changesPerRound.mean.toFixed(1)} max ${r.changesPerRound.max}\n`);
}
const setup = { jobs, rate, cluster: clusterSpec, gpusPerServer: perServer, policy, seed, roundSeconds: round, restartOverheadSeconds: restartOverhead, multiGpu: true };
writeFileAtomic(join(root, `bench/results/churn${suffix}.json`), `${JSON.stringify({ setup, runs: rows }, null, 2)}\n`);
const md = [
  `# Change budget: ${jobs} generated jobs (multi-GPU mix), ${rate}/h, ${clusterSpec} (${perServer} GPUs/server), ${policy}, ${round} s rounds, restart overhead ${restartOverhead} s, seed ${seed}`,
  '',
  '| --max-changes | avg JCT (h) | makespan (h) | rounds | changes/round mean | p50 | p95 | max | finished |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.maxChanges ?? 'none'} | ${r.avgJctHours.toFixed(2)} | ${r.makespanHours.toFixed(1)} | ${r.rounds} | ${r.changesPerRound.mean.toFixed(2)} | ${r.changesPerRound.p50} | ${r.changesPerRound.p95} | ${r.changesPerRound.max} | ${r.finished}/${jobs} |`),
  '',
].join('\n');
writeFileAtomic(join(root, `bench/results/churn${suffix}.md`), md);
process.stdout.write(md);
