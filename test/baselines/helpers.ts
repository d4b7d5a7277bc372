import { makeCluster } from '../../src/model/index.js';
import type { PolicyJob, PolicySnapshot } from '../../src/policies/types.js';

export interface Spec {
  id?: string;
  t: number[];
  sf?: number;
  rem?: number;
  total?: number;
  arrival?: number;
  jobType?: string;
}

export function mkJob(spec: Spec, i: number): PolicyJob {
  return {
    id: spec.id ?? `j${i}`,
    jobType: spec.jobType ?? 'model',
    scaleFactor: spec.sf ?? 1,
    priorityWeight: 1,
    throughput: spec.t,
    totalSteps: spec.total ?? spec.rem ?? 1000,
    remainingSteps: spec.rem ?? 1000,
    arrivalTime: spec.arrival ?? 0,
  };
}

export function mkSnap(gpus: Record<string, number>, jobs: Spec[], extra: Partial<PolicySnapshot> = {}): PolicySnapshot {
  return { now: 0, cluster: makeCluster(gpus), jobs: jobs.map(mkJob), ...extra };
}

export function share(r: { allocation: { shares: ReadonlyMap<string, readonly number[]> } }, id: string): number[] {
  return [...(r.allocation.shares.get(id) ?? [])];
}
