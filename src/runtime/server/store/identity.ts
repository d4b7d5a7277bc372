import { hashToken, newToken, tokenMatches, type Principal, type TokenKind } from '../auth.js';
import { workerFromRow, type Row, type WorkerGpus, type WorkerRow } from './rows.js';
import type { Sql } from './sql.js';

/** Identity: API tokens (only their hashes are kept) and the workers they registered. */

/** Creates a token and returns it in clear text: the only time it exists outside the caller. */
export function createToken(c: Sql, kind: TokenKind, fields: { tenant?: string; workerId?: string; attemptId?: number; label?: string } = {}): { id: number; token: string } {
  const token = newToken(kind);
  const info = c.q('INSERT INTO tokens(kind, hash, tenant, worker_id, attempt_id, label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .run(kind, hashToken(token), fields.tenant ?? null, fields.workerId ?? null, fields.attemptId ?? null, fields.label ?? null, c.now());
  return { id: Number(info.lastInsertRowid), token };
}

export function hasAdminToken(c: Sql): boolean {
  return c.q("SELECT 1 FROM tokens WHERE kind = 'admin' AND revoked_at IS NULL").get() !== undefined;
}

/** Resolves a presented token to a principal, or undefined when unknown or revoked. */
export function authenticate(c: Sql, token: string): Principal | undefined {
  const r = c.q('SELECT * FROM tokens WHERE hash = ? AND revoked_at IS NULL').get(hashToken(token)) as Row | undefined;
  if (!r || !tokenMatches(token, String(r.hash))) return undefined;
  const id = Number(r.id);
  switch (r.kind) {
    case 'admin':
      return { kind: 'admin', tokenId: id };
    case 'tenant':
      return { kind: 'tenant', tokenId: id, tenant: String(r.tenant) };
    case 'worker':
      return { kind: 'worker', tokenId: id, workerId: (r.worker_id as string | null) ?? null };
    case 'lease': {
      const a = c.q('SELECT job_id, state FROM attempts WHERE id = ?').get(r.attempt_id) as Row | undefined;
      // A lease token dies with its attempt: a finished or preempted process cannot report into a later one.
      if (!a || a.state === 'ended') return undefined;
      return { kind: 'lease', tokenId: id, attemptId: Number(r.attempt_id), jobId: String(a.job_id) };
    }
    default:
      return undefined;
  }
}

export function revokeToken(c: Sql, id: number): boolean {
  return c.q('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(c.now(), id).changes === 1;
}

export function listTokens(c: Sql): Array<{ id: number; kind: TokenKind; tenant: string | null; workerId: string | null; label: string | null; createdAt: number; revoked: boolean }> {
  return (c.q("SELECT * FROM tokens WHERE kind != 'lease' ORDER BY id").all() as Row[]).map((r) => ({
    id: Number(r.id),
    kind: r.kind as TokenKind,
    tenant: (r.tenant as string | null) ?? null,
    workerId: (r.worker_id as string | null) ?? null,
    label: (r.label as string | null) ?? null,
    createdAt: Number(r.created_at),
    revoked: r.revoked_at !== null,
  }));
}

export function bindWorkerToken(c: Sql, tokenId: number, workerId: string): void {
  c.q('UPDATE tokens SET worker_id = ? WHERE id = ?').run(workerId, tokenId);
}

export function registerWorker(c: Sql, name: string, gpus: readonly WorkerGpus[], tokenId: number | null, machine: string | null = null): WorkerRow {
  return c.tx(() => {
    const n = Number((c.q('SELECT COUNT(*) AS n FROM workers').get() as Row).n) + 1;
    const id = `w-${n}`;
    c.q("INSERT INTO workers(id, name, gpus, token_id, registered_at, state, machine) VALUES (?, ?, ?, ?, ?, 'alive', ?)")
      .run(id, name, JSON.stringify(gpus), tokenId, c.now(), machine);
    c.event('worker.registered', { workerId: id, detail: { name, gpus } });
    return getWorker(c, id)!;
  });
}

export function getWorker(c: Sql, id: string): WorkerRow | undefined {
  const r = c.q('SELECT * FROM workers WHERE id = ?').get(id) as Row | undefined;
  return r ? workerFromRow(r) : undefined;
}

export function listWorkers(c: Sql): WorkerRow[] {
  // Read by every plan, reap and poll (the live cluster): kept until the workers table is next written.
  return c.cachedRows('workers', 'workers', () => (c.q('SELECT * FROM workers ORDER BY registered_at, id').all() as Row[]).map(workerFromRow));
}

export function setWorkerState(c: Sql, id: string, state: 'alive' | 'gone'): void {
  c.q('UPDATE workers SET state = ? WHERE id = ?').run(state, id);
}

/** A registered worker came back (same token): its new name and GPUs, alive again. */
export function updateWorker(c: Sql, id: string, name: string, gpus: readonly WorkerGpus[], machine?: string | null): void {
  if (machine === undefined) c.q("UPDATE workers SET name = ?, gpus = ?, state = 'alive' WHERE id = ?").run(name, JSON.stringify(gpus), id);
  else c.q("UPDATE workers SET name = ?, gpus = ?, machine = ?, state = 'alive' WHERE id = ?").run(name, JSON.stringify(gpus), machine, id);
}

/**
 * Marks every other live registration of the same worker (same machine and name) gone and replaced by `id`, and
 * returns their ids. The same machine and name registering again is the same agent restarted (e.g. a server restart
 * that handed its local agents new tokens): its old registration holds no GPUs any more.
 */
export function retireSameWorker(c: Sql, id: string, name: string, machine: string | null): string[] {
  // Without a machine identity (a client that sends none) a name alone could be two machines: nothing is retired.
  if (machine === null) return [];
  const old = (c.q("SELECT id FROM workers WHERE id != ? AND name = ? AND machine = ? AND replaced_by IS NULL AND state = 'alive'").all(id, name, machine) as Row[]).map((r) => String(r.id));
  for (const o of old) c.q("UPDATE workers SET state = 'gone', replaced_by = ? WHERE id = ?").run(id, o);
  return old;
}
