import { RondoError } from './errors.js';
import type { GpuType } from './cluster.js';

/**
 * Batch-size adaptation regime of a job (Shockwave): `static` keeps its batch size, `accordion` and `gns` change it
 * during training.
 */
export type JobMode = 'static' | 'accordion' | 'gns';
export const JOB_MODES: readonly JobMode[] = ['static', 'accordion', 'gns'];

/**
 * A training job as submitted. Work is given as `totalSteps` (converted to time through the throughput table) or,
 * for jobs whose steps are unknown, as `durationS` = isolated run time on `referenceGpuType`. When both are given,
 * steps are the truth and the duration is informational (as in Gavel's and Shockwave's traces).
 */
export interface Job {
  readonly id: string;
  /** Model name as in the throughput table, e.g. `ResNet-18 (batch size 64)`. */
  readonly jobType: string;
  /** Number of GPUs, all gang-scheduled on one GPU type. */
  readonly scaleFactor: number;
  /** Seconds from the start of the trace. */
  readonly arrivalTime: number;
  readonly totalSteps?: number;
  readonly durationS?: number;
  /** GPU type on which `durationS` was measured; default `v100` (Gavel's generator reference). */
  readonly referenceGpuType?: GpuType;
  /** Weight in weighted fairness policies; default 1. */
  readonly priorityWeight: number;
  /**
   * Gavel's SLO: the job should finish within `sloFactor` x its isolated duration after arriving. Absent when the
   * job has no SLO (Gavel writes -1 or null).
   */
  readonly sloFactor?: number;
  /** Absolute deadline in seconds after arrival; an alternative to `sloFactor`. */
  readonly deadlineS?: number;
  readonly tenant?: string;
  readonly user?: string;
  /** GPU types the job may run on; absent = any. */
  readonly gpuTypes?: readonly GpuType[];
  readonly mode?: JobMode;
  /** Physical-mode fields carried through conversions (Gavel's command, working dir, steps argument, data dir). */
  readonly command?: string;
  readonly workingDirectory?: string;
  readonly numStepsArg?: string;
  readonly needsDataDir?: boolean;
}

export const MAX_SCALE_FACTOR = 1_000_000;
/** ~3,000 years; anything beyond is a unit mistake, not a job. */
export const MAX_TIME_S = 1e11;
export const MAX_STEPS = 1e15;

function bad(field: string, expected: string, found: unknown): RondoError {
  return new RondoError({ code: 'E_RANGE', problem: `bad ${field}`, expected, found: String(found) });
}

/**
 * Checks a job's invariants; throws a RondoError (without a place: readers add file and line) naming the field.
 * Returns the job for chaining.
 */
export function validateJob(job: Job): Job {
  if (typeof job.id !== 'string' || job.id.length === 0 || job.id.length > 256) {
    throw bad('job id', 'a non-empty string of at most 256 characters', job.id);
  }
  if (typeof job.jobType !== 'string' || job.jobType.trim().length === 0 || job.jobType.length > 256) {
    throw bad('job type', 'a non-empty name of at most 256 characters', job.jobType);
  }
  if (job.jobType.includes('|')) throw bad('job type', 'a name without "|"', job.jobType);
  if (!Number.isInteger(job.scaleFactor) || job.scaleFactor < 1 || job.scaleFactor > MAX_SCALE_FACTOR) {
    throw bad('scale factor (GPU count)', `an integer from 1 to ${MAX_SCALE_FACTOR}`, job.scaleFactor);
  }
  if (!Number.isFinite(job.arrivalTime) || job.arrivalTime < 0 || job.arrivalTime > MAX_TIME_S) {
    throw bad('arrival time', `seconds from 0 to ${MAX_TIME_S}`, job.arrivalTime);
  }
  if (job.totalSteps === undefined && job.durationS === undefined) {
    throw new RondoError({
      code: 'E_INVALID',
      problem: 'job has neither total steps nor a duration',
      hint: 'give totalSteps (with a job type in the throughput table) or durationS',
    });
  }
  if (job.totalSteps !== undefined && (!Number.isFinite(job.totalSteps) || job.totalSteps <= 0 || job.totalSteps > MAX_STEPS)) {
    throw bad('total steps', `a number above 0 and at most ${MAX_STEPS}`, job.totalSteps);
  }
  if (job.durationS !== undefined && (!Number.isFinite(job.durationS) || job.durationS <= 0 || job.durationS > MAX_TIME_S)) {
    throw bad('duration', `seconds above 0 and at most ${MAX_TIME_S}`, job.durationS);
  }
  if (!Number.isFinite(job.priorityWeight) || job.priorityWeight <= 0 || job.priorityWeight > 1e6) {
    throw bad('priority weight', 'a number above 0 and at most 1e6', job.priorityWeight);
  }
  if (job.sloFactor !== undefined && (!Number.isFinite(job.sloFactor) || job.sloFactor <= 0 || job.sloFactor > 1e6)) {
    throw bad('SLO factor', 'a number above 0 (or -1 / null for none)', job.sloFactor);
  }
  if (job.deadlineS !== undefined && (!Number.isFinite(job.deadlineS) || job.deadlineS <= 0 || job.deadlineS > MAX_TIME_S)) {
    throw bad('deadline', `seconds above 0 and at most ${MAX_TIME_S}`, job.deadlineS);
  }
  if (job.mode !== undefined && !JOB_MODES.includes(job.mode)) {
    throw bad('mode', JOB_MODES.join(' | '), job.mode);
  }
  if (job.gpuTypes !== undefined && (!Array.isArray(job.gpuTypes) || job.gpuTypes.length === 0)) {
    throw bad('allowed GPU types', 'a non-empty list, or absent for any type', JSON.stringify(job.gpuTypes));
  }
  return job;
}

/** Checks a whole job list: valid jobs, unique ids. Arrival order is not required (readers sort stably). */
export function validateJobs(jobs: readonly Job[]): void {
  const seen = new Set<string>();
  for (const j of jobs) {
    validateJob(j);
    if (seen.has(j.id)) {
      throw new RondoError({ code: 'E_DUPLICATE', problem: `duplicate job id ${JSON.stringify(j.id)}`, hint: 'job ids must be unique' });
    }
    seen.add(j.id);
  }
}
