import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JobView } from '../dashboard-api.js';
import { ApiError } from './api-error.js';
import type { Principal, TokenKind } from './auth.js';
import type { Scheduler } from './scheduler.js';
import type { JobRow, Store } from './store/index.js';

/** Limits on what one caller can make the server do. */
export interface ApiLimits {
  /** Requests per minute per tenant or lease token (and per address before authentication); 0 = no limit. */
  readonly ratePerMinute: number;
  /** What-if simulations running at once (each is CPU work on the server's thread); more answer 429. */
  readonly whatIfConcurrency: number;
  /** Active jobs above which what-if declines (one simulated round over them would stall the server). */
  readonly whatIfMaxJobs: number;
  /** Wall-clock budget of one what-if simulation; past it the estimate is returned truncated. */
  readonly whatIfBudgetMs: number;
}

export const DEFAULT_LIMITS: ApiLimits = { ratePerMinute: 1200, whatIfConcurrency: 2, whatIfMaxJobs: 2000, whatIfBudgetMs: 2000 };

/** What every route plugin gets: the store, the scheduler and the server's options. */
export interface RouteDeps {
  readonly limits: ApiLimits;
  readonly store: Store;
  readonly scheduler: Scheduler;
  /** Each job checkpoints under `<checkpointRoot>/<job id>` (shared by all workers: a shared file system). */
  readonly checkpointRoot: string;
  /** When set, a job's working directory must lie inside one of these absolute directories. */
  readonly jobRoots?: readonly string[];
  /** Public URL of the server, handed to jobs as RONDO_SERVER. */
  readonly publicUrl: () => string;
  /** Folder of the built web dashboard (default `<package>/dist/web`). */
  readonly webDir?: string;
}

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

export const USER: readonly TokenKind[] = ['admin', 'tenant'];
export const ADMIN: readonly TokenKind[] = ['admin'];

/** ISO 8601 of a Unix ms time; null stays null (the overload tells answers' types which fields are always set). */
export function iso(ms: number): string;
export function iso(ms: number | null | undefined): string | null;
export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

/**
 * A job the caller may see: an admin sees every job, a tenant its own. Another tenant's job answers exactly as an
 * unknown id does (404), so a tenant cannot learn which ids exist.
 */
export function ownJob(store: Store, req: FastifyRequest, id: string): JobRow {
  const job = store.getJob(id);
  const p = req.principal!;
  if (!job || (p.kind === 'tenant' && p.tenant !== job.tenant)) throw new ApiError(404, 'E_NOT_FOUND', `no job ${id}`);
  return job;
}

/** Ids of the tenant's jobs that wait or run; undefined for an admin (who sees all). */
export function visibleActiveIds(store: Store, req: FastifyRequest): Set<string> | undefined {
  const p = req.principal!;
  return p.kind === 'tenant' ? new Set(store.listJobs({ tenant: p.tenant, states: ['queued', 'running'] }).map((j) => j.id)) : undefined;
}

export function jobView(j: JobRow): JobView {
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

/** `body.command must be array`, `body must NOT have additional properties "evil"`: the first problem, with its place. */
export function validationMessage(context: string, validation: unknown): string {
  const v = (Array.isArray(validation) ? validation[0] : undefined) as
    | {
        instancePath?: string;
        keyword?: string;
        message?: string;
        params?: { additionalProperty?: string; allowedValues?: unknown[] };
        parentSchema?: { minimum?: number; maximum?: number; exclusiveMinimum?: number; description?: string };
      }
    | undefined;
  if (!v) return `invalid ${context}`;
  const where = context + (v.instancePath ?? '').replace(/\//g, '.');
  // A `not` says nothing by itself ("must NOT be valid"): its schema's description says what is forbidden.
  let msg = `${where} ${v.keyword === 'not' && v.parentSchema?.description ? v.parentSchema.description : (v.message ?? 'is invalid')}`;
  // A number out of range, or not a finite number (1e309 parses to Infinity): say the whole allowed range, not one
  // side (ajv is verbose, so the schema is at hand).
  const ps = v.parentSchema;
  if (ps && ['minimum', 'maximum', 'exclusiveMinimum', 'type'].includes(v.keyword ?? '') && ps.maximum !== undefined) {
    const lo = ps.minimum ?? ps.exclusiveMinimum;
    if (lo !== undefined) msg += ` (allowed: ${ps.minimum !== undefined ? 'from' : 'above'} ${lo} to ${ps.maximum})`;
  }
  if (v.params?.additionalProperty !== undefined) msg += ` (${JSON.stringify(v.params.additionalProperty)} is not allowed)`;
  if (v.params?.allowedValues) msg += ` (${v.params.allowedValues.map((x) => JSON.stringify(x)).join(', ')})`;
  return msg;
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error: { status, code, message } });
}

/**
 * Security headers on every answer (API and dashboard). The dashboard loads only its own script and style files;
 * inline styles stay allowed because the chart library sets style attributes on the SVG it draws.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};
