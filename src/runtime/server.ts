import { isAbsolute, join, normalize, sep } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { isRondoError } from '../model/errors.js';
import { ApiError } from './api-error.js';
import { bearerToken, type Principal, type TokenKind } from './auth.js';
import { registerDashboard } from './dashboard.js';
import { renderMetrics } from './metrics.js';
import type { LeaseMessage, SyncEnded, SyncRequest, SyncResponse } from './protocol.js';
import type { Scheduler } from './scheduler.js';
import * as S from './schemas.js';
import type { EndReason, JobRow, JobState, Store } from './store.js';
import { whatIf, type HypotheticalJob } from './whatif.js';

export interface ServerOptions {
  readonly store: Store;
  readonly scheduler: Scheduler;
  /** Each job checkpoints under `<checkpointRoot>/<job id>` (shared by all workers: a shared file system). */
  readonly checkpointRoot: string;
  /** When set, a job's working directory must lie inside one of these absolute directories. */
  readonly jobRoots?: readonly string[];
  /** Public URL of the server, handed to jobs as RONDO_SERVER. */
  readonly publicUrl: () => string;
  readonly logger?: boolean;
  /** Folder of the built web dashboard (default `<package>/dist/web`). */
  readonly webDir?: string;
}

export { ApiError };

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Token kinds allowed on the route; absent = public. */
    auth?: readonly TokenKind[];
    summary?: string;
    responses?: Record<string, unknown>;
  }
}

const MAX_BODY = 1024 * 1024;
const MAX_SUBMIT_BODY = 64 * 1024;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function jobView(j: JobRow): Record<string, unknown> {
  return {
    id: j.id,
    name: j.name,
    tenant: j.tenant,
    state: j.state,
    command: j.command,
    cwd: j.cwd,
    env: j.env,
    scaleFactor: j.scaleFactor,
    jobType: j.jobType,
    priorityWeight: j.priorityWeight,
    sloFactor: j.sloFactor,
    deadlineS: j.deadlineS,
    gpuTypes: j.gpuTypes,
    totalSteps: j.reportedTotal ?? j.totalSteps,
    stepsDone: j.stepsDone,
    checkpoint: j.checkpoint,
    attempts: j.attempts,
    submittedAt: iso(j.submittedAt),
    startedAt: iso(j.startedAt),
    finishedAt: iso(j.finishedAt),
    exitCode: j.exitCode,
    failure: j.failure,
    cancelRequested: j.cancelRequested,
  };
}

/** Rejects working directories that are relative, not normalised (`..`, `//`, `/./`), or outside the job roots. */
export function checkWorkingDir(cwd: string, roots: readonly string[] | undefined): void {
  if (cwd.includes('\0')) throw new ApiError(400, 'E_CWD', 'working directory contains a NUL byte');
  if (!isAbsolute(cwd)) throw new ApiError(400, 'E_CWD', 'working directory must be an absolute path');
  if (cwd.split(/[\\/]/).includes('..')) throw new ApiError(400, 'E_CWD', 'working directory must not contain ".." segments');
  const trimmed = cwd.length > 1 && cwd.endsWith(sep) ? cwd.slice(0, -1) : cwd;
  if (normalize(trimmed) !== trimmed) throw new ApiError(400, 'E_CWD', `working directory is not normalised (use ${normalize(trimmed)})`);
  if (roots && roots.length > 0 && !roots.some((r) => trimmed === r || trimmed.startsWith(r.endsWith(sep) ? r : r + sep))) {
    throw new ApiError(403, 'E_CWD', `working directory must be inside ${roots.join(' or ')}`);
  }
}

const RESERVED_ENV = /^(RONDO_|CUDA_VISIBLE_DEVICES$|LD_PRELOAD$|NODE_OPTIONS$)/;

