import type { TenantRound } from '../../dashboard-api.js';
import type { Row } from './rows.js';
import type { Sql } from './sql.js';

/**
 * Per-round figures of each tenant of a live server's tenant tree (src/runtime/server/tenants.ts): the history the
 * dashboard's fairness view draws. Bounded like the rounds table: only the last `TENANT_ROUNDS_KEPT` rounds stay.
 */

export const TENANT_ROUNDS_KEPT = 2000;

/** A row as `GET /api/v1/tenants/history` answers it, unchanged (one definition: dashboard-api.ts). */
export type TenantRoundRow = TenantRound;

/** Records (or replaces: a backfill plan within a round) one round's rows, and drops rounds beyond the bound. */
export function saveTenantRound(c: Sql, rows: readonly TenantRoundRow[]): void {
  if (rows.length === 0) return;
  const ins = c.q(
    `INSERT INTO tenant_rounds(round, at, tenant, entitlement, received, gpus, borrowed, lent, active_jobs, queued_jobs, queued_gpus)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(round, tenant) DO UPDATE SET at = excluded.at, entitlement = excluded.entitlement, received = excluded.received,
     gpus = excluded.gpus, borrowed = excluded.borrowed, lent = excluded.lent, active_jobs = excluded.active_jobs,
     queued_jobs = excluded.queued_jobs, queued_gpus = excluded.queued_gpus`,
  );
  c.tx(() => {
    for (const r of rows) ins.run(r.round, r.at, r.tenant, r.entitlement, r.received, r.gpus, r.borrowed, r.lent, r.activeJobs, r.queuedJobs, r.queuedGpus);
    c.q('DELETE FROM tenant_rounds WHERE round <= ?').run(rows[0]!.round - TENANT_ROUNDS_KEPT);
  });
}

/** The last `limit` rounds' rows (of one tenant, or all), oldest first. */
export function tenantRounds(c: Sql, opts: { tenant?: string; limit: number }): TenantRoundRow[] {
  const top = c.q('SELECT MAX(round) AS r FROM tenant_rounds').get() as Row | undefined;
  if (top?.r === null || top?.r === undefined) return [];
  const from = Number(top.r) - opts.limit + 1;
  const rows = (
    opts.tenant !== undefined
      ? c.q('SELECT * FROM tenant_rounds WHERE round >= ? AND tenant = ? ORDER BY round, tenant').all(from, opts.tenant)
      : c.q('SELECT * FROM tenant_rounds WHERE round >= ? ORDER BY round, tenant').all(from)
  ) as Row[];
  return rows.map((r) => ({
    round: Number(r.round),
    at: Number(r.at),
    tenant: String(r.tenant),
    entitlement: Number(r.entitlement),
    received: Number(r.received),
    gpus: Number(r.gpus),
    borrowed: r.borrowed === null ? null : Number(r.borrowed),
    lent: r.lent === null ? null : Number(r.lent),
    activeJobs: Number(r.active_jobs),
    queuedJobs: Number(r.queued_jobs),
    queuedGpus: Number(r.queued_gpus),
  }));
}
