/**
 * Spot vs on-demand (issue 23): cost, JCT and SLO misses of Rondo's tier strategies and cost policies on the shipped
 * GCP A100 price history and Bamboo's GCP A100 preemptible-availability trace (us-east1), with Gavel's Figure 8
 * workload (Poisson arrivals of Gavel's single-GPU job mix; durations in V100 time, run on A100 at the documented
 * v100 x 2 mapping) and Gavel's SLO factors 1.2 / 2 / 10. Writes bench/results/spot.{json,md}.
 *
 *   npm run bench:spot [-- --rate 4 --jobs 300 --seed 0 --on-demand 16]
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCapacityFile, readPricesFile, readThroughputs, writeFileAtomic, type PriceTrace } from '../../src/io/index.js';
import { getPolicy, initSolver } from '../../src/policies/index.js';
import { mergeCapacity, simulate, type SimulationOutput, type SpotSummary } from '../../src/sim/index.js';
import { makeCluster } from '../../src/model/index.js';
import { flag, repoRoot } from '../root.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = repoRoot(here);
const rate = Number(flag('rate', '4'));
const jobs = Number(flag('jobs', '300'));
const seed = Number(flag('seed', '0'));
// About the spot trace's mean (45 VMs), so on-demand only is not short of GPUs.
const onDemand = Number(flag('on-demand', '48'));
const REGION = 'us-east1';
// The first change of the A100 spot price in us-east1 in the shipped history is 10,468,443 s after its start
// (2024-10-01); start the run 3 days before it so the workload sees prices move.
const PRICE_OFFSET_S = 10_468_443 - 3 * 86_400;
const CHECKPOINT = { intervalS: 1800, costS: 30 };
const SLO_FACTORS = [1.2, 2, 10];

/** The price history seen from `offset` on: the price in force then at time 0, later changes shifted. */
function shift(trace: PriceTrace, offset: number): PriceTrace {
  const byType = new Map<string, Array<{ time: number; type: string; usdPerGpuHour: number }>>();
  for (const p of trace.points) byType.set(p.type, [...(byType.get(p.type) ?? []), p]);
  const out: Array<{ time: number; type: string; usdPerGpuHour: number }> = [];
  for (const [type, list] of byType) {
    const before = list.filter((p) => p.time <= offset);
    out.push({ time: 0, type, usdPerGpuHour: before[before.length - 1]!.usdPerGpuHour });
    for (const p of list) if (p.time > offset) out.push({ time: p.time - offset, type, usdPerGpuHour: p.usdPerGpuHour });
  }
  return { points: out.sort((a, b) => a.time - b.time) };
}

interface Config {
  readonly name: string;
  /** A registered policy (docs/baselines.md, "Spot and on-demand tiers"). */
  readonly policy: string;
}

const CONFIGS: Config[] = [
  { name: 'on-demand only (LAS)', policy: 'on_demand_only' },
  { name: 'spot only (LAS)', policy: 'spot_only' },
  { name: 'greedy cheapest', policy: 'greedy_cheapest' },
  { name: 'min-cost (Gavel, market prices)', policy: 'max_sum_throughput_normalized_by_cost_perf' },
  { name: 'min-cost with SLOs (Gavel, market prices)', policy: 'max_sum_throughput_normalized_by_cost_perf_SLOs' },
  { name: 'deadline-aware spot (Proteus-like, LAS)', policy: 'spot_deadline' },
];