export function buildServer(opts: ServerOptions): FastifyInstance {
  const { store, scheduler } = opts;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: MAX_BODY,
    // Strict validation: no type coercion, no silent removal of undeclared properties.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
    return503OnClosing: true,
  });
  const routes: Array<{ method: string; url: string; schema: Record<string, unknown>; config: Record<string, unknown> }> = [];
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods) {
      if (m === 'HEAD') continue;
      routes.push({ method: m, url: r.url, schema: (r.schema ?? {}) as Record<string, unknown>, config: (r.config ?? {}) as Record<string, unknown> });
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown; validationContext?: string }, req, reply) => {
    if (err instanceof ApiError) return sendError(reply, err.status, err.code, err.message);
    if (err.validation) return sendError(reply, 400, 'E_SCHEMA', validationMessage(err.validationContext ?? 'request', err.validation));
    if (isRondoError(err)) return sendError(reply, 400, err.code, err.message);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, err.code ?? 'E_REQUEST', err.message);
    }
    req.log.error(err);
    process.stderr.write(`rondo serve: internal error on ${req.method} ${req.url}: ${err.stack ?? err.message}\n`);
    return sendError(reply, 500, 'E_INTERNAL', 'internal error (see the server log)');
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'E_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));

  // Authentication before the body is read: an unauthenticated client cannot make the server parse anything.
  app.addHook('onRequest', async (req) => {
    const allowed = req.routeOptions.config.auth;
    if (!allowed) return;
    const token = bearerToken(req.headers.authorization);
    if (!token) throw new ApiError(401, 'E_AUTH', 'missing or malformed token (send "Authorization: Bearer <token>")');
    const p = store.authenticate(token);
    if (!p) throw new ApiError(401, 'E_AUTH', 'unknown or revoked token');
    if (!allowed.includes(p.kind)) throw new ApiError(403, 'E_FORBIDDEN', `a ${p.kind} token cannot use this endpoint`);
    req.principal = p;
  });

  const USER: TokenKind[] = ['admin', 'tenant'];
  const ADMIN: TokenKind[] = ['admin'];

  function ownJob(req: FastifyRequest, id: string): JobRow {
    const job = store.getJob(id);
    if (!job) throw new ApiError(404, 'E_NOT_FOUND', `no job ${id}`);
    const p = req.principal!;
    if (p.kind === 'tenant' && p.tenant !== job.tenant) throw new ApiError(403, 'E_FORBIDDEN', `job ${id} belongs to another tenant`);
    return job;
  }

  app.get('/healthz', { schema: { querystring: S.emptyQuery }, config: { summary: 'Liveness: 200 while the server runs (no token needed)' } }, async () => {
    return { ok: true, schemaVersion: store.db.pragma('user_version', { simple: true }), round: scheduler.stats.lastRound };
  });

  app.get('/metrics', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'Prometheus text metrics' } }, async (_req, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return renderMetrics(store, scheduler);
  });

  app.get('/api/v1/openapi.json', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'This OpenAPI 3.1 document' } }, async () =>
    openApi(routes),
  );

  app.post(
    '/api/v1/jobs',
    { bodyLimit: MAX_SUBMIT_BODY, schema: { body: S.submitJobBody }, config: { auth: USER, summary: 'Submit a job', responses: { 201: S.jobSchema } } },
    async (req, reply) => {
      const b = req.body as {
        name?: string;
        command: string[];
        cwd: string;
        env?: Record<string, string>;
        scaleFactor?: number;
        jobType?: string;
        priorityWeight?: number;
        tenant?: string;
        sloFactor?: number;
        deadlineS?: number;
        totalSteps?: number;
        gpuTypes?: string[];
      };
      const p = req.principal!;
      let tenant = b.tenant ?? 'default';
      if (p.kind === 'tenant') {
        if (b.tenant !== undefined && b.tenant !== p.tenant) throw new ApiError(403, 'E_FORBIDDEN', `a token of tenant ${p.tenant} cannot submit for ${b.tenant}`);
        tenant = p.tenant;
      }
      if (b.command.some((a) => a.includes('\0'))) throw new ApiError(400, 'E_SCHEMA', 'command arguments must not contain NUL bytes');
      checkWorkingDir(b.cwd, opts.jobRoots);
      for (const [k, v] of Object.entries(b.env ?? {})) {
        if (RESERVED_ENV.test(k)) throw new ApiError(400, 'E_SCHEMA', `environment variable ${k} is reserved (set by the worker or unsafe)`);
        if (v.includes('\0')) throw new ApiError(400, 'E_SCHEMA', `environment variable ${k} contains a NUL byte`);
      }
      const job = await store.commit(() => store.submitJob({
        name: b.name ?? null,
        command: b.command,
        cwd: b.cwd,
        env: b.env ?? {},
        scaleFactor: b.scaleFactor ?? 1,
        jobType: b.jobType ?? null,
        priorityWeight: b.priorityWeight ?? 1,
        tenant,
        sloFactor: b.sloFactor ?? null,
        deadlineS: b.deadlineS ?? null,
        totalSteps: b.totalSteps ?? null,
        gpuTypes: b.gpuTypes ?? null,
      }));
      scheduler.poke();
      reply.code(201);
      return jobView(job);
    },
  );

  app.get('/api/v1/jobs', { schema: { querystring: S.listJobsQuery }, config: { auth: USER, summary: 'List jobs (a tenant sees its own)' } }, async (req) => {
    const q = req.query as { state?: string; limit?: string; after?: string };
    const p = req.principal!;
    const jobs = store.listJobs({
      ...(p.kind === 'tenant' ? { tenant: p.tenant } : {}),
      ...(q.state ? { states: q.state.split(',') as JobState[] } : {}),
      limit: q.limit ? Math.max(1, Number(q.limit)) : 1000,
      afterSeq: q.after ? Number(q.after) : 0,
    });
    return { jobs: jobs.map(jobView) };
  });

  app.get('/api/v1/jobs/:id', { schema: { params: S.jobIdParams }, config: { auth: USER, summary: 'One job, with its attempts', responses: { 200: S.jobSchema } } }, async (req) => {
    const job = ownJob(req, (req.params as { id: string }).id);
    return {
      ...jobView(job),
      attemptsDetail: store.attemptsOfJob(job.id).map((a) => ({
        id: a.id,
        workerId: a.workerId,
        round: a.round,
        gpuType: a.gpuType,
        devices: a.gpus,
        state: a.state,
        endReason: a.endReason,
        exitCode: a.exitCode,
        startedAt: iso(a.startedAt),
        endedAt: iso(a.endedAt),
        leaseEnd: iso(a.leaseEnd),
      })),
    };
  });

  app.post('/api/v1/jobs/:id/cancel', { schema: { params: S.jobIdParams }, config: { auth: USER, summary: 'Cancel a job' } }, async (req) => {
    const job = ownJob(req, (req.params as { id: string }).id);
    const p = req.principal!;
    const view = jobView(await store.commit(() => store.cancelJob(job.id, p.kind === 'tenant' ? `tenant ${p.tenant}` : 'admin')));
    scheduler.poke(); // its GPUs may be backfilled now
    return view;
  });

  app.get('/api/v1/jobs/:id/logs', { schema: { params: S.jobIdParams, querystring: S.logsQuery }, config: { auth: USER, summary: 'Captured stdout/stderr of a job' } }, async (req) => {
    const job = ownJob(req, (req.params as { id: string }).id);
    const q = req.query as { after?: string; limit?: string };
    return { jobId: job.id, lines: store.logs(job.id, { afterId: q.after ? Number(q.after) : 0, limit: q.limit ? Number(q.limit) : 1000 }) };
  });

  app.get('/api/v1/jobs/:id/events', { schema: { params: S.jobIdParams, querystring: S.logsQuery }, config: { auth: USER, summary: 'State changes of a job' } }, async (req) => {
    const job = ownJob(req, (req.params as { id: string }).id);
    const q = req.query as { after?: string; limit?: string };
    return { jobId: job.id, events: store.events({ jobId: job.id, afterId: q.after ? Number(q.after) : 0, limit: q.limit ? Number(q.limit) : 200 }) };
  });

  app.get('/api/v1/cluster', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'Workers, GPUs and job counts' } }, async (req) => {
    const open = store.openAttempts();
    const p = req.principal!;
    const own = p.kind === 'tenant' ? new Set(store.listJobs({ tenant: p.tenant, states: ['queued', 'running'] }).map((j) => j.id)) : undefined;
    const mine = (id: string): boolean => !own || own.has(id);
    const workers = store.listWorkers().map((w) => ({
      id: w.id,
      name: w.name,
      gpus: w.gpus,
      state: w.state === 'alive' && scheduler.isAlive(w.id) ? 'alive' : 'gone',
      running: open
        .filter((a) => a.workerId === w.id && a.state === 'running')
        // A tenant sees that another tenant's job holds GPUs, not which job.
        .map((a) => ({ attempt: a.id, jobId: mine(a.jobId) ? a.jobId : null, gpuType: a.gpuType, devices: a.gpus })),
    }));
    const gpus: Record<string, { total: number; busy: number }> = {};
    for (const w of workers) {
      if (w.state !== 'alive') continue;
      for (const g of w.gpus) (gpus[g.type] ??= { total: 0, busy: 0 }).total += g.count;
      for (const r of w.running) (gpus[r.gpuType] ??= { total: 0, busy: 0 }).busy += r.devices.length;
    }
    return { policy: scheduler.policyName, roundMs: scheduler.timing.roundMs, workers, gpus, jobs: store.countJobs() };
  });

  // The admin's view of a round (a share per active job: large) is serialised once per round, not once per poll.
  let planCache: { row: unknown; body: string } | undefined;
  app.get('/api/v1/plan', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'Current allocation and round plan' } }, async (req, reply) => {
    const r = store.lastRound();
    if (!r) return { round: 0, assignments: [], allocation: { gpuTypes: [], shares: {} } };
    const p = req.principal!;
    if (p.kind !== 'tenant' && planCache?.row === r) return reply.type('application/json; charset=utf-8').send(planCache.body);
    const alloc = r.allocation as { gpuTypes: string[]; shares: Record<string, number[]> };
    let assignments = (r.plan as { assignments: Array<{ jobId: string }> }).assignments;
    let shares = alloc.shares;
    if (p.kind === 'tenant') {
      // A tenant sees the plan for its own jobs only.
      const mine = new Set(store.listJobs({ tenant: p.tenant, states: ['queued', 'running'] }).map((j) => j.id));
      assignments = assignments.filter((a) => mine.has(a.jobId));
      shares = Object.fromEntries(Object.entries(shares).filter(([k]) => mine.has(k)));
    }
    const view = {
      round: r.round,
      start: iso(r.start),
      end: iso(r.start + r.duration),
      policy: r.policy,
      solverMs: r.solverMs,
      allocation: { gpuTypes: alloc.gpuTypes, shares },
      assignments,
    };
    if (p.kind === 'tenant') return view;
    planCache = { row: r, body: JSON.stringify(view) };
    return reply.type('application/json; charset=utf-8').send(planCache.body);
  });

  app.post(
    '/api/v1/whatif',
    { schema: { body: S.whatIfBody }, config: { auth: USER, summary: 'Estimated start and finish times from the live state (simulated forward), optionally with one more job' } },
    async (req) => {
      const b = req.body as Partial<HypotheticalJob> & { scaleFactor?: number };
      const hypothetical = Object.keys(b).length > 0 ? { ...b, scaleFactor: b.scaleFactor ?? 1 } : undefined;
      const r = await whatIf(store, scheduler, hypothetical);
      const p = req.principal!;
      const mine = p.kind === 'tenant' ? new Set(store.listJobs({ tenant: p.tenant, states: ['queued', 'running'] }).map((j) => j.id)) : undefined;
      return {
        ...r,
        now: iso(r.now),
        jobs: r.jobs.filter((j) => !mine || mine.has(j.id)).map((j) => ({ ...j, estimatedStart: iso(j.estimatedStart), estimatedFinish: iso(j.estimatedFinish) })),
        ...(r.hypothetical ? { hypothetical: { ...r.hypothetical, estimatedStart: iso(r.hypothetical.estimatedStart), estimatedFinish: iso(r.hypothetical.estimatedFinish) } } : {}),
      };
    },
  );

  app.post('/api/v1/tokens', { schema: { body: S.createTokenBody }, config: { auth: ADMIN, summary: 'Create a tenant or worker token (shown once)' } }, async (req, reply) => {
    const b = req.body as { kind: 'tenant' | 'worker'; tenant?: string; label?: string };
    if (b.kind === 'tenant' && !b.tenant) throw new ApiError(400, 'E_SCHEMA', 'a tenant token needs "tenant"');
    if (b.kind === 'worker' && b.tenant) throw new ApiError(400, 'E_SCHEMA', 'a worker token has no tenant');
    const t = store.createToken(b.kind, { ...(b.tenant ? { tenant: b.tenant } : {}), ...(b.label ? { label: b.label } : {}) });
    store.event('token.created', { detail: { id: t.id, kind: b.kind, tenant: b.tenant ?? null } });
    reply.code(201);
    return { id: t.id, kind: b.kind, tenant: b.tenant ?? null, token: t.token };
  });

  app.get('/api/v1/tokens', { schema: { querystring: S.emptyQuery }, config: { auth: ADMIN, summary: 'List tokens (never their values)' } }, async () => ({
    tokens: store.listTokens(),
  }));

  app.delete('/api/v1/tokens/:id', { schema: { params: S.tokenIdParams }, config: { auth: ADMIN, summary: 'Revoke a token' } }, async (req) => {
    const id = Number((req.params as { id: string }).id);
    if (!store.revokeToken(id)) throw new ApiError(404, 'E_NOT_FOUND', `no active token ${id}`);
    store.event('token.revoked', { detail: { id } });
    return { id, revoked: true };
  });

  app.post('/api/v1/workers', { schema: { body: S.registerWorkerBody }, config: { auth: ['worker'], summary: 'Register a worker (worker token)' } }, async (req, reply) => {
    const p = req.principal as Extract<Principal, { kind: 'worker' }>;
    const b = req.body as { name: string; gpus: Array<{ type: string; count: number }> };
    const types = b.gpus.map((g) => g.type);
    if (new Set(types).size !== types.length) throw new ApiError(400, 'E_SCHEMA', 'each GPU type may be listed once');
    let id: string;
    if (p.workerId) {
      // The same token registering again is the same machine restarted: whatever it ran before is gone.
      id = p.workerId;
      store.tx(() => {
        for (const a of store.openAttemptsOfWorker(id)) store.endAttempt(a.id, 'lost', { message: 'worker restarted' });
        store.db.prepare("UPDATE workers SET name = ?, gpus = ?, state = 'alive' WHERE id = ?").run(b.name, JSON.stringify(b.gpus), id);
        store.event('worker.reregistered', { workerId: id });
      });
    } else {
      id = store.tx(() => {
        const w = store.registerWorker(b.name, b.gpus, p.tokenId);
        store.bindWorkerToken(p.tokenId, w.id);
        return w.id;
      });
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
    scheduler.touch(id);
    return store.commit(() => sync(id, req.body as SyncRequest));
  });

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

  function endReason(job: JobRow, e: SyncEnded): EndReason {
    if (e.spawnError !== null) return 'spawn_failed';
    if (job.cancelRequested) return 'cancelled';
    if (!e.stoppedByWorker) return e.exitCode === 0 ? 'completed' : 'failed';
    // Stopped at lease end: finished only if it had reported all its steps.
    const total = job.reportedTotal ?? job.totalSteps;
    return total !== null && job.stepsDone >= total ? 'completed' : 'preempted';
  }

  function sync(workerId: string, body: SyncRequest): SyncResponse {
    scheduler.touch(workerId);
    scheduler.revive(workerId);
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
        store.endAttempt(a.id, reason, { exitCode: e.exitCode, at: Math.min(e.at, now), message: msg });
      }
    });
    // GPUs freed before the round's end may be backfilled now.
    if (body.ended.length > 0) scheduler.poke();
    const leases: LeaseMessage[] = [];
    for (const a of store.openAttemptsOfWorker(workerId)) {
      const job = store.getJob(a.jobId)!;
      if (a.state === 'leased') {
        // Hold a lease back until every earlier attempt of the job is over: one process per job at any time. An
        // attempt lost with its worker may still run until its lease end plus the grace period.
        const others = store.attemptsOfJob(a.jobId).filter((o) => o.id !== a.id);
        const blocked = others.some(
          (o) => o.state !== 'ended' || (o.endReason === 'lost' && now < o.leaseEnd + scheduler.timing.graceMs),
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
        devices: a.gpus,
        startInMs: Math.max(0, a.notBefore - now),
        leaseEndInMs: a.leaseEnd - now,
        leaseEnd: a.leaseEnd,
        checkpointDir: join(opts.checkpointRoot, a.jobId),
        ...(a.state === 'leased' && !reportedRunning.has(a.id) ? { token: store.mintLeaseToken(a.id) } : {}),
        stop: job.cancelRequested,
      });
    }
    return { leases, acked, heartbeatMs: scheduler.timing.heartbeatMs, graceMs: scheduler.timing.graceMs };
  }

  registerDashboard(app, { store, scheduler, ...(opts.webDir ? { webDir: opts.webDir } : {}), ...(opts.jobRoots ? { jobRoots: opts.jobRoots } : {}) });
  return app;
}

