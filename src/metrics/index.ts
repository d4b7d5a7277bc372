/**
 * Metrics of a finished run (src/engine EngineResult). Times are seconds inside, hours in the `*Hours` fields.
 *
 * Finish-time fairness rho (Themis, Mahajan et al., NSDI'20; used by Gavel's finish_time_fairness policy): a job's
 * completion time divided by the time it would take alone on an equal 1/n share of the cluster, n being the number
 * of jobs that shared it. Here n is the time-average of the number of active jobs (itself included) over the job's
 * life, and the 1/n share is that fraction of every GPU type (so the isolated throughput is the count-weighted mean
 * of its per-type throughputs, times min(1, G / (n x scale)) for a gang of `scale` GPUs in a cluster of G GPUs).
 * rho <= 1 means the job did at least as well as under an equal split; rho > 1 marks an unfairly treated job.
 */
import type { ClusterSpec, GpuType } from '../model/index.js';
import type { EngineResult, JobRecord } from '../engine/types.js';

export interface JobMetrics {
  readonly id: string;
  readonly index: number;
  readonly jobType: string;
  readonly scaleFactor: number;
  readonly arrivalTime: number;
  readonly finishTime: number | null;
  readonly jctSeconds: number | null;
  readonly rho: number | null;
  readonly preemptions: number;
  /** Dropped after repeated failures (never finished). */
  readonly failed: boolean;
  readonly inWindow: boolean;
}

export interface UtilizationPoint {
  /** Hours since the first arrival (bucket start). */
  readonly hour: number;
  /** Busy fraction per type in this bucket, aligned with `gpuTypes`. */
  readonly busy: readonly number[];
}

export interface RunMetrics {
  readonly policy: string;
  readonly jobs: number;
  readonly windowJobs: number;
  readonly completedWindowJobs: number;
  /** Jobs dropped after repeated failures (real executors only; never in simulation). */
  readonly failedJobs: number;
  /** Mean over the window jobs that finished. */
  readonly avgJctHours: number | null;
  /**
   * What the window's average JCT is at least, counting each arrived unfinished window job at (end - arrival) and
   * dividing by the window size; equals `avgJctHours` when every window job finished. Null without a window.
   */
  readonly avgJctLowerBoundHours: number | null;
  /** The run stopped early because the lower bound passed the JCT cap: an overloaded operating point. */
  readonly saturated: boolean;
  readonly medianJctHours: number | null;
  readonly p95JctHours: number | null;
  readonly p99JctHours: number | null;
  /** First arrival to last finish. */
  readonly makespanHours: number | null;
  /** Simulated time at which the run stopped (Gavel's "total duration" when the trace starts at 0). */
  readonly endTimeHours: number;
  readonly maxRho: number | null;
  readonly meanRho: number | null;
  /** Fraction of completed window jobs with rho > 1. */
  readonly unfairFraction: number | null;
  /** Busy GPU-time / (GPUs x span), all types together. */
  readonly utilization: number;
  readonly utilizationByType: Readonly<Record<GpuType, number>>;
  /** Total preemptions and the mean per window job. */
  readonly preemptions: number;
  readonly preemptionsPerJob: number | null;
  readonly leaseExtensionFraction: number | null;
  /** Dollars at the given per-GPU-hour prices; null when no prices were given. */
  readonly cost: number | null;
  readonly rounds: number;
  readonly policyCalls: number;
  readonly policySeconds: number;
  readonly stopReason: string;
}

export interface MetricsOptions {
  readonly window?: { readonly start: number; readonly end: number };
  readonly prices?: Readonly<Record<GpuType, number>>;
  /** Bucket width of the utilisation series (seconds); default one hour. */
  readonly bucketSeconds?: number;
}

/** Linear-interpolation quantile (numpy's default), q in [0, 1], of a sorted array. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Throughput of a job on an equal 1/n share of the cluster (see the module comment). */
export function equalShareThroughput(cluster: ClusterSpec, throughput: readonly number[], scale: number, n: number): number {
  const G = cluster.totalGpus;
  if (G === 0) return 0;
  let mean = 0;
  cluster.gpuTypes.forEach((t, k) => (mean += ((cluster.gpus[t] ?? 0) / G) * (throughput[k] ?? 0)));
  return mean * Math.min(1, G / (Math.max(1, n) * scale));
}

export function jobRho(
  rec: JobRecord,
  cluster: ClusterSpec,
  throughput: readonly number[],
): number | null {
  if (rec.finishTime === undefined) return null;
  const jct = rec.finishTime - rec.arrivalTime;
  if (jct <= 0) return null;
  const n = rec.activeJobSeconds / jct;
  const t = equalShareThroughput(cluster, throughput, rec.scaleFactor, n);
  if (!(t > 0)) return null;
  return jct / (rec.totalSteps / t);
}

export interface ComputedMetrics {
  readonly summary: RunMetrics;
  readonly perJob: readonly JobMetrics[];
  readonly utilizationSeries: readonly UtilizationPoint[];
}

