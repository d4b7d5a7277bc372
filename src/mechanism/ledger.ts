/**
 * Received-time bookkeeping of Gavel's round-based mechanism (Gavel section 4; scheduler.py `_reset_time_run_so_far`,
 * `_done_callback`). No I/O and no clock; which functions update a ledger in place is said under Ownership below.
 *
 * - `jobTime[row][k]`: seconds row ran on type k since the last reset, seeded with half a round so that a row that
 *   has not run yet still has a finite, large priority (Gavel's choice; avoids dividing by zero).
 * - `workerTime[k]`: total seconds credited on type k since the last reset (the seeds of the rows present at the
 *   reset plus every run since), the denominator of the fraction of time a row received.
 * - `deficits[row][k]`: accumulated (time it should have received - time it received), a tie-breaker.
 *
 * A row is a job or a space-sharing pair. A pair has its own entries: when it runs, the pair row is credited once
 * with the longer of its two jobs' run times (Gavel's `max_execution_time`) and its jobs' own rows are not credited.
 *
 * Ownership: `addRows`, `removeRows`, `removeJobs` and `creditRuns` update the ledger they are given in place and
 * return it, because the engine calls them every round and copying every row each time made a round cost O(active
 * jobs) even when a handful of jobs ran (most of a round with tens of thousands of queued jobs). Per-row arrays are
 * never changed in place (a row's array may be shared with other rows), only replaced. `resetLedger` and
 * `retypeLedger` build a new ledger. Whoever keeps a ledger past the next update (a saved state) takes a copy
 * (`copyLedger`).
 */
import { rowHasAnyJob, type Allocation, type GpuType, type RowKey } from '../model/index.js';

export interface ShareLedger {
  readonly gpuTypes: readonly GpuType[];
  readonly jobTime: ReadonlyMap<RowKey, readonly number[]>;
  readonly workerTime: readonly number[];
  readonly deficits: ReadonlyMap<RowKey, readonly number[]>;
  /** Time of the last reset. 0 also means "never", as in Gavel (a reset at time 0 leaves it at 0). */
  readonly lastReset: number;
  /**
   * Rows credited since the last reset, in order, possibly repeated (append-only): every other row still has its
   * seeded received time, which lets the planner treat such rows as groups (see `QueueIndex`). Absent on a ledger
   * restored from a saved state; the planner then looks at every row until the next reset.
   */
  readonly credited?: readonly RowKey[];
}

export function emptyLedger(gpuTypes: readonly GpuType[]): ShareLedger {
  return { gpuTypes, jobTime: new Map(), workerTime: gpuTypes.map(() => 0), deficits: new Map(), lastReset: 0, credited: [] };
}

/** The ledger's maps and totals as the in-place updates below see them. */
interface OwnedLedger {
  readonly jobTime: Map<RowKey, readonly number[]>;
  readonly deficits: Map<RowKey, readonly number[]>;
  readonly workerTime: number[];
  readonly credited?: RowKey[];
}
const owned = (ledger: ShareLedger): OwnedLedger => ledger as unknown as OwnedLedger;

/**
 * An independent copy (rows' arrays are shared: they are never changed in place), without the `credited` log: a
 * saved state does not need it, and copying it at every save would cost O(rounds since the reset).
 */
export function copyLedger(ledger: ShareLedger): ShareLedger {
  const { credited: _log, ...rest } = ledger;
  return { ...rest, jobTime: new Map(ledger.jobTime), workerTime: [...ledger.workerTime], deficits: new Map(ledger.deficits) };
}

/** New rows start with half a round of credited time on every type and no deficit. In place. */
export function addRows(ledger: ShareLedger, rows: readonly RowKey[], roundDuration: number): ShareLedger {
  if (rows.length === 0) return ledger;
  const { jobTime, deficits } = owned(ledger);
  const seed = ledger.gpuTypes.map(() => roundDuration / 2);
  const zero = ledger.gpuTypes.map(() => 0);
  for (const r of rows) {
    if (!jobTime.has(r)) jobTime.set(r, seed);
    if (!deficits.has(r)) deficits.set(r, zero);
  }
  return ledger;
}

/** In place. */
export function removeRows(ledger: ShareLedger, rows: readonly RowKey[]): ShareLedger {
  const { jobTime, deficits } = owned(ledger);
  for (const r of rows) {
    jobTime.delete(r);
    deficits.delete(r);
  }
  return ledger;
}

/**
 * Removes every row that contains one of `jobIds`: the jobs' own rows and every space-sharing pair they are part of
 * (a pair cannot run once one of its jobs has left). In place. Scans every row for pairs: callers that know the
 * ledger holds no pairs use `removeRows`.
 */
