import { isAbsolute, normalize, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../api-error.js';
import type { JobDetail, LogPage } from '../../dashboard-api.js';
import { iso, jobView, ownJob, USER, type RouteDeps } from '../http.js';
import * as R from '../response-schemas.js';
import * as S from '../schemas.js';
import type { JobState } from '../store/index.js';
import { defaultTenantJobRoots } from '../../agent/job-rules.js';

/** Jobs: submit, list, read one (with its attempts), cancel, logs, events. */

const MAX_SUBMIT_BODY = 64 * 1024;
const RESERVED_ENV = /^(RONDO_|CUDA_VISIBLE_DEVICES$|LD_PRELOAD$|NODE_OPTIONS$)/;

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

export async function jobRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { store, scheduler } = deps;

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
      // Without --job-root a tenant's job still may not start just anywhere (/, /root/.ssh): see job-rules.ts.
      checkWorkingDir(b.cwd, deps.jobRoots ?? (p.kind === 'tenant' ? defaultTenantJobRoots() : undefined));
      for (const [k, v] of Object.entries(b.env ?? {})) {
        if (RESERVED_ENV.test(k)) throw new ApiError(400, 'E_SCHEMA', `environment variable ${k} is reserved (set by the worker or unsafe)`);
        if (v.includes('\0')) throw new ApiError(400, 'E_SCHEMA', `environment variable ${k} contains a NUL byte`);
      }
      const job = await store.commit(() =>
        store.submitJob({
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
        }),
      );
      scheduler.poke();
      reply.code(201);
      return jobView(job);
    },
  );

  app.get(
    '/api/v1/jobs',
    {
      schema: { querystring: S.listJobsQuery },
      config: { auth: USER, summary: `List jobs in submission order, one page (a tenant sees its own; ${S.JOBS_PAGE.default} per page unless \`limit\`; \`next\` is the cursor for \`after\`)`, responses: { 200: R.jobListSchema } },
    },
    async (req) => {
      const q = req.query as { state?: string; limit?: string; after?: string };
      const limit = q.limit === undefined ? S.JOBS_PAGE.default : Number(q.limit);
      if (limit < 1 || limit > S.JOBS_PAGE.maximum) throw new ApiError(400, 'E_SCHEMA', `query.limit must be 1 to ${S.JOBS_PAGE.maximum} (got ${q.limit})`);
      const p = req.principal!;
      // One more than the page, to know whether another page follows.
      const jobs = store.listJobs({
        ...(p.kind === 'tenant' ? { tenant: p.tenant } : {}),
        ...(q.state ? { states: q.state.split(',') as JobState[] } : {}),
        limit: limit + 1,
        afterSeq: q.after ? Number(q.after) : 0,
      });
      const page = jobs.slice(0, limit);
      return { jobs: page.map(jobView), next: jobs.length > limit ? String(page[page.length - 1]!.seq) : null };
    },
  );

  app.get('/api/v1/jobs/:id', { schema: { params: S.jobIdParams }, config: { auth: USER, summary: 'One job, with its attempts', responses: { 200: S.jobSchema } } }, async (req): Promise<JobDetail> => {
    const job = ownJob(store, req, (req.params as { id: string }).id);
    return {
      ...jobView(job),
      throughputs: scheduler.throughputView(job),
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

  app.post('/api/v1/jobs/:id/cancel', { schema: { params: S.jobIdParams }, config: { auth: USER, summary: 'Cancel a job', responses: { 200: S.jobSchema } } }, async (req) => {
    const job = ownJob(store, req, (req.params as { id: string }).id);
    const p = req.principal!;
    const view = jobView(await store.commit(() => store.cancelJob(job.id, p.kind === 'tenant' ? `tenant ${p.tenant}` : 'admin')));
    scheduler.poke(); // its GPUs may be backfilled now
    return view;
  });

  app.get('/api/v1/jobs/:id/logs', { schema: { params: S.jobIdParams, querystring: S.logsQuery }, config: { auth: USER, summary: 'Captured stdout/stderr of a job' } }, async (req): Promise<LogPage> => {
    const job = ownJob(store, req, (req.params as { id: string }).id);
    const q = req.query as { after?: string; limit?: string };
    return { jobId: job.id, lines: store.logs(job.id, { afterId: q.after ? Number(q.after) : 0, limit: q.limit ? Number(q.limit) : 1000 }) };
  });

  app.get('/api/v1/jobs/:id/events', { schema: { params: S.jobIdParams, querystring: S.logsQuery }, config: { auth: USER, summary: 'State changes of a job' } }, async (req) => {
    const job = ownJob(store, req, (req.params as { id: string }).id);
    const q = req.query as { after?: string; limit?: string };
    return { jobId: job.id, events: store.events({ jobId: job.id, afterId: q.after ? Number(q.after) : 0, limit: q.limit ? Number(q.limit) : 200 }) };
  });
}
