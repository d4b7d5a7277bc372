/**
 * The on-disk layout of a sweep directory:
 *   sweep.json        the definition and its hash (a rerun or merge with another definition is refused)
 *   points/<key>.json one document per finished point, written atomically (temp file + rename)
 *   summary.json      one row per finished point, in grid order
 *   log.jsonl         wall time per point (kept out of the point files so those are byte-for-byte reproducible)
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { RondoError } from '../model/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { definitionHash, expandGrid, type SweepDefinition, type SweepPoint } from './grid.js';
import type { PointDoc } from './point.js';
import type { RunMetrics } from '../metrics/index.js';

export interface SweepFile {
  readonly rondo: 'sweep';
  readonly version: 1;
  readonly hash: string;
  readonly points: number;
  readonly definition: SweepDefinition;
}

/** A point's row of the summary: the JCT figures as the run's metrics have them (src/metrics), and the rest. */
export interface SummaryRow
  extends Pick<RunMetrics, 'avgJctHours' | 'avgJctLowerBoundHours' | 'saturated' | 'medianJctHours' | 'p95JctHours' | 'p99JctHours' | 'makespanHours'> {
  readonly key: string;
  readonly policy: string;
  readonly rate: number | null;
  readonly seed: number;
  readonly vary: Readonly<Record<string, string>>;
  readonly maxRho: number | null;
  readonly meanRho: number | null;
  readonly unfairFraction: number | null;
  readonly utilization: number | null;
  readonly completedWindowJobs: number | null;
  readonly windowJobs: number | null;
  readonly jobs: number | null;
  readonly stopReason: string | null;
}

export const pointsDir = (dir: string): string => join(dir, 'points');
export const pointFile = (dir: string, key: string): string => join(pointsDir(dir), `${key}.json`);

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RondoError({ code: 'E_IO', file: path, problem: `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})` });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RondoError({ code: 'E_JSON', file: path, problem: 'not valid JSON', hint: 'delete the file; a rerun recomputes it' });
  }
}

export function readSweepFile(dir: string): SweepFile {
  const path = join(dir, 'sweep.json');
  if (!existsSync(path)) {
    throw new RondoError({ code: 'E_IO', file: path, problem: 'not a sweep directory (no sweep.json)', hint: 'give the --out directory of rondo sweep' });
  }
  const f = readJson(path) as SweepFile;
  if (f?.rondo !== 'sweep' || typeof f.hash !== 'string' || !f.definition) {
    throw new RondoError({ code: 'E_SCHEMA', file: path, problem: 'not a rondo sweep file' });
  }
  return f;
}

/**
 * Creates the directory (or checks that it holds the same sweep), removes temp files a killed run left behind,
 * and returns the sweep file.
 */
export function prepareSweepDir(dir: string, def: SweepDefinition): SweepFile {
  const hash = definitionHash(def);
  const file: SweepFile = { rondo: 'sweep', version: 1, hash, points: expandGrid(def).length, definition: def };
  mkdirSync(pointsDir(dir), { recursive: true });
  if (existsSync(join(dir, 'sweep.json'))) {
    const old = readSweepFile(dir);
    if (old.hash !== hash) {
      throw new RondoError({
        code: 'E_USAGE',
        file: dir,
        problem: `holds a different sweep (definition ${old.hash}, this one ${hash})`,
        hint: 'use another --out directory, or delete this one to start over',
      });
    }
  } else {
    writeFileAtomic(join(dir, 'sweep.json'), `${JSON.stringify(file, null, 2)}\n`);
  }
  for (const name of readdirSync(pointsDir(dir))) {
    if (name.startsWith('.') && name.endsWith('.tmp')) unlinkSync(join(pointsDir(dir), name));
  }
  return file;
}

/** A point counts as finished when its file parses and belongs to this sweep. */
export function isFinished(dir: string, point: SweepPoint, hash: string): boolean {
  const path = pointFile(dir, point.key);
  if (!existsSync(path)) return false;
  try {
    const doc = JSON.parse(readFileSync(path, 'utf8')) as PointDoc;
    return doc.sweep === hash && doc.key === point.key;
  } catch {
    return false;
  }
}

export function summaryRow(doc: PointDoc): SummaryRow {
  const s = doc.summary as Record<string, number | string | boolean | null | undefined>;
  const n = (k: string): number | null => (typeof s[k] === 'number' ? (s[k] as number) : null);
  return {
    key: doc.key,
    policy: doc.point.policy,
    rate: doc.point.rate,
    seed: doc.point.seed,
    vary: doc.point.vary,
    avgJctHours: n('avgJctHours'),
    avgJctLowerBoundHours: n('avgJctLowerBoundHours'),
    saturated: s.saturated === true,
    medianJctHours: n('medianJctHours'),
    p95JctHours: n('p95JctHours'),
    p99JctHours: n('p99JctHours'),
    makespanHours: n('makespanHours'),
    maxRho: n('maxRho'),
    meanRho: n('meanRho'),
    unfairFraction: n('unfairFraction'),
    utilization: n('utilization'),
    completedWindowJobs: n('completedWindowJobs'),
    windowJobs: n('windowJobs'),
    jobs: n('jobs'),
    stopReason: typeof s.stopReason === 'string' ? s.stopReason : null,
  };
}

/** Rewrites summary.json from the finished point files, in grid order; returns the rows. */
export function writeSummary(dir: string): SummaryRow[] {
  const f = readSweepFile(dir);
  const rows: SummaryRow[] = [];
  for (const p of expandGrid(f.definition)) {
    if (!isFinished(dir, p, f.hash)) continue;
    rows.push(summaryRow(readJson(pointFile(dir, p.key)) as PointDoc));
  }
  writeFileAtomic(join(dir, 'summary.json'), `${JSON.stringify(rows, null, 1)}\n`);
  return rows;
}
