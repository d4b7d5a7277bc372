import { maxGpusOfOneType, type ClusterSpec } from '../model/cluster.js';
import type { Job } from '../model/job.js';
import { hasThroughput, jobKey, type ThroughputTable } from '../model/throughput.js';

export interface MissingThroughput {
  jobType: string;
  scaleFactor: number;
  /** `jobKey(jobType, scaleFactor)`. */
  key: string;
  jobs: number;
}

export interface TooLargeJob {
  id: string;
  scaleFactor: number;
  /** Largest number of GPUs of one type the job may use in the cluster. */
  largest: number;
}

export interface JobsSummary {
  count: number;
  firstArrival: number;
  lastArrival: number;
  /** lastArrival - firstArrival, seconds. */
  spanS: number;
  /** Jobs per hour over the span; null when all jobs arrive at once. */
  arrivalRatePerHour: number | null;
  /** GPU count -> jobs, ascending by GPU count. */
  gpuHistogram: Array<{ gpus: number; jobs: number }>;
  /** Job type -> jobs, sorted by type name. */
  jobTypes: Array<{ jobType: string; jobs: number }>;
  /** Jobs with steps, with only a duration, with a mode other than static, with an SLO or deadline. */
  withSteps: number;
  durationOnly: number;
  withSlo: number;
  modes: Array<{ mode: string; jobs: number }>;
  /** Present when a throughput table was given: (type, sf) keys with no usable throughput on the cluster's types. */
  missingThroughputs?: MissingThroughput[];
  jobsMissingThroughputs?: number;
  /** Present when a cluster was given: jobs needing more GPUs than the largest type they may use has. */
  tooLarge?: TooLargeJob[];
  clusterLargestType?: number;
}

export interface SummaryOptions {
  throughputs?: ThroughputTable;
  cluster?: ClusterSpec;
}

