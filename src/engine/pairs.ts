/**
 * A round's candidate rows: every active job's own row, each followed by the space-sharing pair rows the current
 * allocation gives a positive share (Gavel's row order, which breaks ties). Pair rows take co-located throughputs
 * from the table on every type where both jobs may run.
 */
import { RondoError, colocatedThroughput, jobKey, pairKey, rowJobs, type Allocation, type RowKey } from '../model/index.js';
import type { MechanismRow } from '../mechanism/index.js';
import type { Active, PairRow, RunState } from './state.js';

/**
 * The active jobs in arrival order and their candidate rows, rebuilt only when a job or a pair row came or went
 * since the last round (`rowsVersion`).
 */
export function candidates(s: RunState): { readonly list: readonly Active[]; readonly rows: MechanismRow[] } {
  if (s.rowsBuilt !== s.rowsVersion) {
    s.roundList = [...s.active.values()];
    s.roundRows = rowsOf(s, s.roundList);
    s.rowsBuilt = s.rowsVersion;
  }
  return { list: s.roundList, rows: s.roundRows };
}

/** Candidate rows of a round: every active job, each followed by its pairs that are still runnable. */
function rowsOf(s: RunState, list: readonly Active[]): MechanismRow[] {
  if (s.pairRows.length === 0) return list.map((a) => a.row);
  const pairs = s.pairRows.filter((r) => r.row.jobIds.every((j) => s.active.has(j)));
  s.pairRows = pairs;
  const rows: MechanismRow[] = [];
  let p = 0;
  for (const a of list) {
    rows.push(a.row);
    while (p < pairs.length && pairs[p]!.late === a.rec.index) rows.push(pairs[p++]!.row);
  }
  return rows;
}

/**
 * Pair rows of an allocation, in the order Gavel's priority lists hold them: a pair follows the single row of its
 * later-arriving job, pairs of one job by their other job's arrival. Rows with no positive share are left out (Gavel
 * would only start them on GPUs left idle by every row with a share; see docs/architecture.md).
 */
export function pairRowsOf(s: RunState, alloc: Allocation): PairRow[] {
  const out: PairRow[] = [];
  const next = new Map<RowKey, PairRow>();
  for (const [key, share] of alloc.shares) {
    const plus = key.indexOf('+');
    if (plus < 0 || key.indexOf('+', plus + 1) >= 0 || !share.some((v) => v > 0)) continue;
    const a = s.active.get(key.slice(0, plus));
    const b = s.active.get(key.slice(plus + 1));
    if (!a || !b) continue;
    out.push(pairRowOf(s, pairKey(a.job.id, b.job.id), a, b, next));
  }
  // Successive recomputes mostly hand out the same pairs again: keep the rows of the last allocation.
  s.pairRowCache = next;
  out.sort((x, y) => x.late - y.late || x.early - y.early);
  return out;
}

function pairRowOf(s: RunState, key: RowKey, a: Active, b: Active, next: Map<RowKey, PairRow>): PairRow {
  const cached = s.pairRowCache.get(key);
  if (cached) {
    next.set(key, cached);
    return cached;
  }
  if (a.job.scaleFactor !== b.job.scaleFactor) {
    throw new RondoError({
      code: 'E_INVALID',
      problem: `policy ${s.cfg.policy.meta.name} pairs jobs ${a.job.id} (${a.job.scaleFactor} GPUs) and ${b.job.id} (${b.job.scaleFactor} GPUs)`,
      expected: 'space-sharing pairs of jobs with the same scale factor',
    });
  }
  const throughput = s.types.map((_, k) => {
    if (!(a.throughput[k]! > 0 && b.throughput[k]! > 0)) return 0;
    const c = colocated(s, k, a, b);
    return c && c[0] > 0 && c[1] > 0 ? c[0] + c[1] : 0;
  });
  const [early, late] = a.rec.index < b.rec.index ? [a.rec.index, b.rec.index] : [b.rec.index, a.rec.index];
  const row: PairRow = { row: { key, jobIds: rowJobs(key), scaleFactor: a.job.scaleFactor, throughput }, late, early };
  next.set(key, row);
  return row;
}

/**
 * Co-located throughputs of a and b on type index k, `[a's, b's]`, from whichever direction the table stores. They
 * depend only on the two jobs' (type, scale factor) kinds and the GPU type: cached under a number, because pair rows
 * are rebuilt at every recompute of a space-sharing allocation.
 */
function colocated(s: RunState, k: number, a: Active, b: Active): readonly [number, number] | null {
  const table = s.cfg.throughputs;
  if (!table) return null;
  const cacheKey = (a.kind * 1_048_576 + b.kind) * 64 + k;
  const hit = s.colocatedCache.get(cacheKey);
  if (hit !== undefined) return hit;
  const t = s.types[k]!;
  const ka = jobKey(a.job.jobType, a.job.scaleFactor);
  const kb = jobKey(b.job.jobType, b.job.scaleFactor);
  const ab = colocatedThroughput(table, t, ka, kb);
  const ba = ab ? undefined : colocatedThroughput(table, t, kb, ka);
  const v: readonly [number, number] | null = ab ?? (ba ? [ba[1], ba[0]] : null);
  s.colocatedCache.set(cacheKey, v);
  return v;
}
