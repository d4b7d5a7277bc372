/**
 * One sweep point: the flags of a `rondo simulate` run, turned into a simulation input the same way the CLI does,
 * run, and written up as a document with no wall-clock fields, so the same point always gives the same bytes.
 */
import { getPolicy, initSolver } from '../policies/index.js';
import { solverSeconds } from '../solver/index.js';
import { buildWorkload, DEFAULT_THROUGHPUTS, GCP_PRICES, runJson, simulate, type RunTimeline, type WorkloadFlags } from '../sim/index.js';
import type { FlagValues, SweepPoint } from './grid.js';

/** Defaults of `rondo simulate` flags, for points built without the CLI (tests, library users). */
export const SIMULATE_DEFAULTS: FlagValues = {
  seed: '0',
  cluster: 'v100:36,p100:36,k80:36',
  round: '360',
  throughputs: DEFAULT_THROUGHPUTS,
  reallocInterval: '1920',
};

export interface PointDoc {
  readonly rondo: 'sweep-point';
  readonly sweep: string;
  readonly key: string;
  readonly point: { readonly policy: string; readonly rate: number | null; readonly seed: number; readonly vary: Readonly<Record<string, string>> };
  /** The equivalent single run. */
  readonly command: string;
  readonly workload: string;
  readonly settings: Record<string, unknown>;
  readonly summary: Record<string, unknown>;
  readonly dropped: unknown;
  readonly jobs: unknown;
  readonly utilization: { readonly gpuTypes: readonly string[]; readonly hourly: unknown };
  readonly timeline?: RunTimeline;
}

export interface PointResult {
  readonly doc: PointDoc;
  /** Not part of the document (it would break byte-for-byte determinism). */
  readonly wallSeconds: number;
  readonly policySeconds: number;
  /** Of the policy's time, seconds inside HiGHS (`solverSeconds`). */
  readonly lpSeconds: number;
}

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** `rondo simulate ...` reproducing the point. */
export function commandLine(policy: string, flags: FlagValues): string {
  const parts = ['rondo simulate', `--policy ${policy}`];
  for (const k of Object.keys(flags).sort()) {
    const v = flags[k];
    if (v === false || v === undefined) continue;
    parts.push(v === true ? `--${kebab(k)}` : `--${kebab(k)} ${/^[\w.:,/=-]+$/.test(v) ? v : JSON.stringify(v)}`);
  }
  return parts.join(' ');
}

export async function runPoint(point: SweepPoint, sweepHash: string, opts: { timelineMaxJobs: number; signal?: AbortSignal }): Promise<PointResult> {
  const flags = { ...SIMULATE_DEFAULTS, ...point.flags } as unknown as WorkloadFlags;
  const workload = buildWorkload(flags);
  const policy = getPolicy(point.policy, { partitions: workload.partitions, seed: workload.base.seed, ...(workload.tenants ? { tenants: workload.tenants } : {}) });
  await initSolver();
  const lp0 = solverSeconds();
  const out = await simulate({ ...workload.base, policy, timelineMaxJobs: opts.timelineMaxJobs, ...(opts.signal ? { signal: opts.signal } : {}) });
  const b = workload.base;
  const { wallSeconds: _w, policySeconds: _p, ...summary } = runJson(out);
  const doc: PointDoc = {
    rondo: 'sweep-point',
    sweep: sweepHash,
    key: point.key,
    point: { policy: point.policy, rate: point.rate, seed: point.seed, vary: point.vary },
    command: commandLine(point.policy, point.flags),
    workload: workload.label,
    settings: {
      cluster: b.cluster.gpus,
      gpusPerServer: b.cluster.gpusPerServer,
      roundSeconds: b.roundDuration,
      seed: b.seed,
      window: b.window ?? null,
      reallocIntervalSeconds: b.minReallocationInterval,
      spreadPenalty: b.spreadPenalty,
      reallocWhenIdle: b.recomputeWhenIdle,
      ...(b.backfill ? { backfill: true } : {}),
      ...(b.maxChanges !== undefined ? { maxChanges: b.maxChanges } : {}),
      prices: b.prices ?? GCP_PRICES,
      ...(workload.partitions > 1 ? { partitions: workload.partitions } : {}),
      ...(b.estimateThroughputs ? { estimateThroughputs: b.estimateThroughputs } : {}),
    },
    summary,
    dropped: out.dropped,
    jobs: out.metrics.perJob,
    utilization: { gpuTypes: b.cluster.gpuTypes, hourly: out.metrics.utilizationSeries },
    ...(out.timeline ? { timeline: out.timeline } : {}),
  };
  return { doc, wallSeconds: out.wallSeconds, policySeconds: out.metrics.summary.policySeconds, lpSeconds: solverSeconds() - lp0 };
}