/** Every job finished exactly once, and busy GPUs of each type never exceeded the capacity in force. */
function invariants(out: SimulationOutput, n: number): { finishedOnce: boolean; capacityRespected: boolean } {
  const ids = out.result.jobs.map((j) => j.id);
  const finishedOnce = new Set(ids).size === ids.length && ids.length === n && out.result.jobs.every((j) => j.finishTime !== undefined);
  const run = out.spotRun!;
  const cuts = [...new Set(run.usage.flatMap((u) => [u.start, u.end]))].sort((a, b) => a - b);
  let capacityRespected = true;
  // Sweep over the instants where usage changes: add spans as they start, drop them as they end.
  const starts = [...run.usage].sort((a, b) => a.start - b.start);
  const open: typeof starts = [];
  let next = 0;
  for (let i = 0; i + 1 < cuts.length && capacityRespected; i++) {
    const mid = (cuts[i]! + cuts[i + 1]!) / 2;
    while (next < starts.length && starts[next]!.start < mid) open.push(starts[next++]!);
    const used = new Map<string, number>();
    for (let k = open.length - 1; k >= 0; k--) {
      const u = open[k]!;
      if (u.end <= mid) open.splice(k, 1);
      else used.set(u.type, (used.get(u.type) ?? 0) + u.gpus);
    }
    for (const [type, g] of used) if (g > run.capacity.countAt(type, mid)) capacityRespected = false;
  }
  return { finishedOnce, capacityRespected };
}

const LITERATURE =
  'Compared with the literature: Proteus (EuroSys\'17) reports 85% lower cost than on-demand ("non-transient") ' +
  'pricing on EC2 spot markets, and the DISPA\'20 study up to 3.5x lower training cost than a static instance choice ' +
  'by following prices across types, regions and the spot market. Here the direction is the same and the order of ' +
  'magnitude close (spot-heavy configurations cost about 40-50% of on-demand only). The saving is smaller because ' +
  'GCP\'s A100 spot discount in this window is ~60% (spot/on-demand ~0.4; the AWS p3 spot prices recorded in ' +
  '../shared/data/spot/README.md are 0.11-0.35 of on-demand, and Proteus bid in 2016 EC2 markets), ' +
  'the run uses one card type in one region (DISPA\'s cross-type and cross-region moves are not exercised), ' +
  'revocations throw work away (1,800 s checkpoints), and Proteus also buys free compute from revoked-within-the-hour ' +
  'instances under EC2\'s old billing, which GCP\'s per-second billing does not give.';

