/**
 * The REST API as the web dashboard reads it: the error every endpoint answers with and the shapes of the answers the
 * dashboard uses. One definition: the server's handlers are declared to return these types (so a field a handler
 * stops sending fails to compile), and web/src/api.ts re-exports them for the views. The browser bundle takes this
 * file as it is, so it imports nothing (eslint.config.js keeps it so) and holds no Node code.
 */

/** An error with an HTTP status and a stable code; rendered as `{ error: { status, code, message } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type JobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'completed', 'failed', 'cancelled'];

/** The planner's reason for a job (src/mechanism/explain.ts); `never`: no live worker can hold it. */
export interface Reason {
  readonly kind: string;
  readonly text: string;
  readonly round: number | null;
}

/** `GET /api/v1/whoami`. */
export interface WhoAmI {
  readonly kind: 'admin' | 'tenant';
  readonly tenant: string | null;
  readonly policy: string;
  readonly roundMs: number;
  readonly jobRoots: readonly string[];
}

/** One row of `GET /api/v1/queue`. Shares are fractions of wall time per GPU type (the allocation's units). */
export interface QueueRow {
  readonly id: string;
  readonly name: string | null;
  readonly tenant: string;
  readonly state: JobState;
  readonly cancelRequested: boolean;
  /** 1-based place among queued jobs by estimated start; null when not queued. */
  readonly position: number | null;
  readonly scaleFactor: number;
  readonly gpuTypes: readonly string[] | null;
  readonly stepsDone: number;
  readonly totalSteps: number | null;
  readonly attempts: number;
  /** Attempts that ran and were stopped before the job was done (preempted at a lease end, or lost with a worker). */
  readonly preemptions: number;
  readonly submittedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly estimatedStart: string | null;
  readonly estimatedFinish: string | null;
  /** The last estimate included this job (false: it is newer than the estimate). */
  readonly estimated: boolean;
  /** Some live worker has enough GPUs of an allowed type for the job (false: it cannot start until one joins). */
  readonly fits: boolean;
  /** The current allocation's time share per GPU type (`gpuTypes` of the page); null when not in the allocation. */
  readonly targetShare: readonly number[] | null;
  /** Time held on each GPU type / time since submission (or until finish). */
  readonly receivedShare: readonly number[];
  /** The job is running on these GPUs now. */
  readonly runningOn: { readonly workerId: string; readonly gpuType: string; readonly devices: readonly number[] } | null;
  readonly failure: string | null;
  /** Why a queued job is not running, from the planner's last round (or, before one, a shape no live worker holds). */
  readonly why: Reason | null;
  /** The job's last preemption or move, with the planner's reason. */
  readonly preemption: (Reason & { readonly round: number }) | null;
}

/** `GET /api/v1/queue`: one page of jobs. */
export interface QueuePage {
  readonly gpuTypes: readonly string[];
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  readonly counts: Readonly<Record<JobState, number>>;
  readonly tenants: readonly string[];
  /** `skipped`: why there are no estimates (a very long queue), else null. */
  readonly estimates: { readonly at: string | null; readonly truncated: boolean; readonly horizon: string | null; readonly policy: string; readonly skipped: string | null };
  readonly jobs: readonly QueueRow[];
}

/** `GET /api/v1/jobs/{id}/why`. */
export interface JobWhy {
  readonly id: string;
  readonly state: JobState;
  readonly position: number | null;
  readonly queued: number;
  readonly estimatedStart: string | null;
  readonly estimatedFinish: string | null;
  readonly estimated: boolean;
  readonly why: Reason | null;
  readonly preemption: Reason | null;
  readonly preemptions: number;
}

/** `GET /api/v1/cluster`. */
export interface ClusterView {
  readonly policy: string;
  readonly roundMs: number;
  readonly workers: ReadonlyArray<{
    readonly id: string;
    readonly name: string;
    readonly state: 'alive' | 'gone';
    /** The registration that retired this one (the same worker registered again). */
    readonly replacedBy: string | null;
    readonly gpus: ReadonlyArray<{ readonly type: string; readonly count: number }>;
    /** `jobId` null: another tenant's job. */
    readonly running: ReadonlyArray<{ readonly attempt: number; readonly jobId: string | null; readonly gpuType: string; readonly devices: readonly number[] }>;
  }>;
  readonly gpus: Readonly<Record<string, { readonly total: number; readonly busy: number }>>;
  readonly jobs: Readonly<Record<JobState, number>>;
}

/** `GET /api/v1/cluster/history`: busy GPUs per type in equal buckets. */
export interface ClusterHistory {
  readonly from: string;
  readonly to: string;
  readonly bucketMs: number;
  readonly types: ReadonlyArray<{ readonly type: string; readonly capacity: number; readonly busy: readonly number[] }>;
}

