import { json, type Row, type RoundRow } from './rows.js';
import type { Sql } from './sql.js';

/**
 * The scheduler's own state: planned rounds (a bounded history: whole plans for the last `keepPlans` rounds, a summary
 * row for older ones) and small key/value entries (`meta`).
 */

/** The last round as parsed, per connection: its allocation has a share per active job and is read on every poll. */
const lastRoundCache = new WeakMap<Sql, { key: string; row: RoundRow }>();

export function getMeta(c: Sql, key: string): string | undefined {
  const r = c.q('SELECT value FROM meta WHERE key = ?').get(key) as Row | undefined;
  return r ? String(r.value) : undefined;
}

export function setMeta(c: Sql, key: string, value: string): void {
  c.q('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}

/** Rounds whose plan and allocation are kept whole by default (`rondo serve --keep-plans`; ~740 KB a round at 10,000 jobs). */
export const DEFAULT_KEEP_PLANS = 100;
/** Rounds whose summary row (number, times, policy, solver time, assignment count) is kept; ~100 bytes each. */
export const ROUND_SUMMARIES_KEPT = 10_000;
/**
 * Plans pruned per round commit at most. One a round in the steady state; a backlog (a store from before pruning,
 * or --keep-plans lowered) drains a batch a round, so no commit frees hundreds of MB at once on the event loop.
 */
export const PRUNE_BATCH = 16;

/**
 * Records a planned round; its allocation as a value, or already encoded (`allocationJson`, as lastRound() reads it).
 * In the same transaction, rounds more than `keepPlans` back lose their plan and allocation (their summary stays),
 * and summaries beyond `ROUND_SUMMARIES_KEPT` go.
 */
export function saveRound(
  c: Sql,
  r: Omit<RoundRow, 'allocation'> & ({ readonly allocation: unknown } | { readonly allocationJson: string }),
  keepPlans: number = DEFAULT_KEEP_PLANS,
): void {
  const asg = (r.plan as { assignments?: unknown } | null)?.assignments;
  c.q(
    `INSERT INTO rounds(round, start, duration, planned_at, policy, solver_ms, allocation, plan, assignments, plan_pruned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
     ON CONFLICT(round) DO UPDATE SET start = excluded.start, duration = excluded.duration, planned_at = excluded.planned_at,
     policy = excluded.policy, solver_ms = excluded.solver_ms, allocation = excluded.allocation, plan = excluded.plan,
     assignments = excluded.assignments, plan_pruned = 0`,
  )
  .run(
    r.round, r.start, r.duration, r.plannedAt, r.policy, r.solverMs, 'allocationJson' in r ? r.allocationJson : JSON.stringify(r.allocation), JSON.stringify(r.plan),
    Array.isArray(asg) ? asg.length : null,
  );
  pruneRounds(c, r.round, keepPlans);
}

/**
 * Drops the plan and allocation of rounds before the last `keepPlans` up to `round` (at most `PRUNE_BATCH` of them),
 * keeping their summary; deletes summaries older than `ROUND_SUMMARIES_KEPT` rounds. The pruned JSON becomes `null`.
 * Returns how many plans it pruned.
 */
export function pruneRounds(c: Sql, round: number, keepPlans: number): number {
  // The index finds the rounds still holding a plan without reading the plan's pages.
  const old = c.q('SELECT round FROM rounds INDEXED BY rounds_kept WHERE plan_pruned = 0 AND round <= ? ORDER BY round LIMIT ?')
    .pluck().all(round - keepPlans, PRUNE_BATCH) as number[];
  const prune = c.q(
    `UPDATE rounds SET assignments = COALESCE(assignments, json_array_length(plan, '$.assignments')), allocation = 'null', plan = 'null', plan_pruned = 1
     WHERE round = ?`,
  );
  for (const n of old) prune.run(n);
  c.q('DELETE FROM rounds WHERE round <= ?').run(round - ROUND_SUMMARIES_KEPT);
  return old.length;
}

/** The rounds from `since` (ms) on whose plans were pruned: how many, and the last of them (null when none). */
export function prunedRoundsSince(c: Sql, since: number): { count: number; last: number } | null {
  const r = c.q('SELECT COUNT(*) AS n, MAX(round) AS last FROM rounds INDEXED BY rounds_kept WHERE plan_pruned = 1 AND start >= ?').get(since) as Row;
  return Number(r.n) > 0 ? { count: Number(r.n), last: Number(r.last) } : null;
}

/** The last round's timing and size without parsing its plan (the scheduler loop asks on every wake-up). */
export function lastRoundInfo(c: Sql): { round: number; start: number; duration: number; assignments: number } | undefined {
  const r = c.q("SELECT round, start, duration, COALESCE(assignments, json_array_length(plan, '$.assignments')) AS n FROM rounds ORDER BY round DESC LIMIT 1")
    .get() as Row | undefined;
  return r ? { round: Number(r.round), start: Number(r.start), duration: Number(r.duration), assignments: Number(r.n ?? 0) } : undefined;
}

/** The last round's columns as stored (allocation and plan as JSON text), for a reader that sends them on unparsed. */
export interface RoundText {
  readonly round: number;
  readonly start: number;
  readonly duration: number;
  readonly policy: string;
  readonly solverMs: number;
  readonly allocationJson: string;
  readonly planJson: string;
}

/** What tells the last round apart from any other (a round is saved again when it is re-planned): a cache key. */
export function lastRoundKey(c: Sql): string | undefined {
  const head = c.q('SELECT round, planned_at FROM rounds ORDER BY round DESC LIMIT 1').get() as Row | undefined;
  return head ? `${Number(head.round)}:${Number(head.planned_at)}` : undefined;
}

export function lastRoundText(c: Sql): RoundText | undefined {
  const r = c.q('SELECT round, start, duration, policy, solver_ms, allocation, plan FROM rounds ORDER BY round DESC LIMIT 1').get() as Row | undefined;
  if (!r) return undefined;
  return {
    round: Number(r.round),
    start: Number(r.start),
    duration: Number(r.duration),
    policy: String(r.policy),
    solverMs: Number(r.solver_ms),
    allocationJson: String(r.allocation),
    planJson: String(r.plan),
  };
}

/** The last round, parsed once per round: its allocation has a share per active job and is read on every poll. */
export function lastRound(c: Sql): RoundRow | undefined {
  const key = lastRoundKey(c);
  if (key === undefined) return undefined;
  const cached = lastRoundCache.get(c);
  if (cached?.key === key) return cached.row;
  const r = c.q('SELECT * FROM rounds WHERE round = ?').get(Number(key.split(':')[0])) as Row;
  const row: RoundRow = {
    round: Number(r.round),
    start: Number(r.start),
    duration: Number(r.duration),
    plannedAt: Number(r.planned_at),
    policy: String(r.policy),
    solverMs: Number(r.solver_ms),
    allocation: json(r.allocation),
    plan: json(r.plan),
  };
  lastRoundCache.set(c, { key, row });
  return row;
}