function countBy<K extends string | number>(items: Iterable<K>): Map<K, number> {
  const m = new Map<K, number>();
  for (const k of items) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Facts about a job list and what would stop it from running on a cluster with a throughput table. Pure. */
export function summariseJobs(jobs: readonly Job[], opts: SummaryOptions = {}): JobsSummary {
  let first = Infinity;
  let last = -Infinity;
  for (const j of jobs) {
    first = Math.min(first, j.arrivalTime);
    last = Math.max(last, j.arrivalTime);
  }
  if (jobs.length === 0) first = last = 0;
  const span = last - first;
  const modes = countBy(jobs.map((j) => j.mode ?? 'static'));
  const s: JobsSummary = {
    count: jobs.length,
    firstArrival: first,
    lastArrival: last,
    spanS: span,
    arrivalRatePerHour: span > 0 ? jobs.length / (span / 3600) : null,
    gpuHistogram: [...countBy(jobs.map((j) => j.scaleFactor))].sort(([a], [b]) => a - b).map(([gpus, n]) => ({ gpus, jobs: n })),
    jobTypes: [...countBy(jobs.map((j) => j.jobType))].sort(([a], [b]) => byString(a, b)).map(([jobType, n]) => ({ jobType, jobs: n })),
    withSteps: jobs.filter((j) => j.totalSteps !== undefined).length,
    durationOnly: jobs.filter((j) => j.totalSteps === undefined).length,
    withSlo: jobs.filter((j) => j.sloFactor !== undefined || j.deadlineS !== undefined).length,
    modes: [...modes].sort(([a], [b]) => byString(a, b)).map(([mode, n]) => ({ mode, jobs: n })),
  };
  const { throughputs: table, cluster } = opts;
  if (table) {
    // A key is usable if it has a throughput on a type the job may run on (and, with a cluster, that the cluster has).
    const base = cluster ? cluster.gpuTypes.filter((t) => (cluster.gpus[t] ?? 0) > 0) : table.gpuTypes;
    const missing = new Map<string, MissingThroughput>();
    let jobsMissing = 0;
    for (const j of jobs) {
      // Duration-only jobs need no throughput to know their length, but a heterogeneity-aware run still needs one.
      const types = j.gpuTypes ? base.filter((t) => j.gpuTypes!.includes(t)) : base;
      const key = jobKey(j.jobType, j.scaleFactor);
      if (hasThroughput(table, key, types)) continue;
      jobsMissing++;
      const m = missing.get(key);
      if (m) m.jobs++;
      else missing.set(key, { jobType: j.jobType, scaleFactor: j.scaleFactor, key, jobs: 1 });
    }
    s.missingThroughputs = [...missing.values()].sort((a, b) => byString(a.jobType, b.jobType) || a.scaleFactor - b.scaleFactor);
    s.jobsMissingThroughputs = jobsMissing;
  }
  if (cluster) {
    s.clusterLargestType = maxGpusOfOneType(cluster);
    s.tooLarge = [];
    for (const j of jobs) {
      const types = j.gpuTypes ? cluster.gpuTypes.filter((t) => j.gpuTypes!.includes(t)) : cluster.gpuTypes;
      const largest = Math.max(0, ...types.map((t) => cluster.gpus[t] ?? 0));
      if (j.scaleFactor > largest) s.tooLarge.push({ id: j.id, scaleFactor: j.scaleFactor, largest });
    }
  }
  return s;
}

/** Problems that make a run lose jobs, one line each (empty when none). */
export function summaryWarnings(s: JobsSummary): string[] {
  const w: string[] = [];
  if (s.missingThroughputs && s.missingThroughputs.length > 0) {
    const all = s.missingThroughputs;
    const keys = all.slice(0, 12).map((m) => `(${m.jobType}, ${m.scaleFactor}) x${m.jobs}`);
    const more = all.length > 12 ? `; and ${all.length - 12} more keys` : '';
    w.push(`${s.jobsMissingThroughputs} job(s) in ${all.length} (job type, scale factor) key(s) have no throughput: ${keys.join('; ')}${more}`);
  }
  if (s.tooLarge && s.tooLarge.length > 0) {
    const ids = s.tooLarge.slice(0, 10).map((t) => `${t.id} (${t.scaleFactor} GPUs)`);
    const more = s.tooLarge.length > 10 ? ` and ${s.tooLarge.length - 10} more` : '';
    w.push(`${s.tooLarge.length} job(s) need more GPUs than the largest GPU type they may use has (${s.clusterLargestType}): ${ids.join(', ')}${more}`);
  }
  return w;
}

function duration(sec: number): string {
  if (sec < 120) return `${+sec.toFixed(1)} s`;
  if (sec < 2 * 3600) return `${+(sec / 60).toFixed(1)} min`;
  if (sec < 2 * 86400) return `${+(sec / 3600).toFixed(1)} h`;
  return `${+(sec / 86400).toFixed(1)} days`;
}

/** Human-readable summary as aligned `label  value` lines. Pure. */
export function formatSummary(s: JobsSummary, title?: Record<string, string>): string {
  const rows: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(title ?? {})) rows.push([k, v]);
  rows.push(['jobs', String(s.count)]);
  rows.push(['arrivals', `${s.firstArrival} s to ${s.lastArrival} s`]);
  rows.push(['span', `${s.spanS} s (${duration(s.spanS)})`]);
  rows.push(['arrival rate', s.arrivalRatePerHour === null ? 'n/a (one arrival time)' : `${s.arrivalRatePerHour.toFixed(3)} jobs/hour`]);
  rows.push(['GPUs per job', s.gpuHistogram.map((h) => `${h.gpus}: ${h.jobs}`).join(', ')]);
  rows.push(['work given as', `${s.withSteps} steps, ${s.durationOnly} duration only`]);
  rows.push(['modes', s.modes.map((m) => `${m.mode}: ${m.jobs}`).join(', ')]);
  rows.push(['with SLO', String(s.withSlo)]);
  if (s.clusterLargestType !== undefined) rows.push(['largest GPU type', `${s.clusterLargestType} GPUs`]);
  rows.push(['job types', String(s.jobTypes.length)]);
  for (const t of s.jobTypes) rows.push(['', `${t.jobs}\t${t.jobType}`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v.replace('\t', '  ')}`).join('\n');
}