/** Raw, throughput-weighted and queued GPUs over the samples (one value per sample). */
export interface UseSeries {
  readonly raw: readonly number[];
  readonly effective: readonly number[];
  readonly queued: readonly number[];
}

/** `GET /api/v1/heterogeneity`: one value per sample (plan) in every series. */
export interface Heterogeneity {
  readonly from: string;
  readonly to: string;
  readonly samples: ReadonlyArray<{ readonly round: number; readonly at: string; readonly end: string }>;
  readonly byType: ReadonlyArray<UseSeries & { readonly type: string; readonly capacity: readonly number[] }>;
  readonly byTenant: ReadonlyArray<UseSeries & { readonly tenant: string }>;
  readonly total: UseSeries & { readonly capacity: readonly number[] };
  readonly jobs: ReadonlyArray<{
    readonly id: string;
    readonly name: string | null;
    readonly tenant: string;
    readonly gpuType: string;
    readonly gpus: number;
    readonly throughput: number | null;
    readonly source: string | null;
    readonly bestType: string | null;
    readonly bestThroughput: number | null;
    readonly bestSource: string | null;
    readonly ratio: number | null;
  }>;
}

/** `GET /api/v1/fairness`. */
export interface FairnessView {
  readonly policy: string;
  readonly at: string;
  readonly estimatesTruncated: boolean;
  readonly estimatesSkipped: string | null;
  readonly jobs: ReadonlyArray<{
    readonly id: string;
    readonly name: string | null;
    readonly tenant: string;
    readonly state: JobState;
    readonly estimatedFinish: string | null;
    readonly fairSeconds: number | null;
    readonly rho: number | null;
    readonly rhoAtLeast: number | null;
    readonly lengthUnknown: boolean;
  }>;
  readonly tenants: ReadonlyArray<{
    readonly tenant: string;
    readonly activeJobs: number;
    readonly gpusHeld: number;
    readonly gpuShare: number;
    readonly fairShare: number;
    readonly meanRho: number | null;
    readonly maxRho: number | null;
  }>;
  /** `allowed`: the job's GPU types, null for any (older servers leave it out). */
  readonly allocation: {
    readonly gpuTypes: readonly string[];
    readonly rows: ReadonlyArray<{ readonly jobId: string; readonly tenant: string; readonly shares: readonly number[]; readonly allowed?: readonly string[] | null }>;
  };
}

/** A job as `GET /api/v1/jobs`, `POST /api/v1/jobs` and a cancel answer it. */
export interface JobView {
  readonly id: string;
  readonly name: string | null;
  readonly tenant: string;
  readonly state: JobState;
  readonly command: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly scaleFactor: number;
  readonly jobType: string | null;
  readonly priorityWeight: number;
  readonly sloFactor: number | null;
  readonly deadlineS: number | null;
  readonly gpuTypes: readonly string[] | null;
  readonly totalSteps: number | null;
  readonly stepsDone: number;
  readonly checkpoint: string | null;
  readonly attempts: number;
  readonly submittedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly exitCode: number | null;
  readonly failure: string | null;
  readonly cancelRequested: boolean;
}

/** Steps/s the scheduler uses for a job on a GPU type, where the number comes from, and its confidence. */
export interface TypeThroughputView {
  readonly gpuType: string;
  readonly value: number;
  readonly source: 'table' | 'measured' | 'estimated' | 'default';
  readonly confidence: number;
  readonly uncertainty: number;
}

/** `GET /api/v1/jobs/{id}`. */
export interface JobDetail extends JobView {
  /** Per GPU type of the live cluster (and any type it measured). */
  readonly throughputs: readonly TypeThroughputView[];
  readonly attemptsDetail: ReadonlyArray<{
    readonly id: number;
    readonly workerId: string;
    readonly round: number;
    readonly gpuType: string;
    readonly devices: readonly number[];
    readonly state: AttemptState;
    readonly endReason: string | null;
    readonly exitCode: number | null;
    readonly startedAt: string | null;
    readonly endedAt: string | null;
    readonly leaseEnd: string | null;
  }>;
}

export type AttemptState = 'leased' | 'running' | 'ended';

