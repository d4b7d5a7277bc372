/**
 * A simulation workload from `rondo simulate`-style string flags: shared by the CLI (`simulate`, `compare`) and sweep
 * points, so both turn the same flags into the same run. `--name` in the errors is the flag a user typed.
 */
import { fileURLToPath } from 'node:url';
import { RondoError, jobTypes, normaliseGpuType, type ClusterSpec, type GpuType, type Job, type ThroughputTable } from '../model/index.js';
import type { TenantTree } from '../model/tenants.js';
import { applyTenantFlags, type TenantFlags } from './tenant-workload.js';
import { parseCluster, parseTraceFormat, readJobs, readThroughputs } from '../io/index.js';
import { readEmpiricalDistribution } from './generate.js';
import type { SimulationInput, SimulationOutput } from './simulate.js';
import { spotFromFlags, type SpotFlags } from './spot-flags.js';

/** Throughputs shipped with the package (Gavel's simulation matrix). */
export const DEFAULT_THROUGHPUTS = fileURLToPath(new URL('../../data/gavel/simulation_throughputs.json', import.meta.url));

/**
 * Per-GPU-hour prices of a run unless `--prices` is given: Gavel's GCP prices (utils.py). They feed the cost metric and
 * are passed to the policy as `snapshot.prices`, so a cost-aware policy sees them too (its own fallback,
 * `AWS_ON_DEMAND_PRICES`, applies only where a caller passes none: the live server).
 */
export const GCP_PRICES: Readonly<Record<GpuType, number>> = { v100: 0.74, p100: 0.43, k80: 0.135 };

/** Flags shared by `simulate`, `compare` and sweep points, as strings (the sweep grid stores them so). */
export interface WorkloadFlags extends TenantFlags, SpotFlags {
  trace?: string;
  format?: string;
  generate?: boolean;
  rate?: string;
  multiGpu?: boolean;
  philly?: string;
  gavelRng?: boolean;
  limit?: string;
  window?: string;
  jctCap?: string;
  seed: string;
  cluster: string;
  gpusPerServer?: string;
  round: string;
  throughputs: string;
  dropUnknown?: boolean;
  skipTooLarge?: boolean;
  spreadPenalty?: boolean;
  restartOverhead?: string;
  maxChanges?: string;
  reallocInterval?: string;
  reallocWhenIdle?: boolean;
  backfill?: boolean;
  partitions?: string;
  estimateThroughputs?: boolean;
  referenceJobTypes?: string;
  estimateSeed?: string;
  profiledFraction?: string;
  json?: boolean;
  quiet?: boolean;
}

/**
 * `--max-changes` of simulate, compare and sweep: a positive integer or `none`. `auto` is `rondo serve --kube`'s
 * (it follows a Kubernetes API server's measured write rate, which a simulation does not have).
 */
function maxChangesOf(v: string | undefined): number | undefined {
  if (v === undefined || v.trim().toLowerCase() === 'none') return undefined;
  if (v.trim().toLowerCase() === 'auto') {
    throw new RondoError({
      code: 'E_USAGE',
      problem: '--max-changes auto is for rondo serve --kube only',
      expected: 'it follows the write rate a Kubernetes API server grants, and a simulation has none to measure',
      hint: 'give the budget as a number (e.g. --max-changes 200; rondo serve --kube logs the one it measured) or none',
    });
  }
  return intFlag('--max-changes', v, 1, 1e9);
}

function intFlag(name: string, v: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(v);
  if (!/^\s*-?\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new RondoError({ code: 'E_USAGE', problem: `bad ${name}`, expected: `an integer from ${min} to ${max}`, found: JSON.stringify(v) });
  }
  return n;
}

function numFlag(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new RondoError({ code: 'E_USAGE', problem: `bad ${name}`, expected: `a number from ${min} to ${max}`, found: JSON.stringify(v) });
  }
  return n;
}

export function parseWindow(spec: string): { start: number; end: number } {
  const m = /^\s*(\d+)\s*[:-]\s*(\d+)\s*$/.exec(spec);
  if (!m || Number(m[1]) >= Number(m[2])) {
    throw new RondoError({ code: 'E_USAGE', problem: 'bad --window', expected: 'start:end job indexes with start < end, e.g. 4000:5000', found: JSON.stringify(spec) });
  }
  return { start: Number(m[1]), end: Number(m[2]) };
}

