// Over 500 lines: one route plugin, the dashboard's read-only endpoints and the estimate cache only they use.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { equalShareThroughput } from '../../../metrics/index.js';
import type { ClusterHistory, FairnessView, JobWhy, QueuePage, QueueRow, Timeline, WhoAmI } from '../../dashboard-api.js';
import { ApiError } from '../api-error.js';
import { iso, ownJob, USER, type RouteDeps } from '../http.js';
import { buildCluster, type Scheduler } from '../scheduler.js';
import * as R from '../response-schemas.js';
import * as S from '../schemas.js';
import type { AttemptRow, JobState, QueueJob, Store } from '../store/index.js';
import { whatIf, type WhatIfResult } from '../whatif.js';
import { shapeProblem } from '../why.js';

/**
 * What the web dashboard (web/, built into dist/web) needs beyond the REST API: the built UI itself at `/`, a
 * Server-Sent Events stream that says when something changed, and read endpoints that join what the UI shows on one
 * screen (queue rows with positions, estimates and shares; per-job timelines; fairness; GPU use over time). Every
 * endpoint here only reads; a tenant sees its own jobs only, exactly as on the REST API.
 */

export interface DashboardOptions extends RouteDeps {
  /** How often the change stream looks for changes (default 500 ms). */
  readonly streamTickMs?: number;
}

/** The package root: the nearest folder above this module with rondo's package.json (works from src/ and dist/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'rondo') return dir;
    dir = dirname(dir);
  }
  return dirname(dirname(dirname(fileURLToPath(import.meta.url))));
}

export function defaultWebDir(): string {
  return join(packageRoot(), 'dist', 'web');
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Rondo: dashboard not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#eee;padding:0 .25rem}</style>
</head><body><h1>The Rondo dashboard has not been built</h1>
<p>This server runs, but the web dashboard's files are missing from <code>dist/web</code>. In the rondo folder run
<code>npm ci</code> (or <code>npm run build</code> when the dependencies are installed), then restart <code>rondo serve</code>.</p>
<p>The REST API works meanwhile: <code>/api/v1/openapi.json</code>, <code>rondo status</code>.</p></body></html>`;

const QUEUE_STATES = 'queued|running|completed|failed|cancelled';
export const queueQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: { type: 'string', pattern: `^(${QUEUE_STATES})(,(${QUEUE_STATES})){0,4}$` },
    tenant: { type: 'string', pattern: S.TENANT_PATTERN, description: 'admin only: one tenant' },
    q: { type: 'string', maxLength: 128, description: 'substring of the job id or name' },
    offset: { type: 'string', pattern: '^[0-9]{1,9}$' },
    limit: { type: 'string', pattern: '^[0-9]{1,4}$', description: 'rows per page, at most 500' },
  },
};

const historyQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { minutes: { type: 'string', pattern: '^[0-9]{1,4}$', description: 'window length, 1 to 1440 minutes (default 30)' } },
};

/** Above this many active jobs the dashboard shows no estimates (`rondo whatif` still gives them, in its own time). */
export const MAX_ESTIMATED_JOBS = 2000;
const SKIPPED = `not estimated: more than ${MAX_ESTIMATED_JOBS.toLocaleString('en-US')} active jobs (rondo whatif gives estimates at its own pace)`;

/**
 * Estimated starts and finishes from `whatIf`, cached: the simulation is CPU work on the server's thread, so it is
 * bounded (rounds and time), rerun only after something changed, at most every few seconds and never more often
 * than twenty times its own cost. A stale value is answered at once while the next one is computed.
 */
class Estimates {
  private value: { at: number; key: string; result: WhatIfResult } | undefined;
  private pending: Promise<WhatIfResult> | undefined;
  private lastCostMs = 0;
  constructor(
    private readonly store: Store,
    private readonly scheduler: Scheduler,
  ) {}