/** `GET /api/v1/jobs/{id}/timeline`. */
export interface Timeline {
  readonly jobId: string;
  readonly state: JobState;
  readonly submittedAt: string;
  readonly finishedAt: string | null;
  readonly throughputs: Readonly<Record<string, number>>;
  readonly attempts: ReadonlyArray<{
    readonly id: number;
    readonly workerId: string;
    readonly workerName: string;
    readonly gpuType: string;
    readonly devices: readonly number[];
    readonly round: number;
    readonly state: AttemptState;
    readonly endReason: string | null;
    readonly startedAt: string | null;
    readonly endedAt: string | null;
    readonly leaseEnd: string | null;
    readonly stepsAtStart: number;
  }>;
  readonly rounds: ReadonlyArray<{ readonly round: number; readonly start: string; readonly end: string; readonly gpuType: string; readonly workerId: string; readonly leaseExtended: boolean }>;
  /**
   * Rounds since the job's submission whose plans the store no longer keeps (`rondo serve --keep-plans`): `rounds`
   * cannot list whether they placed the job (its attempts still show where it ran). Null when none were pruned.
   */
  readonly roundsPruned: { readonly count: number; readonly last: number } | null;
}

export interface LogLine {
  readonly id: number;
  readonly at: number;
  readonly attemptId: number | null;
  readonly stream: 'stdout' | 'stderr' | 'system';
  readonly text: string;
}

/** `GET /api/v1/jobs/{id}/logs`. */
export interface LogPage {
  readonly jobId: string;
  readonly lines: readonly LogLine[];
}

/** The prices in force (`GET /api/v1/prices` with `serve --prices`; src/runtime/server/prices.ts). */
export interface PriceStatus {
  readonly source: string;
  readonly prices: Readonly<Record<string, number>>;
  /** When the prices in force were read (ms), null before the first good read. */
  readonly readAt: number | null;
  /** The last read's failure (the last good prices stay in force), null when it succeeded. */
  readonly error: string | null;
  readonly errorAt: number | null;
  readonly threshold: number;
}

export interface CostLine {
  /** Dollars so far (0 without a price source). */
  readonly usd: number;
  readonly gpuSeconds: number;
  readonly spotGpuSeconds: number;
  readonly revocations: number;
  /** GPU-seconds of revoked attempts (upper bound of the work lost). */
  readonly lostGpuSeconds: number;
}

export interface JobCost extends CostLine {
  readonly jobId: string;
  readonly tenant: string;
}

export interface TenantCost extends CostLine {
  readonly tenant: string;
  readonly jobs: number;
}

/** `GET /api/v1/cost` (src/runtime/server/cost.ts). */
export interface CostView {
  readonly at: string;
  readonly prices: PriceStatus | null;
  readonly total: CostLine;
  readonly tenants: readonly TenantCost[];
  /** The most expensive jobs first (at most `limit`). */
  readonly jobs: readonly JobCost[];
  /** Jobs billed in all (`jobs` may be cut to `limit`). */
  readonly jobCount: number;
}

/** One tenant of `GET /api/v1/tenants` (`rondo serve --tenants`, docs/tenants.md). */
export interface TenantNow {
  readonly tenant: string;
  /** The cohorts above the tenant, outermost first. */
  readonly cohorts: readonly string[];
  readonly weight: number;
  readonly policy: string;
  /** GPUs per type, null: no guarantee. */
  readonly guarantee: Readonly<Record<string, number>> | null;
  /** GPUs, or GPUs per type. */
  readonly borrowingLimit: number | Readonly<Record<string, number>> | null;
  readonly lendingLimit: number | Readonly<Record<string, number>> | null;
  readonly entitlement: number;
  readonly received: number;
  readonly gpus: Readonly<Record<string, number>>;
  readonly borrowedGpus: number | null;
  readonly lentGpus: number | null;
  readonly activeJobs: number;
  readonly queuedJobs: number;
  readonly roundsWithDemand: number;
  readonly roundsBelowGuarantee: number;
}

/** `GET /api/v1/tenants`; `file` null: the server runs without a tenant tree (and the rest is left out). */
export interface TenantsView {
  readonly file: string | null;
  readonly policy: string;
  readonly loadedAt?: number;
  readonly reloads?: number;
  readonly failedReloads?: number;
  readonly lastError?: string | null;
  readonly tenants: readonly TenantNow[];
}

/** One tenant in one round of `GET /api/v1/tenants/history`. */
export interface TenantRound {
  readonly round: number;
  /** Round start, ms since the Unix epoch. */
  readonly at: number;
  readonly tenant: string;
  readonly entitlement: number;
  readonly received: number;
  /** GPUs held (all types). */
  readonly gpus: number;
  readonly borrowed: number | null;
  readonly lent: number | null;
  readonly activeJobs: number;
  readonly queuedJobs: number;
  readonly queuedGpus: number;
}

/** `GET /api/v1/tenants/history`. */
export interface TenantHistory {
  readonly file: string | null;
  readonly rows: readonly TenantRound[];
}