export function parsePrices(spec: string): Record<GpuType, number> {
  const out: Record<GpuType, number> = {};
  for (const part of spec.split(',')) {
    const m = /^\s*([^:=\s]+)\s*[:=]\s*([^\s]+)\s*$/.exec(part);
    if (!m) throw new RondoError({ code: 'E_USAGE', problem: 'bad --prices', expected: 'type:dollars-per-GPU-hour,...', found: JSON.stringify(part) });
    out[normaliseGpuType(m[1]!)] = numFlag(`price of ${m[1]}`, m[2]!, 0, 1e6);
  }
  return out;
}

/** Everything but the policy: read once, shared by every run of `compare`. */
export interface Workload {
  readonly base: Omit<SimulationInput, 'policy'>;
  /** POP sub-problems for the policy (`--partitions`); 1 = none. */
  readonly partitions: number;
  readonly label: string;
  readonly traceJobs?: number;
  /** `--tenants`: the tenant tree for tenant policies and per-tenant reports. */
  readonly tenants?: TenantTree;
}

export function buildWorkload(flags: WorkloadFlags): Workload {
  if (!!flags.trace === !!flags.generate) {
    throw new RondoError({ code: 'E_USAGE', problem: 'give exactly one of --trace <file> and --generate', hint: 'e.g. --generate --rate 4.8 --window 4000:5000' });
  }
  if (!flags.generate && (flags.rate || flags.multiGpu || flags.philly || flags.limit || flags.gavelRng)) {
    throw new RondoError({ code: 'E_USAGE', problem: '--rate, --multi-gpu, --philly, --gavel-rng and --limit need --generate' });
  }
  if (flags.gavelRng && flags.philly) {
    throw new RondoError({ code: 'E_USAGE', problem: '--gavel-rng reproduces Gavel\'s parametric generator and cannot sample --philly' });
  }
  const throughputs: ThroughputTable = readThroughputs(flags.throughputs);
  const cluster: ClusterSpec = parseCluster(flags.cluster, flags.gpusPerServer, { knownTypes: throughputs.gpuTypes });
  const seed = intFlag('--seed', flags.seed, 0, 2 ** 31 - 1);
  const roundDuration = numFlag('--round', flags.round, 1, 86_400);
  const window = flags.window ? parseWindow(flags.window) : undefined;
  if (flags.jctCap !== undefined && !window) {
    throw new RondoError({ code: 'E_USAGE', problem: '--jct-cap needs --window: the cap bounds the measured jobs\' average JCT', hint: 'e.g. --window 4000:5000 --jct-cap 100' });
  }
  const jctCapHours = flags.jctCap === undefined ? undefined : numFlag('--jct-cap', flags.jctCap, 1e-6, 1e9);
  const minReallocationInterval = numFlag('--realloc-interval', flags.reallocInterval ?? '1920', 0, 1e7);
  const spot = spotFromFlags(flags);
  // With --capacity, --prices names a price trace (src/sim/spot-flags.ts); the static prices do not apply.
  const prices = spot ? undefined : flags.prices ? parsePrices(flags.prices) : { ...GCP_PRICES };
  const partitions = flags.partitions === undefined ? 1 : intFlag('--partitions', flags.partitions, 1, 100_000);
  if (!flags.estimateThroughputs && (flags.referenceJobTypes !== undefined || flags.profiledFraction !== undefined)) {
    throw new RondoError({ code: 'E_USAGE', problem: `${flags.referenceJobTypes !== undefined ? '--reference-job-types' : '--profiled-fraction'} needs --estimate-throughputs` });
  }
  const estimateThroughputs = flags.estimateThroughputs
    ? {
        seed: intFlag('--estimate-seed', flags.estimateSeed ?? '0', 0, 2 ** 31 - 1),
        ...(flags.referenceJobTypes !== undefined
          ? { referenceJobTypes: intFlag('--reference-job-types', flags.referenceJobTypes, 1, jobTypes(throughputs).length) }
          : {}),
        ...(flags.profiledFraction !== undefined ? { profiledFraction: numFlag('--profiled-fraction', flags.profiledFraction, 0, 1) } : {}),
      }
    : undefined;
  const maxChanges = maxChangesOf(flags.maxChanges);
  const common = {
    cluster,
    throughputs,
    seed,
    roundDuration,
    minReallocationInterval,
    ...(prices ? { prices } : {}),
    ...(spot ? { spot } : {}),
    dropUnknown: !!flags.dropUnknown,
    skipTooLarge: !!flags.skipTooLarge,
    spreadPenalty: !!flags.spreadPenalty,
    ...(flags.restartOverhead !== undefined ? { restartOverhead: numFlag('--restart-overhead', flags.restartOverhead, 0, 86_400) } : {}),
    ...(maxChanges !== undefined ? { maxChanges } : {}),
    recomputeWhenIdle: !!flags.reallocWhenIdle,
    ...(flags.backfill ? { backfill: true } : {}),
    ...(window ? { window } : {}),
    ...(jctCapHours !== undefined ? { jctCapHours } : {}),
    ...(estimateThroughputs ? { estimateThroughputs } : {}),
  };
  if (flags.trace) {
    let jobs: readonly Job[];
    try {
      jobs = readJobs(flags.trace, { format: flags.format === undefined ? undefined : parseTraceFormat(flags.format) }).jobs;
    } catch (e) {
      // An empty trace is a valid (empty) workload: report zero jobs rather than fail.
      if (e instanceof RondoError && e.code === 'E_EMPTY') jobs = [];
      else throw e;
    }
    const t = applyTenantFlags(flags, cluster, jobs, seed);
    jobs = t.jobs ?? jobs;
    return { base: { ...common, jobs }, label: flags.trace, traceJobs: jobs.length, partitions, ...(t.tenants ? { tenants: t.tenants } : {}) };
  }
  if (flags.rate === undefined) throw new RondoError({ code: 'E_USAGE', problem: '--generate needs --rate <jobs per hour>' });
  const rate = numFlag('--rate', flags.rate, 1e-6, 1e6);
  const limit = flags.limit === undefined ? undefined : intFlag('--limit', flags.limit, 1);
  if (!window && limit === undefined) {
    throw new RondoError({ code: 'E_USAGE', problem: '--generate needs --window <start:end> or --limit <n> to know when to stop' });
  }
  const empirical = flags.philly ? readEmpiricalDistribution(flags.philly) : undefined;
  const gt = applyTenantFlags(flags, cluster, undefined, seed);
  return {
    ...(gt.tenants ? { tenants: gt.tenants } : {}),
    base: {
      ...common,
      generate: {
        rate,
        multiGpu: !!flags.multiGpu,
        rng: flags.gavelRng ? 'gavel' : 'pure-rand',
        ...(empirical ? { empirical } : {}),
        ...(limit !== undefined ? { limit } : {}),
      },
    },
    label: `generated ${rate} jobs/h${flags.multiGpu ? ' multi-GPU' : ''}${flags.philly ? ' (Philly)' : ''}${flags.gavelRng ? " (Gavel's RNG)" : ''}, seed ${seed}`,
    partitions,
  };
}