export function removeJobs(ledger: ShareLedger, jobIds: readonly string[]): ShareLedger {
  if (jobIds.length === 0) return ledger;
  const gone = new Set(jobIds);
  const rows: RowKey[] = [];
  const hit = (key: RowKey): boolean => rowHasAnyJob(key, gone);
  for (const key of ledger.jobTime.keys()) if (hit(key)) rows.push(key);
  for (const key of ledger.deficits.keys()) if (!ledger.jobTime.has(key) && hit(key)) rows.push(key);
  return removeRows(ledger, rows);
}

/** One row's run in a round: `seconds` on type index `k` (credited once per gang, not per GPU, as in Gavel). */
export interface RunCredit {
  readonly row: RowKey;
  readonly typeIndex: number;
  readonly seconds: number;
}

/** In place. */
export function creditRuns(ledger: ShareLedger, runs: readonly RunCredit[]): ShareLedger {
  const { jobTime, workerTime, credited } = owned(ledger);
  for (const { row, typeIndex, seconds } of runs) {
    const cur = jobTime.get(row);
    if (cur) {
      const next = [...cur];
      next[typeIndex]! += seconds;
      jobTime.set(row, next);
      credited?.push(row);
    }
    workerTime[typeIndex]! += seconds;
  }
  // A period with no reset for very long (no arrival or finish) would grow the log without bound: drop it; the
  // planner then reads every row until the next reset.
  if (credited && credited.length > 8 * (jobTime.size + 1024)) delete (ledger as { credited?: unknown }).credited;
  return ledger;
}

/**
 * Starts a new accounting period at `now` (done whenever the allocation is recomputed): each row's deficit grows by
 * (share under the old allocation x elapsed time) - (time actually received), then received times are re-seeded.
 */
export function resetLedger(
  ledger: ShareLedger,
  previous: Allocation | undefined,
  now: number,
  roundDuration: number,
): ShareLedger {
  const elapsed = now - ledger.lastReset;
  const half = roundDuration / 2;
  const n = ledger.gpuTypes.length;
  const jobTime = new Map<RowKey, readonly number[]>();
  // Built row by row rather than copied and then overwritten (a copy of 10,000 rows costs as much as the loop).
  const deficits = new Map<RowKey, readonly number[]>();
  const workerTime = ledger.gpuTypes.map(() => 0);
  const typeIdx = previous ? ledger.gpuTypes.map((t) => previous.gpuTypes.indexOf(t)) : [];
  // Every row restarts from the same seed; rows share one array (per-row arrays are never changed in place).
  const seed: readonly number[] = ledger.gpuTypes.map(() => half);
  for (const [row, times] of ledger.jobTime) {
    const share = previous?.shares.get(row);
    const before = ledger.deficits.get(row);
    const d = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      const i = typeIdx[k] ?? -1;
      const should = share && i >= 0 ? share[i]! * elapsed : 0;
      d[k] = (before ? before[k]! : 0) + (should - (times[k]! - half));
      workerTime[k]! += half;
    }
    deficits.set(row, d);
    jobTime.set(row, seed);
  }
  // A deficit without received time (not made by this module's functions) is kept as it is.
  if (deficits.size !== ledger.deficits.size) for (const [row, d] of ledger.deficits) if (!deficits.has(row)) deficits.set(row, d);
  return { gpuTypes: ledger.gpuTypes, jobTime, workerTime, deficits, lastReset: now, credited: [] };
}

/**
 * The same ledger over another list of GPU types (a live cluster gained or lost a type): times and deficits of the
 * types kept stay as they are; a new type starts as a new row would, seeded with half a round per row and no
 * deficit. Used only when the cluster changes; a fixed cluster never calls it.
 */
export function retypeLedger(ledger: ShareLedger, gpuTypes: readonly GpuType[], roundDuration: number): ShareLedger {
  const from = gpuTypes.map((t) => ledger.gpuTypes.indexOf(t));
  const map = (xs: readonly number[], fresh: number): number[] => from.map((i) => (i >= 0 ? xs[i]! : fresh));
  const jobTime = new Map<RowKey, readonly number[]>();
  for (const [k, v] of ledger.jobTime) jobTime.set(k, map(v, roundDuration / 2));
  const deficits = new Map<RowKey, readonly number[]>();
  for (const [k, v] of ledger.deficits) deficits.set(k, map(v, 0));
  const workerTime = from.map((i) => (i >= 0 ? ledger.workerTime[i]! : (ledger.jobTime.size * roundDuration) / 2));
  return { gpuTypes, jobTime, workerTime, deficits, lastReset: ledger.lastReset };
}
