/**
 * Replays the runs of Gavel's own simulator stored in ../shared/reference/gavel (see its README) and compares
 * average JCT and per-job JCTs. Shared by `npm run bench:fidelity` and test/sim/fidelity.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCluster, readJobs, readThroughputs } from '../../src/io/index.js';
import { getPolicy, initSolver } from '../../src/policies/index.js';
import { simulate, type SimulationInput } from '../../src/sim/index.js';
import { pearson, spearman } from '../../src/metrics/index.js';

export interface FidelityCase {
  /** Folder under the reference directory. */
  readonly run: string;
  readonly policy: string;
  /** Input file in that folder, or `generate` to regenerate Gavel's jobs with its own RNG (`--gavel-rng`). */
  readonly input: string;
  readonly generate?: { readonly rate: number };
  readonly window?: { readonly start: number; readonly end: number };
  /** Seconds of wall time on this 2-core machine, roughly: tests run only cheap cases. */
  readonly cost: number;
  /** Must be within 5% of Gavel's average JCT (the policies Rondo targets exactly). */
  readonly target: boolean;
}

export const CASES: readonly FidelityCase[] = [
  { run: 'trace_2869ce_fifo_perf', policy: 'fifo_perf', input: 'input_converted.trace', cost: 2, target: true },
  { run: 'trace_2869ce_max_min_fairness_perf', policy: 'max_min_fairness_perf', input: 'input_converted.trace', cost: 4, target: true },
  { run: 'trace_2869ce_fifo', policy: 'fifo', input: 'input_converted.trace', cost: 3, target: true },
  { run: 'trace_2869ce_max_min_fairness', policy: 'max_min_fairness', input: 'input_converted.trace', cost: 4, target: true },
  { run: 'trace_2869ce_min_total_duration_perf', policy: 'min_total_duration_perf', input: 'input_converted.trace', cost: 20, target: true },
  { run: 'trace_2869ce_finish_time_fairness_perf', policy: 'finish_time_fairness_perf', input: 'input_converted.trace', cost: 20, target: false },
  {
    run: 'cont_max_min_fairness_perf_jph2.0_w200-300',
    policy: 'max_min_fairness_perf',
    input: 'generated_jobs.json',
    window: { start: 200, end: 300 },
    cost: 10,
    target: true,
  },
  {
    // Same run, but the jobs come from Rondo's replay of Gavel's generator instead of the stored job list.
    run: 'cont_max_min_fairness_perf_jph2.0_w200-300',
    policy: 'max_min_fairness_perf',
    input: 'generate',
    generate: { rate: 2.0 },
    window: { start: 200, end: 300 },
    cost: 10,
    target: true,
  },
];

export interface FidelityResult {
  readonly run: string;
  readonly policy: string;
  readonly status: 'ok' | 'skipped';
  readonly reason?: string;
  readonly gavelAvgJctHours?: number;
  readonly rondoAvgJctHours?: number;
  /** rondo / gavel - 1. */
  readonly avgJctError?: number;
  readonly jobsCompared?: number;
  readonly pearson?: number | null;
  readonly spearman?: number | null;
  /** Median over jobs of |rondo JCT / gavel JCT - 1|. */
  readonly medianJobError?: number;
  readonly gavelEndHours?: number;
  readonly rondoEndHours?: number;
  readonly gavelPolicyCalls?: number;
  readonly rondoPolicyCalls?: number;
  readonly gavelLeaseExtension?: number;
  readonly rondoLeaseExtension?: number | null;
  readonly gavelWallSeconds?: number;
  readonly rondoWallSeconds?: number;
  readonly target: boolean;
  readonly withinTarget?: boolean;
}

/** `../shared/reference/gavel` from the repository root, or undefined when this checkout has no shared folder. */
export function referenceDir(root: string): string | undefined {
  const d = join(root, '..', 'shared', 'reference', 'gavel');
  return existsSync(join(d, 'README.md')) ? d : undefined;
}

export async function runCase(
  root: string,
  refDir: string,
  c: FidelityCase,
  extra: Partial<SimulationInput> = {},
): Promise<FidelityResult> {
  const dir = join(refDir, c.run);
  const base = { run: c.generate ? `${c.run} (--generate --gavel-rng)` : c.run, policy: c.policy, target: c.target };
  if (!c.generate && !existsSync(join(dir, c.input))) return { ...base, status: 'skipped', reason: `${c.input} missing` };
  let policy;
  try {
    policy = getPolicy(c.policy);
  } catch {
    return { ...base, status: 'skipped', reason: `policy ${c.policy} not available` };
  }
  await initSolver();
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as {
    avg_jct_h: number;
    total_duration_h: number;
    lease_extension_pct: number;
    timing?: { policy_calls?: number };
    process?: { wall_s?: number };
  };
  const workload = c.generate
    ? { generate: { rate: c.generate.rate, rng: 'gavel' as const } }
    : { jobs: readJobs(join(dir, c.input)).jobs };
  const throughputs = readThroughputs(join(root, 'data', 'gavel', 'simulation_throughputs.json'));
  // The reference settings: 36 GPUs of each type, 1 GPU per server, 360 s rounds, seed 0.
  const cluster = parseCluster('v100:36,p100:36,k80:36', '1');
  const out = await simulate({
    cluster,
    throughputs,
    policy,
    ...workload,
    roundDuration: 360,
    seed: 0,
    ...(c.window ? { window: c.window } : {}),
    ...extra,
  });
  const ref = new Map<number, number>();
  const lines = readFileSync(join(dir, 'per_job_jct.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
  for (const l of lines) {
    const [id, , , jct, done] = l.split(',');
    if (done?.trim() === '1') ref.set(Number(id), Number(jct));
  }
  const a: number[] = [];
  const b: number[] = [];
  for (const j of out.metrics.perJob) {
    if (!j.inWindow || j.jctSeconds === null) continue;
    const g = ref.get(j.index);
    if (g === undefined) continue;
    a.push(j.jctSeconds);
    b.push(g);
  }
  const errs = a.map((x, i) => Math.abs(x / b[i]! - 1)).sort((p, q) => p - q);
  const rondoAvg = out.metrics.summary.avgJctHours ?? NaN;
  const err = rondoAvg / summary.avg_jct_h - 1;
  return {
    ...base,
    status: 'ok',
    gavelAvgJctHours: summary.avg_jct_h,
    rondoAvgJctHours: rondoAvg,
    avgJctError: err,
    jobsCompared: a.length,
    pearson: pearson(a, b),
    spearman: spearman(a, b),
    medianJobError: errs.length ? errs[Math.floor(errs.length / 2)]! : NaN,
    gavelEndHours: summary.total_duration_h,
    rondoEndHours: out.metrics.summary.endTimeHours,
    gavelPolicyCalls: summary.timing?.policy_calls ?? NaN,
    rondoPolicyCalls: out.metrics.summary.policyCalls,
    gavelLeaseExtension: summary.lease_extension_pct / 100,
    rondoLeaseExtension: out.metrics.summary.leaseExtensionFraction,
    gavelWallSeconds: summary.process?.wall_s ?? NaN,
    rondoWallSeconds: out.wallSeconds,
    withinTarget: Math.abs(err) <= 0.05,
  };
}
