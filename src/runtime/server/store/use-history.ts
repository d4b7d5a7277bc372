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

/** What the use record needs of a job: a narrow read (the full rows of 10,000 jobs take 0.5 s to read). */
export interface JobShape {
  readonly id: string;
  readonly tenant: string;
  readonly scaleFactor: number;
  readonly gpuTypes: readonly string[] | null;
  readonly jobType: string | null;
}

const shape = (r: Row): JobShape => ({
  id: String(r.id),
  tenant: String(r.tenant),
  scaleFactor: Number(r.scale_factor),
  gpuTypes: r.gpu_types === null ? null : (JSON.parse(String(r.gpu_types)) as string[]),
  jobType: (r.job_type as string | null) ?? null,
});

export function jobShapes(c: Sql, ids: readonly string[]): JobShape[] {
  const q = c.q('SELECT id, tenant, scale_factor, gpu_types, job_type FROM jobs WHERE id = ?');
  return ids.flatMap((id) => {
    const r = q.get(id) as Row | undefined;
    return r ? [shape(r)] : [];
  });
}

/**
 * Jobs that wait (queued, not being cancelled, no lease running to `untilMs`): those with measurements one by one
 * (`count` 1), the others grouped by tenant, type, size and allowed types, which is all their throughput depends on,
 * so 10,000 waiting jobs are a few groups counted by SQLite rather than 10,000 rows read.
 */
export function waitingJobs(c: Sql, untilMs: number): Array<JobShape & { readonly count: number }> {
  const waiting = `j.state = 'queued' AND j.cancel_requested = 0
    AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.job_id = j.id AND a.state != 'ended' AND a.lease_end >= ?)`;
  const measured = 'EXISTS (SELECT 1 FROM throughputs t WHERE t.job_id = j.id)';
  const one = c.q(`SELECT j.id, j.tenant, j.scale_factor, j.gpu_types, j.job_type FROM jobs j WHERE ${waiting} AND ${measured}`).all(untilMs) as Row[];
  const groups = c.q(
    `SELECT '' AS id, j.tenant, j.scale_factor, j.gpu_types, j.job_type, COUNT(*) AS n FROM jobs j WHERE ${waiting} AND NOT ${measured}
     GROUP BY j.tenant, j.scale_factor, j.gpu_types, j.job_type`,
  ).all(untilMs) as Row[];
  return [...one.map((r) => ({ ...shape(r), count: 1 })), ...groups.map((r) => ({ ...shape(r), count: Number(r.n) }))];
}
