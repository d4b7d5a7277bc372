import type { Row } from './rows.js';
import type { Sql } from './sql.js';

/**
 * GPU use per planned round, for the heterogeneity view: per GPU type and per tenant, the GPUs held (raw), the same
 * weighted by each job's throughput there against its best type (effective), and the GPUs queued jobs ask for. One
 * row per plan, written when the plan is committed, so what is drawn later is what the cluster was then (its
 * capacity included), never recomputed against today's workers. Bounded: the last `USE_HISTORY_ROUNDS` plans.
 */

export const USE_HISTORY_ROUNDS = 2000;

export interface UseFigures {
  /** GPUs held by leases of this round. */
  readonly raw: number;
  /** Σ over those leases of GPUs × (throughput on this type ÷ throughput on the job's best type). */
  readonly effective: number;
  /** GPUs asked for by jobs that wait (each counted on its best type, and once for its tenant). */
  readonly queued: number;
}

export interface UseSample {
  readonly round: number;
  /** Unix ms: the round (or backfill plan) starts and ends. */
  readonly at: number;
  readonly end: number;
  readonly types: Readonly<Record<string, UseFigures & { readonly capacity: number }>>;
  readonly tenants: Readonly<Record<string, UseFigures>>;
}

export function saveUseSample(c: Sql, s: UseSample): void {
  c.q('INSERT INTO use_history(round, at, end_at, data) VALUES (?, ?, ?, ?) ON CONFLICT(round) DO UPDATE SET at = excluded.at, end_at = excluded.end_at, data = excluded.data')
    .run(s.round, s.at, s.end, JSON.stringify({ types: s.types, tenants: s.tenants }));
  c.q('DELETE FROM use_history WHERE round <= ?').run(s.round - USE_HISTORY_ROUNDS);
}

/** Samples whose time overlaps [from, to], oldest first, with the last one before `from` (what held at `from`). */
export function useSamples(c: Sql, from: number, to: number): UseSample[] {
  const rows = c.q(
    `SELECT * FROM use_history WHERE at <= ? AND (at >= ? OR round = (SELECT MAX(round) FROM use_history WHERE at < ?)) ORDER BY round`,
  ).all(to, from, from) as Row[];
  return rows.map((r) => {
    const d = JSON.parse(String(r.data)) as Pick<UseSample, 'types' | 'tenants'>;
    return { round: Number(r.round), at: Number(r.at), end: Number(r.end_at), types: d.types, tenants: d.tenants };
  });
}