/** `body.command must be array`, `body must NOT have additional properties "evil"`: the first problem, with its place. */
function validationMessage(context: string, validation: unknown): string {
  const v = (Array.isArray(validation) ? validation[0] : undefined) as
    | { instancePath?: string; message?: string; params?: { additionalProperty?: string; allowedValues?: unknown[] } }
    | undefined;
  if (!v) return `invalid ${context}`;
  const where = context + (v.instancePath ?? '').replace(/\//g, '.');
  let msg = `${where} ${v.message ?? 'is invalid'}`;
  if (v.params?.additionalProperty !== undefined) msg += ` (${JSON.stringify(v.params.additionalProperty)} is not allowed)`;
  if (v.params?.allowedValues) msg += ` (${v.params.allowedValues.map((x) => JSON.stringify(x)).join(', ')})`;
  return msg;
}

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error: { status, code, message } });
}

function openApi(routes: ReadonlyArray<{ method: string; url: string; schema: Record<string, unknown>; config: Record<string, unknown> }>): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (r.schema.hide) continue; // the dashboard's static files
    const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const params: unknown[] = [];
    for (const [where, schemaKey] of [['path', 'params'], ['query', 'querystring']] as const) {
      const s = r.schema[schemaKey] as { properties?: Record<string, unknown>; required?: string[] } | undefined;
      for (const [name, schema] of Object.entries(s?.properties ?? {})) {
        params.push({ name, in: where, required: where === 'path' || (s?.required ?? []).includes(name), schema });
      }
    }
    const auth = r.config.auth as string[] | undefined;
    const responses: Record<string, unknown> = {};
    for (const [code, schema] of Object.entries((r.config.responses as Record<string, unknown> | undefined) ?? {})) {
      responses[code] = { description: 'success', content: { 'application/json': { schema } } };
    }
    if (Object.keys(responses).length === 0) responses['200'] = { description: 'success' };
    responses['4XX'] = { description: 'client error', content: { 'application/json': { schema: S.errorSchema } } };
    paths[path] ??= {};
    paths[path]![r.method.toLowerCase()] = {
      summary: r.config.summary ?? '',
      ...(auth ? { security: [{ bearer: [] }], 'x-token-kinds': auth } : { security: [] }),
      parameters: params,
      ...(r.schema.body ? { requestBody: { required: true, content: { 'application/json': { schema: r.schema.body } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Rondo runtime API', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
