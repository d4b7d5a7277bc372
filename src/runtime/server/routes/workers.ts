import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BatchSyncRequest, BatchSyncResponse, LeaseMessage, SyncEnded, SyncRequest, SyncResponse } from '../../protocol.js';
import { ApiError } from '../api-error.js';
import type { Principal } from '../auth.js';
import { iso, type RouteDeps } from '../http.js';
import * as R from '../response-schemas.js';
import * as S from '../schemas.js';
import type { AttemptRow, EndReason, JobRow } from '../store/index.js';
import { KILL_SLACK_MS } from '../../agent/job-rules.js';

/**
 * The worker protocol: a worker registers, then syncs at every heartbeat (what it runs, what ended, progress and
 * logs; it gets back every lease it should hold). A job's own process reports progress and reads its lease with the
 * lease token it was handed.
 */

/** Why an attempt ended, from the worker's report and the job's state. */
function endReason(job: JobRow, e: SyncEnded): EndReason {
  if (e.spawnError !== null) return 'spawn_failed';
  if (job.cancelRequested) return 'cancelled';
  if (!e.stoppedByWorker) return e.exitCode === 0 ? 'completed' : 'failed';
  // Stopped at lease end: finished only if it had reported all its steps.
  const total = job.reportedTotal ?? job.totalSteps;
  return total !== null && job.stepsDone >= total ? 'completed' : 'preempted';
}

