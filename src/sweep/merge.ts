/**
 * Joins the output directories of shards (or of interrupted runs on several machines) into one sweep directory.
 * All inputs must hold the same sweep definition; a point present in several inputs must be byte-identical (runs are
 * deterministic, so a difference means different code or data produced them).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic.js';
import { join } from 'node:path';
import { RondoError } from '../model/errors.js';
import { expandGrid } from './grid.js';
import { isFinished, pointFile, pointsDir, prepareSweepDir, readSweepFile, writeSummary, type SummaryRow } from './output.js';

export interface MergeOutcome {
  readonly total: number;
  readonly present: number;
  readonly missing: readonly string[];
  readonly rows: readonly SummaryRow[];
}

export function mergeSweeps(dirs: readonly string[], outDir: string): MergeOutcome {
  if (dirs.length === 0) throw new RondoError({ code: 'E_USAGE', problem: 'give at least one sweep directory to merge' });
  const files = dirs.map((d) => ({ dir: d, file: readSweepFile(d) }));
  const first = files[0]!;
  for (const f of files.slice(1)) {
    if (f.file.hash !== first.file.hash) {
      throw new RondoError({
        code: 'E_USAGE',
        file: f.dir,
        problem: `holds a different sweep than ${first.dir} (definition ${f.file.hash} vs ${first.file.hash})`,
        hint: 'merge only shards of one sweep, run with the same flags',
      });
    }
  }
  const sweep = prepareSweepDir(outDir, first.file.definition);
  mkdirSync(pointsDir(outDir), { recursive: true });
  const points = expandGrid(first.file.definition);
  const missing: string[] = [];
  for (const p of points) {
    let from: string | undefined;
    for (const { dir } of files) {
      if (!isFinished(dir, p, sweep.hash)) continue;
      if (from === undefined) from = dir;
      else if (!readFileSync(pointFile(dir, p.key)).equals(readFileSync(pointFile(from, p.key)))) {
        throw new RondoError({
          code: 'E_USAGE',
          problem: `point ${p.key} differs between ${from} and ${dir}`,
          hint: 'the shards were run with different code or data; rerun one of them',
        });
      }
    }
    if (from === undefined) {
      if (!isFinished(outDir, p, sweep.hash)) missing.push(p.key);
      continue;
    }
    const target = pointFile(outDir, p.key);
    if (target !== pointFile(from, p.key) && !isFinished(outDir, p, sweep.hash)) writeFileAtomic(target, readFileSync(pointFile(from, p.key)));
  }
  for (const { dir } of files) {
    const log = join(dir, 'log.jsonl');
    if (existsSync(log) && dir !== outDir) appendFileSync(join(outDir, 'log.jsonl'), readFileSync(log));
  }
  const rows = writeSummary(outDir);
  return { total: points.length, present: rows.length, missing, rows };
}