/** The `--json` object of one run. */
export function runJson(out: SimulationOutput): Record<string, unknown> {
  const s = out.metrics.summary;
  return {
    policy: s.policy,
    jobs: s.jobs,
    windowJobs: s.windowJobs,
    completedWindowJobs: s.completedWindowJobs,
    failedJobs: s.failedJobs,
    avgJctHours: s.avgJctHours,
    avgJctLowerBoundHours: s.avgJctLowerBoundHours,
    saturated: s.saturated,
    medianJctHours: s.medianJctHours,
    p95JctHours: s.p95JctHours,
    p99JctHours: s.p99JctHours,
    makespanHours: s.makespanHours,
    endTimeHours: s.endTimeHours,
    maxRho: s.maxRho,
    meanRho: s.meanRho,
    unfairFraction: s.unfairFraction,
    utilization: s.utilization,
    utilizationByType: s.utilizationByType,
    preemptions: s.preemptions,
    preemptionsPerJob: s.preemptionsPerJob,
    leaseExtensionFraction: s.leaseExtensionFraction,
    cost: out.spot ? out.spot.totalCost : s.cost,
    ...(out.spot ? { spot: out.spot } : {}),
    rounds: s.rounds,
    policyCalls: s.policyCalls,
    policySeconds: s.policySeconds,
    droppedUnknown: out.dropped.unknown.length,
    skippedTooLarge: out.dropped.tooLarge.length,
    stopReason: s.stopReason,
    wallSeconds: out.wallSeconds,
    ...(out.tenants ? { tenants: out.tenants } : {}),
  };
}