  private refresh(key: string): Promise<WhatIfResult> {
    this.pending ??= (async () => {
      const t0 = performance.now();
      try {
        const result = await whatIf(this.store, this.scheduler, undefined, { maxRounds: 2000, budgetMs: 150 });
        this.value = { at: Date.now(), key, result };
        return result;
      } finally {
        this.lastCostMs = performance.now() - t0;
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  /**
   * `activeIds`: jobs that wait or run now; a cached answer that lacks one of them (a new job) is not served. Null
   * when the queue is too long for a quick estimate (one simulated round alone would stall the server).
   */
  async get(key: string, activeIds: readonly string[]): Promise<WhatIfResult | null> {
    if (activeIds.length > MAX_ESTIMATED_JOBS) return null;
    const v = this.value;
    if (!v) return this.refresh(key);
    const known = new Set(v.result.jobs.map((j) => j.id));
    if (activeIds.some((id) => !known.has(id)) && v.key !== key) return this.refresh(key);
    if (v.key !== key && Date.now() - v.at >= Math.max(5000, 20 * this.lastCostMs)) {
      setImmediate(() => void this.refresh(key).catch(() => undefined));
    }
    return v.result;
  }
}

/** How far a truncated estimate looked ahead (Unix ms); null when it ran every job to its end. */
function estimateHorizon(r: WhatIfResult): number | null {
  return r.truncated ? r.now + r.simulatedRounds * r.roundS * 1000 : null;
}

export async function dashboardRoutes(app: FastifyInstance, opts: DashboardOptions): Promise<void> {
  const { store, scheduler } = opts;
  const webDir = opts.webDir ?? defaultWebDir();
  const estimates = new Estimates(store, scheduler);

  // ---- the built UI ----
  if (existsSync(join(webDir, 'index.html'))) {
    // Hidden from the OpenAPI document (schemaHide); served without a token: the files hold no data.
    void app.register(fastifyStatic, { root: webDir, prefix: '/', wildcard: false, schemaHide: true, cacheControl: true, maxAge: 0 });
  } else {
    app.get('/', { schema: { hide: true } as FastifySchema }, async (_req, reply) => reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT));
  }

  /** A digest of everything the dashboard shows: it changes when any job, attempt, worker or round does. */
  function digest(): string {
    const m = store.changeMarks();
    const live = scheduler.liveWorkers().map((w) => w.id).join(',');
    return `${m.lastEventId}/${store.lastRoundInfo()?.round ?? 0}/${m.running}/${m.runningSteps}/${live}`;
  }

  // ---- live updates: Server-Sent Events ----
  // One ticker for all open streams: it computes the digest only while somebody listens and sends a `change` event
  // when it moved. Clients then fetch what they show through the ordinary endpoints (which apply the tenant filter).
  const streams = new Set<FastifyReply>();
  let ticker: NodeJS.Timeout | undefined;
  let lastDigest = '';
  let beat = 0;
  const tickMs = opts.streamTickMs ?? 500;
  const tick = (): void => {
    let d: string;
    try {
      d = digest();
    } catch {
      return; // the store is closing
    }
    beat++;
    const changed = d !== lastDigest;
    lastDigest = d;
    for (const r of streams) {
      if (changed) r.raw.write(`event: change\ndata: ${JSON.stringify({ round: scheduler.stats.lastRound, at: Date.now() })}\n\n`);
      else if (beat % Math.max(1, Math.round(15_000 / tickMs)) === 0) r.raw.write(': keep-alive\n\n');
    }
  };
  app.addHook('preClose', async () => {
    if (ticker) clearInterval(ticker);
    ticker = undefined;
    for (const r of streams) r.raw.end();
    streams.clear();
  });

  app.get('/api/v1/stream', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'Server-Sent Events: a `change` event whenever jobs, workers or rounds change' } }, async (req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    reply.raw.write(`retry: 2000\nevent: change\ndata: ${JSON.stringify({ round: scheduler.stats.lastRound, at: Date.now() })}\n\n`);
    streams.add(reply);
    if (!ticker) {
      lastDigest = digest();
      ticker = setInterval(tick, tickMs);
    }
    req.raw.on('close', () => {
      streams.delete(reply);
      if (streams.size === 0 && ticker) {
        clearInterval(ticker);
        ticker = undefined;
      }
    });
  });

  app.get('/api/v1/whoami', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'What the token is: admin or a tenant; the server policy and job roots' } }, async (req): Promise<WhoAmI> => {
    const p = req.principal!;
    // USER routes admit admin and tenant tokens only.
    return { kind: p.kind === 'tenant' ? 'tenant' : 'admin', tenant: p.kind === 'tenant' ? p.tenant : null, policy: scheduler.policyName, roundMs: scheduler.timing.roundMs, jobRoots: opts.jobRoots ?? [] };
  });

  function scopeTenant(req: FastifyRequest, asked?: string): string | undefined {
    const p = req.principal!;
    if (p.kind === 'tenant') {
      if (asked !== undefined && asked !== p.tenant) throw new ApiError(403, 'E_FORBIDDEN', `a token of tenant ${p.tenant} cannot see tenant ${asked}`);
      return p.tenant;
    }
    return asked;
  }

  function lastAllocation(): { gpuTypes: string[]; shares: Record<string, number[]> } {
    const r = store.lastRound();
    return (r?.allocation as { gpuTypes: string[]; shares: Record<string, number[]> } | undefined) ?? { gpuTypes: [], shares: {} };
  }

  type LiteJob = QueueJob;

  /**
   * Every job of the scope in display order (running, queued by position, then finished, newest first), and a
   * function that computes the full row: the endpoint builds rows for one page only, so 10,000 jobs stay cheap.
   */
  async function queueRows(tenant: string | undefined): Promise<{ jobs: LiteJob[]; build: (page: readonly LiteJob[]) => QueueRow[]; gpuTypes: string[]; estimates: WhatIfResult | null }> {
    const now = Date.now();
    const jobs = store.queueJobs(tenant);
    const alloc = lastAllocation();
    const liveCluster = buildCluster(scheduler.liveWorkers());
    const live = liveCluster.cluster.gpuTypes;
    const gpuTypes = [...new Set([...alloc.gpuTypes, ...live])].sort();
    // A job runs on one worker: the largest gang each type can hold is the most GPUs of it on one worker.
    const maxPerWorker = new Map<string, number>();
    for (const sv of liveCluster.servers) maxPerWorker.set(sv.gpuType, Math.max(maxPerWorker.get(sv.gpuType) ?? 0, sv.server.gpus));
    const fitsNow = (j: LiteJob): boolean => {
      const allowed = j.gpu_types === null ? live : (JSON.parse(j.gpu_types) as string[]);
      return allowed.some((t) => (maxPerWorker.get(t) ?? 0) >= j.scale_factor);
    };
    const est = await estimates.get(digest(), store.activeJobIds());
    const byId = new Map((est?.jobs ?? []).map((j) => [j.id, j]));
    // Waiting jobs by estimated start; those beyond the estimate's horizon next, those no worker can hold last.
    const fits = new Map(jobs.filter((j) => j.state === 'queued').map((j) => [j.id, fitsNow(j)]));
    const startKey = (j: LiteJob): number => byId.get(j.id)?.estimatedStart ?? (fits.get(j.id) ? Number.MAX_SAFE_INTEGER : Infinity);
    // Jobs no live worker can hold get no place: they would not start however long the queue ahead of them.
    const queued = jobs
      .filter((j) => j.state === 'queued' && fits.get(j.id) !== false)
      .sort((a, b) => startKey(a) - startKey(b) || a.seq - b.seq);
    const position = new Map(queued.map((j, i) => [j.id, i + 1]));
    const order: Record<JobState, number> = { running: 0, queued: 1, completed: 2, failed: 2, cancelled: 2 };
    jobs.sort(
      (a, b) =>
        order[a.state] - order[b.state] || (position.get(a.id) ?? 0) - (position.get(b.id) ?? 0) || (b.finished_at ?? 0) - (a.finished_at ?? 0) || a.seq - b.seq,
    );
    let running: Map<string, AttemptRow> | undefined;
    const row = (j: LiteJob, received: ReadonlyMap<string, Record<string, number>>, preempted: ReadonlyMap<string, number>): QueueRow => {
      running ??= new Map(store.openAttempts().filter((a) => a.state === 'running').map((a) => [a.jobId, a]));
      const e = byId.get(j.id);
      const rec = received.get(j.id) ?? {};
      const span = Math.max(1, ((j.finished_at ?? now) - j.submitted_at) / 1000);
      const share = alloc.shares[j.id];
      const a = running.get(j.id);
      const active = j.state === 'queued' || j.state === 'running';
      return {
        id: j.id,
        name: j.name,
        tenant: j.tenant,
        state: j.state,
        cancelRequested: j.cancel_requested === 1,
        position: position.get(j.id) ?? null,
        scaleFactor: j.scale_factor,
        gpuTypes: j.gpu_types === null ? null : (JSON.parse(j.gpu_types) as string[]),
        stepsDone: j.steps_done,
        totalSteps: j.reported_total ?? j.total_steps,
        attempts: j.attempts,
        preemptions: preempted.get(j.id) ?? 0,
        submittedAt: iso(j.submitted_at)!,
        startedAt: iso(j.started_at),
        finishedAt: iso(j.finished_at),
        // Running jobs show when they started; the estimate is for jobs that wait.
        estimatedStart: j.state === 'queued' ? iso(e?.estimatedStart) : null,
        estimatedFinish: active ? iso(e?.estimatedFinish) : null,
        estimated: e !== undefined,
        fits: j.state !== 'queued' || (fits.get(j.id) ?? true),
        targetShare: share && active ? gpuTypes.map((t) => share[alloc.gpuTypes.indexOf(t)] ?? 0) : null,
        receivedShare: gpuTypes.map((t) => Math.min(1, (rec[t] ?? 0) / span)),
        runningOn: a ? { workerId: a.workerId, gpuType: a.gpuType, devices: a.gpus } : null,
        failure: j.failure,
        ...whyOf(j, fits.get(j.id) ?? true),
      };
    };
    // Received time is read for the page's jobs only (their attempts), not for every job the server ever ran.
    const build = (page: readonly LiteJob[]): QueueRow[] => {
      const ids = page.map((j) => j.id);
      const received = store.timeReceived(now, ids);
      const preempted = store.preemptionCounts(ids);
      return page.map((j) => row(j, received, preempted));
    };
    return { jobs, build, gpuTypes, estimates: est };
  }

  /** The planner's reason for a queued job; before the planner saw it, a shape no live worker can hold. */
  function whyOf(j: LiteJob, fits: boolean): Pick<QueueRow, 'why' | 'preemption'> {
    const w = scheduler.why.of(j.id);
    const preemption = w.preemption ? { kind: w.preemption.kind, text: w.preemption.text, round: w.preemption.round } : null;
    if (j.state !== 'queued') return { why: null, preemption };
    if (!fits) {
      const problem = shapeProblem({ scaleFactor: j.scale_factor, gpuTypes: j.gpu_types === null ? null : (JSON.parse(j.gpu_types) as string[]) }, scheduler.liveWorkers());
      if (problem) return { why: { kind: 'never', text: `cannot run on the live workers: ${problem}`, round: null }, preemption };
    }
    return { why: w.waiting ? { kind: w.waiting.kind, text: w.waiting.text, round: w.waiting.round } : null, preemption };
  }

  app.get(
    '/api/v1/queue',
    { schema: { querystring: queueQuery }, config: { auth: USER, summary: 'Jobs with position, estimated start, target and received shares, preemptions (one page)' } },
    async (req): Promise<QueuePage> => {
      const q = req.query as { state?: string; tenant?: string; q?: string; offset?: string; limit?: string };
      const tenant = scopeTenant(req, q.tenant);
      const { jobs: rows, build, gpuTypes, estimates: est } = await queueRows(tenant);
      const states = q.state ? new Set(q.state.split(',')) : undefined;
      const needle = q.q?.toLowerCase();
      const filtered = rows.filter((r) => (!states || states.has(r.state)) && (!needle || r.id.includes(needle) || (r.name ?? '').toLowerCase().includes(needle)));
      const offset = q.offset ? Number(q.offset) : 0;
      const limit = Math.min(500, Math.max(1, q.limit ? Number(q.limit) : 100));
      const counts: Record<JobState, number> = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
      for (const r of rows) counts[r.state]++;
      const p = req.principal!;
      const tenants = p.kind === 'tenant' ? [p.tenant] : store.tenantNames();
      return {
        gpuTypes,
        total: filtered.length,
        offset,
        limit,
        counts,
        tenants,
        estimates: est
          ? { at: iso(est.now), truncated: est.truncated, horizon: iso(estimateHorizon(est)), policy: est.policy, skipped: null }
          : { at: null, truncated: false, horizon: null, policy: scheduler.policyName, skipped: SKIPPED },
        jobs: build(filtered.slice(offset, offset + limit)),
      };
    },
  );

  app.get('/api/v1/jobs/:id/why', { schema: { params: S.jobIdParams }, config: { auth: USER, summary: 'Why a job waits: the planner\'s reason, its place in the queue, the estimated start and finish', responses: { 200: R.jobWhySchema } } }, async (req): Promise<JobWhy> => {
    const id = (req.params as { id: string }).id;
    const job = store.getJob(id);
    const p = req.principal!;
    // Another tenant's job is answered like a job that does not exist: one clean "not found", nothing about it.
    if (!job || (p.kind === 'tenant' && p.tenant !== job.tenant)) throw new ApiError(404, 'E_NOT_FOUND', `no job ${id}`);
    const { jobs, build } = await queueRows(p.kind === 'tenant' ? p.tenant : undefined);
    const lite = jobs.find((j) => j.id === id)!;
    const r = build([lite])[0]!;
    const queued = jobs.filter((j) => j.state === 'queued').length;
    return { id, state: r.state, position: r.position, queued, estimatedStart: r.estimatedStart, estimatedFinish: r.estimatedFinish, estimated: r.estimated, why: r.why, preemption: r.preemption, preemptions: r.preemptions };
  });

  app.get('/api/v1/jobs/:id/timeline', { schema: { params: S.jobIdParams }, config: { auth: USER, summary: "A job's attempts, rounds placed, and measured throughput per GPU type" } }, async (req): Promise<Timeline> => {
    const id = (req.params as { id: string }).id;
    const job = ownJob(store, req, id);
    const workers = new Map(store.listWorkers().map((w) => [w.id, w.name]));
    const rounds = store.roundsOfJob(id, job.submittedAt - 1);
    return {
      jobId: id,
      state: job.state,
      submittedAt: iso(job.submittedAt),
      finishedAt: iso(job.finishedAt),
      throughputs: store.throughputsOf(id),
      attempts: store.attemptsOfJob(id).map((a) => ({
        id: a.id,
        workerId: a.workerId,
        workerName: workers.get(a.workerId) ?? a.workerId,
        gpuType: a.gpuType,
        devices: a.gpus,
        round: a.round,
        state: a.state,
        endReason: a.endReason,
        startedAt: iso(a.startedAt),
        endedAt: iso(a.endedAt),
        leaseEnd: iso(a.leaseEnd),
        stepsAtStart: a.stepsAtStart,
      })),
      rounds: rounds.map((r) => ({ round: r.round, start: iso(r.start), end: iso(r.start + r.duration), gpuType: r.gpuType, workerId: r.workerId, leaseExtended: r.leaseExtended })),
      roundsPruned: store.prunedRoundsSince(job.submittedAt - 1),
    };
  });

  app.get('/api/v1/fairness', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'Estimated finish-time fairness per job and tenant; the allocation matrix' } }, async (req): Promise<FairnessView> => {
    const p = req.principal!;
    const tenant = p.kind === 'tenant' ? p.tenant : undefined;
    const live = buildCluster(scheduler.liveWorkers());
    const { cluster } = live;
    const all = store.activeJobs();
    const policyJobs = new Map(scheduler.policyJobs(cluster, all).map((j) => [j.id, j]));
    const est = await estimates.get(digest(), all.map((j) => j.id));
    const byId = new Map((est?.jobs ?? []).map((j) => [j.id, j]));
    const now = Date.now();
    const horizon = est ? estimateHorizon(est) : null;
    const n = all.length;
    // Themis' rho with the live state: (submitted -> estimated finish) over the time the job's steps take on an
    // equal 1/n share of the cluster, n = jobs active now (the simulator's metric integrates n over the job's life).
    const jobs = all.map((j) => {
      const pj = policyJobs.get(j.id)!;
      const e = byId.get(j.id);
      const total = j.reportedTotal ?? j.totalSteps;
      const t = equalShareThroughput(cluster, pj.throughput, j.scaleFactor, n);
      const fair = total !== null && t > 0 ? total / t : null;
      const jct = e?.estimatedFinish != null ? (e.estimatedFinish - j.submittedAt) / 1000 : null;
      // Not finished within a truncated simulation: it finishes after the horizon, so rho is at least this.
      const atLeast = fair !== null && jct === null && horizon !== null && e !== undefined ? (horizon - j.submittedAt) / 1000 / fair : null;
      return {
        id: j.id,
        name: j.name,
        tenant: j.tenant,
        state: j.state,
        estimatedFinish: iso(e?.estimatedFinish),
        fairSeconds: fair,
        rho: fair !== null && jct !== null ? jct / fair : null,
        rhoAtLeast: atLeast,
        lengthUnknown: total === null,
      };
    });
    // Per tenant: GPUs held now against an equal split of the busy GPUs among tenants with work.
    const open = store.openAttempts().filter((a) => a.state === 'running');
    const tenantOf = new Map(all.map((j) => [j.id, j.tenant]));
    const held = new Map<string, number>();
    for (const a of open) {
      const t = tenantOf.get(a.jobId);
      if (t !== undefined) held.set(t, (held.get(t) ?? 0) + a.gpus.length);
    }
    const busy = [...held.values()].reduce((a, b) => a + b, 0);
    const tenants = [...new Set(all.map((j) => j.tenant))].sort();
    const tenantRows = tenants.map((t) => {
      const rhos = jobs.filter((j) => j.tenant === t && j.rho !== null).map((j) => j.rho!);
      return {
        tenant: t,
        activeJobs: jobs.filter((j) => j.tenant === t).length,
        gpusHeld: held.get(t) ?? 0,
        gpuShare: busy > 0 ? (held.get(t) ?? 0) / busy : 0,
        fairShare: 1 / tenants.length,
        meanRho: rhos.length ? rhos.reduce((a, b) => a + b, 0) / rhos.length : null,
        maxRho: rhos.length ? Math.max(...rhos) : null,
      };
    });
    const alloc = lastAllocation();
    const visible = (id: string): boolean => tenant === undefined || tenantOf.get(id) === tenant;
    const allowedTypes = store.activeGpuTypes();
    return {
      policy: scheduler.policyName,
      at: iso(now),
      estimatesTruncated: est?.truncated ?? false,
      estimatesSkipped: est ? null : SKIPPED,
      jobs: jobs.filter((j) => visible(j.id)),
      // A tenant sees its own row; of the others only how many there are (in fairShare), never names or jobs.
      tenants: tenant === undefined ? tenantRows : tenantRows.filter((r) => r.tenant === tenant),
      allocation: {
        gpuTypes: alloc.gpuTypes,
        rows: Object.entries(alloc.shares)
          .filter(([id]) => tenantOf.has(id) && visible(id))
          // `allowed`: the job's GPU types (null: any), so the heat map tells "not allowed" from a 0% share.
          .map(([id, shares]) => ({ jobId: id, tenant: tenantOf.get(id)!, shares, allowed: allowedTypes.get(id) ?? null })),
      },
    };
  });

  app.get('/api/v1/cluster/history', { schema: { querystring: historyQuery }, config: { auth: USER, summary: 'Busy GPUs per type over time (from the attempts)' } }, async (req): Promise<ClusterHistory> => {
    const minutes = Math.min(1440, Math.max(1, Number((req.query as { minutes?: string }).minutes ?? 30)));
    const to = Date.now();
    // A young cluster gets a window from its first worker on, not 30 minutes of nothing.
    const first = store.listWorkers().reduce((m, w) => Math.min(m, w.registeredAt), Infinity);
    const from = Math.max(to - minutes * 60_000, Math.min(first, to - 60_000));
    const buckets = 120;
    const width = (to - from) / buckets;
    const live = buildCluster(scheduler.liveWorkers()).cluster;
    const rows = store.attemptsInWindow(from, to);
    const types = [...new Set([...live.gpuTypes, ...rows.map((r) => r.gpuType)])].sort();
    const busy: Record<string, number[]> = Object.fromEntries(types.map((t) => [t, new Array<number>(buckets).fill(0)]));
    for (const r of rows) {
      const n = r.devices;
      const s = Math.max(from, r.startedAt);
      const e = Math.min(to, r.endedAt ?? to);
      for (let b = Math.max(0, Math.floor((s - from) / width)); b < buckets && from + b * width < e; b++) {
        const lo = from + b * width;
        const overlap = Math.min(e, lo + width) - Math.max(s, lo);
        if (overlap > 0) busy[r.gpuType]![b]! += (n * overlap) / width;
      }
    }
    return {
      from: iso(from),
      to: iso(to),
      bucketMs: width,
      types: types.map((t) => ({ type: t, capacity: live.gpus[t] ?? 0, busy: busy[t]!.map((x) => Math.round(x * 1000) / 1000) })),
    };
  });
}
