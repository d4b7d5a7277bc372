import type { GpuType } from './cluster.js';
import type { Job } from './job.js';

/**
 * What a policy sees of one active job. Throughputs are given per job (not looked up by the policy) so that the
 * same policy serves traces with a throughput table, jobs whose throughput is measured online, and benchmarks with
 * synthetic rows. Defined here, below the policies, so the engine and the runtime build it with one function.
 */
export interface PolicyJob {
  readonly id: string;
  readonly jobType: string;
  readonly scaleFactor: number;
  readonly priorityWeight: number;
  /** Isolated, consolidated steps/s on each of `snapshot.cluster.gpuTypes`; 0 = cannot run on that type. */
  readonly throughput: readonly number[];
  readonly totalSteps: number;
  readonly remainingSteps: number;
  /** Arrival time, same time base as `snapshot.now` (seconds). */
  readonly arrivalTime: number;
  /** Absolute deadline (seconds, same base as `now`), from an SLO; absent when the job has none. */
  readonly deadline?: number;
  readonly tenant?: string;
  /** GPU types the job may use; absent = any. */
  readonly allowedGpuTypes?: readonly GpuType[];
}

/** A job's progress as its scheduler knows it now. */
export interface PolicyJobProgress {
  /** Steps/s on each cluster type as the policy should see them now. */
  readonly throughput: readonly number[];
  readonly totalSteps: number;
  readonly remainingSteps: number;
  /** The job's table throughput, for the isolated duration an SLO factor multiplies; default `throughput`. */
  readonly isolatedThroughput?: readonly number[];
}

/**
 * The policy's view of a job: the one builder for the simulator's engine and the live server (what-if, fairness),
 * so an SLO becomes the same deadline in both: `deadlineS` after arrival, else `sloFactor` x the job's duration alone
 * on its fastest type.
 */
export function policyJob(job: Job, at: PolicyJobProgress): PolicyJob {
  let deadline: number | undefined;
  if (job.deadlineS !== undefined) deadline = job.arrivalTime + job.deadlineS;
  else if (job.sloFactor !== undefined) {
    const best = Math.max(0, ...(at.isolatedThroughput ?? at.throughput));
    deadline = job.arrivalTime + job.sloFactor * (best > 0 ? at.totalSteps / best : 0);
  }
  return {
    id: job.id,
    jobType: job.jobType,
    scaleFactor: job.scaleFactor,
    priorityWeight: job.priorityWeight,
    throughput: at.throughput,
    totalSteps: at.totalSteps,
    remainingSteps: at.remainingSteps,
    arrivalTime: job.arrivalTime,
    ...(deadline !== undefined ? { deadline } : {}),
    ...(job.tenant !== undefined ? { tenant: job.tenant } : {}),
    ...(job.gpuTypes !== undefined ? { allowedGpuTypes: job.gpuTypes } : {}),
  };
}