async function main(): Promise<void> {
  await initSolver();
  const throughputs = readThroughputs(join(root, 'data/gavel/simulation_throughputs.json'));
  const spotTrace = readCapacityFile(join(root, 'data/spot/bamboo-gcp-a100-us-east1.csv'));
  const od = { keys: [{ gpu: 'a100', tier: 'on-demand' as const, region: REGION, type: `a100.${REGION}` }], events: [{ time: 0, type: `a100.${REGION}`, gpus: onDemand, notice: 0 }] };
  const capacity = mergeCapacity([od, spotTrace]);
  const allPrices = shift(readPricesFile(join(root, 'data/spot/gcp-prices.csv')), PRICE_OFFSET_S);
  const prices = { points: allPrices.points.filter((p) => p.type.endsWith(`.${REGION}`) && p.type.startsWith('a100')) };
  const loopS = 96_000; // the trace's last reading is at 95,580 s
  const rows: Array<{ config: Config; spot: SpotSummary; avgJctHours: number | null; wallSeconds: number; makespanHours: number | null; checks: ReturnType<typeof invariants> }> = [];
  const failed: Array<{ name: string; error: string }> = [];
  for (const config of CONFIGS) {
    let out;
    try {
      out = await simulate({
      cluster: makeCluster({ v100: 1 }), throughputs, policy: getPolicy(config.policy), seed,
      generate: { rate, limit: jobs },
      spot: { capacity, prices, loopS, checkpoint: CHECKPOINT, sloFactors: SLO_FACTORS, keepUsage: true },
      });
    } catch (e) {
      // Reported, not hidden: a policy that fails on this workload is a finding.
      failed.push({ name: config.name, error: (e as Error).message });
      process.stderr.write(`${config.name}: FAILED ${(e as Error).message}\n`);
      continue;
    }
    const s = out.metrics.summary;
    rows.push({ config, spot: out.spot!, avgJctHours: s.avgJctHours, makespanHours: s.makespanHours, wallSeconds: out.wallSeconds, checks: invariants(out, jobs) });
    process.stderr.write(`${config.name}: $${out.spot!.totalCost.toFixed(0)}, JCT ${s.avgJctHours?.toFixed(2)} h, SLO miss ${((out.spot!.sloMissRate ?? 0) * 100).toFixed(1)}%, ${out.wallSeconds.toFixed(1)} s\n`);
  }
  const base = rows[0]!;
  // Saving at equal SLO attainment: the cheapest configuration that misses at most one job's SLO more than
  // on-demand only (one job is the resolution of the measure at this size).
  const tolerance = 1 / jobs + 1e-9;
  const eligible = rows.filter((r) => (r.spot.sloMissRate ?? 0) <= (base.spot.sloMissRate ?? 0) + tolerance);
  const best = eligible.reduce((a, b) => (b.spot.totalCost < a.spot.totalCost ? b : a));
  const saving = 1 - best.spot.totalCost / base.spot.totalCost;
  const doc = {
    bench: 'spot',
    setting: {
      capacity: `a100 on-demand x${onDemand} + Bamboo GCP a100 preemptible trace (us-east1-b, 17-64 VMs), looped every ${loopS} s`,
      prices: `data/spot/gcp-prices.csv, ${REGION}, from ${PRICE_OFFSET_S} s after 2024-10-01 (3 days before a spot price change)`,
      workload: `Gavel Figure 8 generator, ${rate} jobs/h, ${jobs} jobs, seed ${seed}, SLO factors ${SLO_FACTORS.join('/')}`,
      checkpoint: CHECKPOINT,
      throughputs: 'Gavel v100 rows x 2 for a100 (DEFAULT_GPU_MAP)',
    },
    runs: rows.map((r) => ({ name: r.config.name, policy: r.config.policy, avgJctHours: r.avgJctHours, makespanHours: r.makespanHours, ...r.spot, checks: r.checks, wallSeconds: r.wallSeconds })),
    failed,
    savingAtEqualSlo: { baseline: base.config.name, best: best.config.name, saving, toleranceJobs: 1 },
    literature: LITERATURE,
  };
  writeFileAtomic(join(root, 'bench/results/spot.json'), `${JSON.stringify(doc, null, 2)}\n`);
  const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(1)}%`);
  const md = [
    '# bench:spot', '',
    `${doc.setting.workload}; ${doc.setting.capacity}; prices ${doc.setting.prices}; checkpoints every ${CHECKPOINT.intervalS} s costing ${CHECKPOINT.costS} s.`, '',
    '| configuration | policy | cost $ | $ / job | avg JCT h | SLO misses | revocations | lost GPU-h | spot share of GPU-h | each job once, within capacity |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const busy = Object.entries(r.spot.busyGpuHoursByType);
      const all = busy.reduce((a, [, v]) => a + v, 0);
      const spot = busy.filter(([t]) => t.includes('-spot')).reduce((a, [, v]) => a + v, 0);
      return `| ${r.config.name} | \`${r.config.policy}\` | ${r.spot.totalCost.toFixed(0)} | ${r.spot.costPerCompletedJob?.toFixed(2) ?? '-'} | ${r.avgJctHours?.toFixed(2) ?? '-'} | ${pct(r.spot.sloMissRate)} | ${r.spot.revocations} | ${r.spot.lostGpuHours.toFixed(1)} | ${pct(all > 0 ? spot / all : null)} | ${r.checks.finishedOnce ? 'yes' : 'NO'}, ${r.checks.capacityRespected ? 'yes' : 'NO'} |`;
    }),
    ...failed.map((f) => `| ${f.name} | | failed: ${f.error} | | | | | | | |`),
    '', `Saving at equal SLO attainment (at most one job more missing its SLO than on-demand only): ${best.config.name}, ${pct(saving)} cheaper.`, '',
    LITERATURE, '',
  ].join('\n');
  writeFileAtomic(join(root, 'bench/results/spot.md'), md);
  process.stdout.write(md);
}

await main();
