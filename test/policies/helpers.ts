import { makeCluster } from '../../src/model/index.js';
import type { PolicyJob, PolicySnapshot } from '../../src/policies/types.js';

export interface JobSpec {
  id?: string;
  t: number[];
  sf?: number;
  w?: number;
  rem?: number;
  total?: number;
  arrival?: number;
  deadline?: number;
  tenant?: string;
  allowed?: string[];
  jobType?: string;
}

export function job(spec: JobSpec, i: number): PolicyJob {
  return {
    id: spec.id ?? `j${String(i).padStart(4, '0')}`,
    jobType: spec.jobType ?? 'model',
    scaleFactor: spec.sf ?? 1,
    priorityWeight: spec.w ?? 1,
    throughput: spec.t,
    totalSteps: spec.total ?? spec.rem ?? 1000,
    remainingSteps: spec.rem ?? 1000,
    arrivalTime: spec.arrival ?? i,
    ...(spec.deadline !== undefined ? { deadline: spec.deadline } : {}),
    ...(spec.tenant !== undefined ? { tenant: spec.tenant } : {}),
    ...(spec.allowed !== undefined ? { allowedGpuTypes: spec.allowed } : {}),
  };
}

export function snap(gpus: Record<string, number>, jobs: JobSpec[], extra: Partial<PolicySnapshot> = {}): PolicySnapshot {
  return { now: 0, cluster: makeCluster(gpus), jobs: jobs.map(job), ...extra };
}

export function sharesOf(result: { allocation: { shares: ReadonlyMap<string, readonly number[]> } }, id: string): number[] {
  return [...(result.allocation.shares.get(id) ?? [])];
}

/** Effective throughput of each job under an allocation, in snapshot order. */
export function effective(s: PolicySnapshot, result: { allocation: { shares: ReadonlyMap<string, readonly number[]> } }): number[] {
  return s.jobs.map((j) => {
    const x = result.allocation.shares.get(j.id) ?? [];
    return j.throughput.reduce((acc, t, k) => acc + t * (x[k] ?? 0), 0);
  });
}
