/**
 * What a report is drawn from, read from any of: a `rondo simulate --out` run file, one sweep point file, a sweep
 * directory, or a simulation just run in this process.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RondoError } from '../model/errors.js';
import type { RunTimeline, SimulationInput, SimulationOutput } from '../sim/index.js';
import { expandGrid } from '../sweep/grid.js';
import { isFinished, pointFile, readSweepFile, summaryRow, type SummaryRow } from '../sweep/output.js';
import type { PointDoc } from '../sweep/point.js';

export interface ReportJob {
  readonly id: string;
  readonly jctSeconds: number | null;
  readonly rho: number | null;
  readonly inWindow: boolean;
}

export interface RunData {
  readonly label: string;
  readonly policy: string;
  readonly seed: number | null;
  readonly rate: number | null;
  readonly gpuTypes: readonly string[];
  readonly jobs: readonly ReportJob[];
  readonly hourly: ReadonlyArray<{ readonly hour: number; readonly busy: readonly number[] }>;
  readonly summary: Readonly<Record<string, unknown>>;
  readonly timeline?: RunTimeline;
}

export interface ReportData {
  readonly title: string;
  readonly subtitle: string;
  /** One row per sweep point (absent for single runs). */
  readonly sweepRows?: readonly SummaryRow[];
  /** Runs whose distributions are drawn (for a sweep: every point at the chosen rate). */
  readonly runs: readonly RunData[];
  readonly notes: readonly string[];
}

interface RunFile {
  readonly rondo?: string;
  readonly workload?: string;
  readonly summary?: Record<string, unknown>;
  readonly jobs?: ReportJob[];
  readonly utilization?: { gpuTypes: string[]; hourly: Array<{ hour: number; busy: number[] }> };
  readonly point?: PointDoc['point'];
  readonly settings?: { seed?: number };
  readonly timeline?: RunTimeline;
}

function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new RondoError({ code: err.code ? 'E_IO' : 'E_JSON', file: path, problem: err.code ? `cannot read (${err.code})` : 'not valid JSON' });
  }
}

function runFromFile(doc: RunFile, path: string): RunData {
  if (!doc || (doc.rondo !== 'simulate' && doc.rondo !== 'sweep-point') || !doc.summary || !Array.isArray(doc.jobs) || !doc.utilization) {
    throw new RondoError({
      code: 'E_SCHEMA',
      file: path,
      problem: 'not a rondo run file',
      expected: 'the --out file of rondo simulate, a sweep point file, or a sweep directory',
    });
  }
  const policy = String(doc.summary.policy ?? doc.point?.policy ?? '?');
  return {
    label: doc.workload ?? path,
    policy,
    seed: doc.point?.seed ?? doc.settings?.seed ?? null,
    rate: doc.point?.rate ?? null,
    gpuTypes: doc.utilization.gpuTypes,
    jobs: doc.jobs,
    hourly: doc.utilization.hourly,
    summary: doc.summary,
    ...(doc.timeline ? { timeline: doc.timeline } : {}),
  };
}

/** The rate whose distributions a sweep report draws: the asked one, else the highest at which every run finished. */
function pickRate(rows: readonly SummaryRow[], asked: number | undefined): number | null {
  const rates = [...new Set(rows.map((r) => r.rate))];
  if (asked !== undefined) {
    if (!rates.includes(asked)) throw new RondoError({ code: 'E_USAGE', problem: `the sweep has no rate ${asked}`, expected: rates.join(', ') });
    return asked;
  }
  const complete = rates.filter((rate) => rows.filter((r) => r.rate === rate).every((r) => r.completedWindowJobs === r.windowJobs));
  const pool = (complete.length ? complete : rates).filter((r): r is number => r !== null);
  return pool.length ? Math.max(...pool) : null;
}

export function loadReportData(path: string, opts: { rate?: number } = {}): ReportData {
  if (!existsSync(path)) throw new RondoError({ code: 'E_IO', file: path, problem: 'no such file or directory' });
  if (!statSync(path).isDirectory()) {
    const run = runFromFile(readJsonFile(path) as RunFile, path);
    return { title: `${run.policy}: ${run.label}`, subtitle: path, runs: [run], notes: [] };
  }
  const sweep = readSweepFile(path);
  const points = expandGrid(sweep.definition).filter((p) => isFinished(path, p, sweep.hash));
  if (points.length === 0) throw new RondoError({ code: 'E_EMPTY', file: path, problem: 'the sweep has no finished point yet' });
  const docs = new Map<string, PointDoc>();
  const rows: SummaryRow[] = [];
  for (const p of points) {
    const doc = readJsonFile(pointFile(path, p.key)) as PointDoc;
    rows.push(summaryRow(doc));
    docs.set(p.key, doc);
  }
  const rate = pickRate(rows, opts.rate);
  const runs = points.filter((p) => p.rate === rate).map((p) => runFromFile(docs.get(p.key) as unknown as RunFile, pointFile(path, p.key)));
  const d = sweep.definition;
  const total = expandGrid(d).length;
  const notes = [
    `${points.length} of ${total} points finished.`,
    rate !== null ? `Distributions and utilisation are drawn at ${rate} jobs/h (all seeds pooled).` : 'Distributions pool every point.',
  ];
  const base = Object.entries(d.base)
    .map(([k, v]) => (v === true ? k : `${k} ${String(v)}`))
    .join(', ');
  return {
    title: `Sweep${d.preset ? ` ${d.preset}` : ''}: ${d.policies.join(' vs ')}`,
    subtitle: `${base}; seeds ${d.seeds.join(', ')}; definition ${sweep.hash}; ${join(path)}`,
    sweepRows: rows,
    runs,
    notes,
  };
}

/** Report data of a simulation run in this process (with its timeline when the run recorded one). */
export function runDataFromSimulation(input: Omit<SimulationInput, 'policy'>, out: SimulationOutput, label: string): RunData {
  return {
    label,
    policy: out.metrics.summary.policy,
    seed: input.seed ?? 0,
    rate: input.generate?.rate ?? null,
    gpuTypes: input.cluster.gpuTypes,
    jobs: out.metrics.perJob,
    hourly: out.metrics.utilizationSeries,
    summary: out.metrics.summary as unknown as Record<string, unknown>,
    ...(out.timeline ? { timeline: out.timeline } : {}),
  };
}

/** Report data of runs made in this process (`rondo simulate --report`, `rondo compare --report`). */
export function reportDataFromSimulations(base: Omit<SimulationInput, 'policy'>, outs: readonly SimulationOutput[], label: string): ReportData {
  const runs = outs.map((out) => runDataFromSimulation(base, out, label));
  const policies = runs.map((r) => r.policy);
  return { title: `${policies.join(' vs ')}: ${label}`, subtitle: `seed ${base.seed ?? 0}`, runs, notes: [] };
}
