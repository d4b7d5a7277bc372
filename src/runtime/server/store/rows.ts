import type { WorkerGpus } from '../../protocol.js';
import type { AttemptState, JobState, LogLine } from '../../dashboard-api.js';

/** The store's row types and the mapping from SQLite rows to them (shared by every part of the store). */

// The states and log lines are what the API serves (dashboard-api.ts): one definition for both.
export type { AttemptState, JobState, LogLine, WorkerGpus };

export const TERMINAL_STATES: readonly JobState[] = ['completed', 'failed', 'cancelled'];

export interface JobSpec {
  readonly command: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly scaleFactor: number;
  readonly jobType: string | null;
  readonly priorityWeight: number;
  readonly tenant: string;
  readonly sloFactor: number | null;
  readonly deadlineS: number | null;
  readonly totalSteps: number | null;
  readonly gpuTypes: readonly string[] | null;
  readonly name: string | null;
}

export interface JobRow extends JobSpec {
  readonly id: string;
  readonly seq: number;
  readonly state: JobState;
  readonly submittedAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly stepsDone: number;
  readonly reportedTotal: number | null;
  readonly checkpoint: string | null;
  readonly exitCode: number | null;
  readonly failure: string | null;
  readonly attempts: number;
  readonly cancelRequested: boolean;
}

export type EndReason = 'completed' | 'failed' | 'preempted' | 'lost' | 'cancelled' | 'spawn_failed';

export interface AttemptRow {
  readonly id: number;
  readonly jobId: string;
  readonly workerId: string;
  readonly round: number;
  readonly gpuType: string;
  /** Indices of the worker's GPUs of `gpuType` (what becomes CUDA_VISIBLE_DEVICES). */
  readonly gpus: readonly number[];
  readonly createdAt: number;
  /** The job must not start before this (ms since the Unix epoch): the previous holder is gone by then. */
  readonly notBefore: number;
  /** The job must be gone by this time unless the lease is extended. */
  readonly leaseEnd: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly state: AttemptState;
  readonly endReason: EndReason | null;
  readonly exitCode: number | null;
  readonly stepsAtStart: number;
  /** When the lease was first sent to its worker (null: never; it cannot be running). */
  readonly deliveredAt: number | null;
}

export interface WorkerRow {
  readonly id: string;
  readonly name: string;
  readonly gpus: readonly WorkerGpus[];
  readonly registeredAt: number;
  readonly state: 'alive' | 'gone';
  /** Stable identity of the machine the agent runs on (a hash), as the agent sent it; null from older agents. */
  readonly machine: string | null;
  /** A later registration of the same worker (same machine and name) that retired this one. */
  readonly replacedBy: string | null;
}

export interface RoundRow {
  readonly round: number;
  readonly start: number;
  readonly duration: number;
  readonly plannedAt: number;
  readonly policy: string;
  readonly solverMs: number;
  readonly allocation: unknown;
  readonly plan: unknown;
}

export interface EventRow {
  readonly id: number;
  readonly at: number;
  readonly kind: string;
  readonly jobId: string | null;
  readonly workerId: string | null;
  readonly detail: unknown;
}

/**
 * Measured throughputs (steps/s) the store keeps; a report outside is no measurement (a job reporting 1e-300 steps/s
 * would otherwise give the policies an infinite remaining time).
 */
export const MEASURED_THROUGHPUT = { minimum: 1e-6, maximum: 1e9 } as const;

/** Per-job log cap: older lines are dropped first, so a chatty job cannot fill the disk. */
export const DEFAULT_MAX_LOG_BYTES = 256 * 1024;

export type Row = Record<string, unknown>;

export function json<T>(s: unknown): T {
  return JSON.parse(String(s)) as T;
}

export function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

export function jobFromRow(r: Row): JobRow {
  return {
    id: String(r.id),
    seq: Number(r.seq),
    name: (r.name as string | null) ?? null,
    tenant: String(r.tenant),
    command: json<string[]>(r.command),
    cwd: String(r.cwd),
    env: json<Record<string, string>>(r.env),
    scaleFactor: Number(r.scale_factor),
    jobType: (r.job_type as string | null) ?? null,
    priorityWeight: Number(r.priority_weight),
    sloFactor: num(r.slo_factor),
    deadlineS: num(r.deadline_s),
    totalSteps: num(r.total_steps),
    gpuTypes: r.gpu_types === null ? null : json<string[]>(r.gpu_types),
    state: r.state as JobState,
    submittedAt: Number(r.submitted_at),
    startedAt: num(r.started_at),
    finishedAt: num(r.finished_at),
    stepsDone: Number(r.steps_done),
    reportedTotal: num(r.reported_total),
    checkpoint: (r.checkpoint as string | null) ?? null,
    exitCode: num(r.exit_code),
    failure: (r.failure as string | null) ?? null,
    attempts: Number(r.attempts),
    cancelRequested: Number(r.cancel_requested) === 1,
  };
}

export function attemptFromRow(r: Row): AttemptRow {
  return {
    id: Number(r.id),
    jobId: String(r.job_id),
    workerId: String(r.worker_id),
    round: Number(r.round),
    gpuType: String(r.gpu_type),
    gpus: json<number[]>(r.gpus),
    createdAt: Number(r.created_at),
    notBefore: Number(r.not_before),
    leaseEnd: Number(r.lease_end),
    startedAt: num(r.started_at),
    endedAt: num(r.ended_at),
    state: r.state as AttemptState,
    endReason: (r.end_reason as EndReason | null) ?? null,
    exitCode: num(r.exit_code),
    stepsAtStart: Number(r.steps_at_start),
    deliveredAt: num(r.delivered_at),
  };
}

export function workerFromRow(r: Row): WorkerRow {
  return {
    id: String(r.id),
    name: String(r.name),
    gpus: json<WorkerGpus[]>(r.gpus),
    registeredAt: Number(r.registered_at),
    state: r.state as 'alive' | 'gone',
    machine: (r.machine as string | null | undefined) ?? null,
    replacedBy: (r.replaced_by as string | null | undefined) ?? null,
  };
}
