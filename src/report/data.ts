/**
 * What a report is drawn from, read from any of: a `rondo simulate --out` run file, one sweep point file, a sweep
 * directory, or a simulation just run in this process.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { RondoError } from '../model/errors.js';
import type { RunTimeline, SimulationInput, SimulationOutput } from '../sim/index.js';
import { expandGrid } from '../sweep/grid.js';
import { isFinished, pointFile, readSweepFile, summaryRow, type SummaryRow } from '../sweep/output.js';
import type { PointDoc } from '../sweep/point.js';
import { policyName } from './names.js';

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
  /** How the run was set up, for the setup lines every report and chart prints. */
  readonly setup?: RunSetup;
}

export interface RunSetup {
  /** The trace's file name (never its directory) or the generated workload's description. */
  readonly workload: string;
  readonly cluster: Readonly<Record<string, number>>;
  readonly gpusPerServer?: Readonly<Record<string, number>> | number;
  readonly roundSeconds?: number;
  readonly window?: { readonly start: number; readonly end: number } | null;
  /** Jobs simulated, and those removed before the run (no throughput: --drop-unknown; too large: --skip-too-large). */
  readonly jobs: number;
  readonly droppedUnknown: number;
  readonly skippedTooLarge: number;
}

export interface ReportData {
  readonly title: string;
  readonly subtitle: string;
  /** One row per sweep point (absent for single runs). */
  readonly sweepRows?: readonly SummaryRow[];
  /** Runs whose distributions are drawn (for a sweep: every point at the chosen rate). */
  readonly runs: readonly RunData[];
  readonly notes: readonly string[];
  /** Workload, cluster, rounds, rate, seeds and dropped jobs: printed in the HTML and in every chart. */
  readonly setup?: readonly string[];
}

interface RunFile {
  readonly rondo?: string;
  readonly workload?: string;
  readonly summary?: Record<string, unknown>;
  readonly jobs?: ReportJob[];
  readonly utilization?: { gpuTypes: string[]; hourly: Array<{ hour: number; busy: number[] }> };
  readonly point?: PointDoc['point'];
  readonly settings?: { seed?: number; cluster?: Record<string, number>; gpusPerServer?: Record<string, number> | number; roundSeconds?: number; window?: { start: number; end: number } | null };
  readonly dropped?: { unknown?: readonly unknown[]; tooLarge?: readonly unknown[] };
  readonly timeline?: RunTimeline;
}

/** A workload label without the machine's directories: a trace path becomes its file name. */
export function workloadName(label: string): string {
  // A description ("generated 6 jobs/h, seed 0") has spaces; a path has none, or starts at the root.
  const path = label.includes('/') && (!/\s/.test(label) || label.startsWith('/'));
  return path ? (label.split('/').pop() ?? label) : label;
}

/** The setup lines of a report: what a reader needs to know to read (and rerun) every chart of it. */
export function setupLines(runs: readonly RunData[], extra: { seeds?: readonly number[]; rate?: number | null; hash?: string } = {}): string[] {
  const s = runs.find((r) => r.setup)?.setup;
  if (!s) return [];
  const cluster = Object.entries(s.cluster).map(([t, n]) => `${t}:${n}`).join(', ');
  const per = typeof s.gpusPerServer === 'number' ? s.gpusPerServer : s.gpusPerServer ? Math.max(...Object.values(s.gpusPerServer)) : undefined;
  const seeds = extra.seeds ?? [...new Set(runs.map((r) => r.seed).filter((x): x is number => x !== null))].sort((a, b) => a - b);
  const total = s.jobs + s.droppedUnknown + s.skippedTooLarge;
  const removed: string[] = [];
  if (s.droppedUnknown > 0) removed.push(`--drop-unknown removed ${s.droppedUnknown} of ${total} jobs (no throughput for their type)`);
  if (s.skippedTooLarge > 0) removed.push(`--skip-too-large removed ${s.skippedTooLarge} of ${total} jobs`);
  const rate = extra.rate ?? runs.find((r) => r.rate !== null)?.rate ?? null;
  return [
    `Workload: ${s.workload}; ${s.jobs} jobs simulated${removed.length ? ` (${removed.join('; ')})` : ''}${s.window ? `; measured: jobs ${s.window.start}–${s.window.end - 1} by arrival` : ''}.`,
    `Cluster: ${cluster}${per ? ` (${per} GPU${per > 1 ? 's' : ''} per server)` : ''}; rounds of ${s.roundSeconds ?? 360} s${rate !== null ? `; rate ${rate} jobs/h` : ''}; seed${seeds.length > 1 ? 's' : ''} ${seeds.join(', ') || '–'}${extra.hash ? `; sweep ${extra.hash}` : ''}.`,
  ];
}

function setupOf(doc: RunFile): RunSetup | undefined {
  if (!doc.settings?.cluster) return undefined;
  return {
    workload: workloadName(doc.workload ?? '?'),
    cluster: doc.settings.cluster,
    ...(doc.settings.gpusPerServer !== undefined ? { gpusPerServer: doc.settings.gpusPerServer } : {}),
    ...(doc.settings.roundSeconds !== undefined ? { roundSeconds: doc.settings.roundSeconds } : {}),
    window: doc.settings.window ?? null,
    jobs: doc.jobs?.length ?? 0,
    droppedUnknown: doc.dropped?.unknown?.length ?? 0,
    skippedTooLarge: doc.dropped?.tooLarge?.length ?? 0,
  };
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
  const setup = setupOf(doc);
  return {
    label: workloadName(doc.workload ?? path),
    ...(setup ? { setup } : {}),
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
    return { title: `${policyName(run.policy)}: ${run.label}`, subtitle: `${run.policy}, file ${workloadName(path)}`, runs: [run], notes: [], setup: setupLines([run]) };
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
  // File arguments by name only: the report must not carry this machine's directories.
  const base = Object.entries(d.base)
    .map(([k, v]) => (v === true ? k : `${k} ${typeof v === 'string' ? workloadName(v) : String(v)}`))
    .join(', ');
  return {
    title: `Sweep${d.preset ? ` ${d.preset}` : ''}: ${d.policies.map(policyName).join(' vs ')}`,
    subtitle: `${base}; seeds ${d.seeds.join(', ')}; definition ${sweep.hash}`,
    sweepRows: rows,
    runs,
    notes,
    setup: setupLines(runs, { seeds: d.seeds, rate, hash: sweep.hash }),
  };
}

/** Report data of a simulation run in this process (with its timeline when the run recorded one). */
export function runDataFromSimulation(input: Omit<SimulationInput, 'policy'>, out: SimulationOutput, label: string): RunData {
  return {
    label: workloadName(label),
    setup: {
      workload: workloadName(label),
      cluster: input.cluster.gpus,
      gpusPerServer: input.cluster.gpusPerServer,
      roundSeconds: input.roundDuration ?? 360,
      window: input.window ?? null,
      jobs: out.metrics.perJob.length,
      droppedUnknown: out.dropped.unknown.length,
      skippedTooLarge: out.dropped.tooLarge.length,
    },
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
  const policies = runs.map((r) => policyName(r.policy));
  return { title: `${policies.join(' vs ')}: ${workloadName(label)}`, subtitle: `policies ${runs.map((r) => r.policy).join(', ')}; seed ${base.seed ?? 0}`, runs, notes: [], setup: setupLines(runs) };
}