export function computeMetrics(
  result: EngineResult,
  throughputOf: (rec: JobRecord) => readonly number[],
  opts: MetricsOptions = {},
): ComputedMetrics {
  const { cluster } = result;
  const types = cluster.gpuTypes;
  const w = opts.window;
  const inWindow = (i: number): boolean => !w || (i >= w.start && i < w.end);
  const perJob: JobMetrics[] = result.jobs.map((r) => {
    const jct = r.finishTime === undefined ? null : r.finishTime - r.arrivalTime;
    return {
      id: r.id,
      index: r.index,
      jobType: r.jobType,
      scaleFactor: r.scaleFactor,
      arrivalTime: r.arrivalTime,
      finishTime: r.finishTime ?? null,
      jctSeconds: jct,
      rho: jobRho(r, cluster, throughputOf(r)),
      preemptions: r.preemptions,
      failed: r.failed,
      inWindow: inWindow(r.index),
    };
  });
  const win = perJob.filter((j) => j.inWindow);
  const done = win.filter((j) => j.jctSeconds !== null);
  const jcts = done.map((j) => j.jctSeconds!).sort((a, b) => a - b);
  const h = (s: number | null): number | null => (s === null ? null : s / 3600);
  const avg = jcts.length ? jcts.reduce((a, b) => a + b, 0) / jcts.length : null;
  let lowerBound: number | null = null;
  if (w) {
    const cancelled = new Set(result.jobs.filter((r) => r.cancelled).map((r) => r.id));
    let sum = 0;
    for (const j of win) {
      if (j.jctSeconds !== null) sum += j.jctSeconds;
      else if (!j.failed && !cancelled.has(j.id)) sum += Math.max(0, result.endTime - j.arrivalTime);
    }
    const size = Math.max(0, w.end - w.start);
    lowerBound = size > 0 ? sum / size : null;
  }
  const rhos = done.map((j) => j.rho).filter((x): x is number => x !== null);

  const firstArrival = result.jobs.length ? Math.min(...result.jobs.map((j) => j.arrivalTime)) : result.startTime;
  const finishes = result.jobs.map((j) => j.finishTime).filter((x): x is number => x !== undefined);
  const lastFinish = finishes.length ? Math.max(...finishes) : undefined;
  const span = Math.max(0, result.endTime - firstArrival);

  const busy = types.map(() => 0);
  for (const r of result.timeline) r.busyGpuSeconds.forEach((b, k) => (busy[k]! += b));
  const G = cluster.totalGpus;
  const utilizationByType: Record<GpuType, number> = {};
  types.forEach((t, k) => {
    const cap = (cluster.gpus[t] ?? 0) * span;
    utilizationByType[t] = cap > 0 ? busy[k]! / cap : 0;
  });
  const totalBusy = busy.reduce((a, b) => a + b, 0);
  let cost: number | null = null;
  if (opts.prices) {
    cost = 0;
    types.forEach((t, k) => (cost! += (busy[k]! / 3600) * (opts.prices![t] ?? 0)));
  }

  // Utilisation series in fixed buckets; a round spanning buckets is split in proportion to time.
  const bucket = opts.bucketSeconds ?? 3600;
  const nb = span > 0 ? Math.ceil(span / bucket) : 0;
  const series = Array.from({ length: nb }, () => types.map(() => 0));
  for (const r of result.timeline) {
    const len = r.end - r.start;
    if (len <= 0) continue;
    let s = r.start - firstArrival;
    const e = r.end - firstArrival;
    while (s < e - 1e-9) {
      const b = Math.min(nb - 1, Math.floor(s / bucket));
      const bEnd = Math.min(e, (b + 1) * bucket);
      const f = (bEnd - s) / len;
      r.busyGpuSeconds.forEach((v, k) => (series[b]![k]! += v * f));
      if (bEnd <= s) break;
      s = bEnd;
    }
  }
  const utilizationSeries = series.map((row, b) => ({
    hour: (b * bucket) / 3600,
    busy: row.map((v, k) => {
      const cap = (cluster.gpus[types[k]!] ?? 0) * Math.min(bucket, span - b * bucket);
      return cap > 0 ? v / cap : 0;
    }),
  }));

  const preemptions = result.jobs.reduce((a, j) => a + j.preemptions, 0);
  const summary: RunMetrics = {
    policy: result.policy,
    jobs: result.jobs.length,
    windowJobs: win.length,
    completedWindowJobs: done.length,
    failedJobs: result.jobs.filter((j) => j.failed).length,
    avgJctHours: h(avg),
    avgJctLowerBoundHours: h(lowerBound),
    saturated: result.stopReason === 'jctCap',
    medianJctHours: h(quantile(jcts, 0.5)),
    p95JctHours: h(quantile(jcts, 0.95)),
    p99JctHours: h(quantile(jcts, 0.99)),
    makespanHours: lastFinish === undefined ? null : (lastFinish - firstArrival) / 3600,
    endTimeHours: result.endTime / 3600,
    maxRho: rhos.length ? Math.max(...rhos) : null,
    meanRho: rhos.length ? rhos.reduce((a, b) => a + b, 0) / rhos.length : null,
    unfairFraction: rhos.length ? rhos.filter((r) => r > 1).length / rhos.length : null,
    utilization: G > 0 && span > 0 ? totalBusy / (G * span) : 0,
    utilizationByType,
    preemptions,
    preemptionsPerJob: win.length ? win.reduce((a, j) => a + j.preemptions, 0) / win.length : null,
    leaseExtensionFraction: result.leaseOpportunities > 0 ? result.leaseExtensions / result.leaseOpportunities : null,
    cost,
    rounds: result.rounds,
    policyCalls: result.policyCalls,
    policySeconds: result.policySeconds,
    stopReason: result.stopReason,
  };
  return { summary, perJob, utilizationSeries };
}

/** Pearson correlation of two equal-length series (null when undefined). */
export function pearson(a: readonly number[], b: readonly number[]): number | null {
  const n = Math.min(a.length, b.length);
  if (n < 2) return null;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]! - ma;
    const y = b[i]! - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : null;
}

/** Spearman rank correlation (average ranks for ties). */
export function spearman(a: readonly number[], b: readonly number[]): number | null {
  const rank = (v: readonly number[]): number[] => {
    const idx = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < idx.length; ) {
      let j = i;
      while (j + 1 < idx.length && idx[j + 1]![0] === idx[i]![0]) j++;
      for (let m = i; m <= j; m++) r[idx[m]![1]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  return pearson(rank(a), rank(b));
}