export async function workerRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { store, scheduler } = deps;

  app.post('/api/v1/workers', { schema: { body: S.registerWorkerBody }, config: { auth: ['worker'], summary: 'Register a worker (worker token)', responses: { 201: R.workerRegisteredSchema } } }, async (req, reply) => {
    const p = req.principal as Extract<Principal, { kind: 'worker' }>;
    const b = req.body as { name: string; gpus: Array<{ type: string; count: number }>; machine?: string };
    const types = b.gpus.map((g) => g.type);
    if (new Set(types).size !== types.length) throw new ApiError(400, 'E_SCHEMA', 'each GPU type may be listed once');
    let id: string;
    // Either way, an earlier live registration of the same worker (machine and name) is retired (worker.replaced).
    if (p.workerId) {
      id = p.workerId;
      store.reregisterWorker(id, b.name, b.gpus, b.machine);
    } else {
      id = store.registerWorkerAs(b.name, b.gpus, p.tokenId, b.machine ?? null).id;
    }
    scheduler.touch(id);
    scheduler.poke();
    reply.code(201);
    return { id, heartbeatMs: scheduler.timing.heartbeatMs, graceMs: scheduler.timing.graceMs };
  });

  app.post('/api/v1/workers/:id/sync', { schema: { params: S.workerIdParams, body: S.syncBody }, config: { auth: ['worker'], summary: 'Worker heartbeat: report, receive leases' } }, async (req) => {
    const p = req.principal as Extract<Principal, { kind: 'worker' }>;
    const id = (req.params as { id: string }).id;
    if (p.workerId !== id) throw new ApiError(403, 'E_FORBIDDEN', `this token belongs to ${p.workerId ?? 'no worker yet'}, not ${id}`);
    const by = store.getWorker(id)?.replacedBy;
    // A retired registration stays retired: its GPUs are counted under the registration that replaced it.
    if (by) throw new ApiError(409, 'E_REPLACED', `worker ${id} was replaced by ${by}: the same machine and name registered again; give each agent its own --name`);
    scheduler.touch(id);
    return store.commit((): SyncResponse => {
      const { held: _held, ...res } = sync(id, req.body as SyncRequest);
      return res;
    });
  });

  // A driver of many workers (the Kubernetes driver) registers them in one request and one transaction: a new one
  // gets a worker token of its own (as `rondo token create --kind worker` would give it), a known id is re-registered.
  app.post(
    '/api/v1/workers/register',
    {
      bodyLimit: 16 * 1024 * 1024,
      schema: { body: S.batchRegisterBody },
      config: {
        auth: ['admin'],
        summary: 'Register many workers at once (admin token)',
        responses: {
          201: {
            type: 'object',
            required: ['workers', 'heartbeatMs', 'graceMs'],
            properties: {
              workers: {
                type: 'array',
                items: { type: 'object', required: ['name', 'id'], properties: { name: { type: 'string' }, id: { type: 'string', pattern: S.WORKER_ID_PATTERN }, token: { type: 'string' } } },
              },
              heartbeatMs: { type: 'number', exclusiveMinimum: 0 },
              graceMs: { type: 'number', minimum: 0 },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const b = req.body as { workers: Array<{ id?: string; name: string; gpus: Array<{ type: string; count: number }> }> };
      for (const w of b.workers) {
        const types = w.gpus.map((g) => g.type);
        if (new Set(types).size !== types.length) throw new ApiError(400, 'E_SCHEMA', `worker ${w.name}: each GPU type may be listed once`);
        if (w.id !== undefined && !store.getWorker(w.id)) throw new ApiError(404, 'E_NOT_FOUND', `no worker ${w.id}`);
      }
      const out = await store.commit(() =>
        b.workers.map((w) => {
          if (w.id !== undefined) {
            store.reregisterWorker(w.id, w.name, w.gpus);
            return { name: w.name, id: w.id };
          }
          const t = store.createToken('worker', { label: `driver:${w.name}`.slice(0, 128) });
          // No machine identity: a driver's workers are its nodes, told apart by name.
          const row = store.registerWorkerAs(w.name, w.gpus, t.id, null);
          return { name: w.name, id: row.id, token: t.token };
        }),
      );
      for (const w of out) scheduler.touch(w.id);
      scheduler.poke();
      reply.code(201);
      return { workers: out, heartbeatMs: scheduler.timing.heartbeatMs, graceMs: scheduler.timing.graceMs };
    },
  );

  // A driver of many workers (the Kubernetes driver) syncs them all at once: one request, one transaction.
  app.post(
    '/api/v1/workers/sync',
    { bodyLimit: 16 * 1024 * 1024, schema: { body: S.batchSyncBody }, config: { auth: ['admin'], summary: "Many workers' heartbeats at once (admin token)" } },
    async (req): Promise<BatchSyncResponse> => {
      const b = req.body as BatchSyncRequest;
      return store.commit(() => {
        const workers: Array<{ id: string; leases: LeaseMessage[]; acked: number[]; held: number[] }> = [];
        const unknown: string[] = [];
        const reported: Array<{ id: string; e: (typeof b.workers)[number]; acked: number[]; reportedRunning: Set<number> }> = [];
        let ended = false;
        for (const e of b.workers) {
          const known = store.getWorker(e.id);
          // A retired registration (replaced by another) is as good as unknown: the driver registers it again.
          if (!known || known.replacedBy) {
            unknown.push(e.id);
            continue;
          }
          const body: SyncRequest = { running: e.running ?? [], ended: e.ended ?? [], progress: e.progress ?? [], logs: e.logs ?? [] };
          ended ||= body.ended.length > 0;
          if (e.leaving) {
            // Its machine is gone (a NotReady, revoked or deleted node): it leaves the cluster at once rather than
            // after the worker timeout, and whatever it held is lost (a revocation, not a preemption), so its ends
            // are then only acknowledged.
            const now = Date.now();
            store.tx(() => {
              if (store.getWorker(e.id)?.state === 'alive') {
                store.setWorkerState(e.id, 'gone');
                store.event('worker.lost', { workerId: e.id, detail: { reason: 'its driver says it left' } });
              }
              for (const a of store.openAttemptsOfWorker(e.id)) store.endAttempt(a.id, 'lost', { at: now, message: `worker ${e.id} left the cluster` });
            });
            const r = sync(e.id, body, false, false);
            ended = true;
            if (r.acked.length > 0) workers.push({ id: e.id, leases: [], acked: [...r.acked], held: [] });
            continue;
          }
          reported.push({ id: e.id, e, ...report(e.id, body, false, true) });
        }
        // Leases after every report is in: an end on one node releases the job's next lease on another in this same
        // answer, and the open attempts are read once for all workers rather than once each.
        const open = new Map<string, AttemptRow[]>();
        for (const a of store.openAttempts()) {
          const list = open.get(a.workerId);
          if (list) list.push(a);
          else open.set(a.workerId, [a]);
        }
        for (const { id, e, acked, reportedRunning } of reported) {
          const l = leasesOf(open.get(id) ?? [], reportedRunning, { known: new Map(e.known ?? []), needTokens: new Set(e.needTokens ?? []) });
          if (l.held.length > 0 || acked.length > 0) workers.push({ id, leases: l.leases, acked, held: l.held });
        }
        if (ended) scheduler.poke();
        return { workers, unknown, heartbeatMs: scheduler.timing.heartbeatMs, graceMs: scheduler.timing.graceMs };
      });
    },
  );

  app.post('/api/v1/progress', { schema: { body: S.progressBody }, config: { auth: ['lease'], summary: "A job's own progress report (lease token)" } }, async (req) => {
    const p = req.principal as Extract<Principal, { kind: 'lease' }>;
    const job = await store.commit(() => store.recordProgress(p.attemptId, req.body as { steps?: number; total?: number; throughput?: number; checkpoint?: string }));
    if (!job) throw new ApiError(409, 'E_LEASE', 'the lease has ended');
    return { ok: true, stepsDone: job.stepsDone, stop: job.cancelRequested };
  });

  app.get('/api/v1/lease', { schema: { querystring: S.emptyQuery }, config: { auth: ['lease'], summary: "The calling job's lease" } }, async (req) => {
    const p = req.principal as Extract<Principal, { kind: 'lease' }>;
    const a = store.getAttempt(p.attemptId)!;
    const job = store.getJob(a.jobId)!;
    return { jobId: a.jobId, attempt: a.id, leaseEnd: iso(a.leaseEnd), leaseEndInMs: Math.max(0, a.leaseEnd - Date.now()), stop: job.cancelRequested };
  });

  /**
   * One worker's heartbeat. A batched sync passes `batch`: the leases its driver already holds with the same lease
   * end (`known`) are not sent again (only their ids, in `held`), and a lease token is minted only at a lease's first
   * delivery or when asked for (`needTokens`), not at every heartbeat until it runs.
   */
  function sync(workerId: string, body: SyncRequest, pokeOnEnd = true, revive = true): SyncResponse & { held: number[] } {
    const r = report(workerId, body, pokeOnEnd, revive);
    const l = leasesOf(store.openAttemptsOfWorker(workerId), r.reportedRunning);
    return { leases: l.leases, acked: r.acked, held: l.held, heartbeatMs: scheduler.timing.heartbeatMs, graceMs: scheduler.timing.graceMs };
  }

  /** What a worker reports in a heartbeat (running, progress, logs, ends), applied; the ends it acknowledges. */
  function report(workerId: string, body: SyncRequest, pokeOnEnd: boolean, revive: boolean): { acked: number[]; reportedRunning: Set<number> } {
    scheduler.touch(workerId);
    if (revive) scheduler.revive(workerId);
    const now = Date.now();
    const acked: number[] = [];
    const reportedRunning = new Set(body.running.map((r) => r.attempt));
    store.tx(() => {
      for (const r of body.running) {
        const a = store.getAttempt(r.attempt);
        if (a && a.workerId === workerId && a.state === 'leased') store.markAttemptRunning(a.id, Math.min(r.startedAt, now));
      }
      for (const pr of body.progress) {
        const a = store.getAttempt(pr.attempt);
        if (a && a.workerId === workerId) store.recordProgress(a.id, pr);
      }
      for (const l of body.logs) {
        const a = store.getAttempt(l.attempt);
        if (a && a.workerId === workerId) store.appendLogs(a.jobId, a.id, l.lines);
      }
      for (const e of body.ended) {
        const a = store.getAttempt(e.attempt);
        acked.push(e.attempt);
        if (!a || a.workerId !== workerId || a.state === 'ended') continue;
        const job = store.getJob(a.jobId)!;
        const reason = endReason(job, e);
        const msg = e.spawnError ?? (e.signal ? `killed by ${e.signal}` : `exit code ${e.exitCode}`);
        const endedAt = Math.min(e.at, now);
        if (a.state === 'leased' && e.spawnError === null) {
          // It ran and ended between two syncs: it was never reported running, but it did start.
          store.markAttemptRunning(a.id, Math.min(e.startedAt ?? Math.max(a.notBefore, a.deliveredAt ?? a.notBefore), endedAt));
        }
        store.endAttempt(a.id, reason, { exitCode: e.exitCode, at: endedAt, message: msg });
      }
    });
    // GPUs freed before the round's end may be backfilled now.
    if (pokeOnEnd && body.ended.length > 0) scheduler.poke();
    return { acked, reportedRunning };
  }

  /** One worker's leases to send, from its open attempts (`open`), after its report was applied. */
  function leasesOf(
    open: readonly AttemptRow[],
    reportedRunning: ReadonlySet<number>,
    batch?: { readonly known: ReadonlyMap<number, number>; readonly needTokens: ReadonlySet<number> },
  ): { leases: LeaseMessage[]; held: number[] } {
    const now = Date.now();
    const leases: LeaseMessage[] = [];
    const held: number[] = [];
    for (const a of open) {
      if (batch && a.deliveredAt !== null && batch.known.get(a.id) === a.leaseEnd && !batch.needTokens.has(a.id)) {
        // Unchanged since the driver last got it (a cancel still sends it again, with its stop flag).
        if (!store.cancelRequested(a.jobId)) {
          held.push(a.id);
          continue;
        }
      }
      const job = store.getJob(a.jobId)!;
      if (a.state === 'leased') {
        // Hold a lease back until every earlier attempt of the job is over: one process per job at any time. An
        // attempt lost with its worker may still run until its lease end plus the grace period (plus the moment its
        // worker needs to see the SIGKILL through).
        const others = store.attemptsOfJob(a.jobId).filter((o) => o.id !== a.id);
        const blocked = others.some(
          (o) => o.state !== 'ended' || (o.endReason === 'lost' && now < o.leaseEnd + scheduler.timing.graceMs + KILL_SLACK_MS),
        );
        if (blocked || (job.cancelRequested && a.deliveredAt === null)) continue;
      }
      leases.push({
        attempt: a.id,
        jobId: a.jobId,
        command: job.command,
        cwd: job.cwd,
        env: job.env,
        gpuType: a.gpuType,
        round: a.round,
        devices: a.gpus,
        startInMs: Math.max(0, a.notBefore - now),
        leaseEndInMs: a.leaseEnd - now,
        leaseEnd: a.leaseEnd,
        checkpointDir: join(deps.checkpointRoot, a.jobId),
        tenant: job.tenant,
        ...(a.state === 'leased' && !reportedRunning.has(a.id) && (!batch || a.deliveredAt === null || batch.needTokens.has(a.id)) ? { token: store.mintLeaseToken(a.id) } : {}),
        stop: job.cancelRequested,
      });
    }
    for (const l of leases) held.push(l.attempt);
    return { leases, held };
  }
}
