import type { GpuType } from '../model/index.js';
import type { PolicySnapshot } from './types.js';

/**
 * Spot GPUs as their own types with a revocation rate (docs/spot.md): a revoked GPU stops its job and loses the run
 * time since the last checkpoint, so a policy should expect only part of a spot type's throughput. With `r`
 * revocations per GPU-hour, a job on `s` GPUs is stopped `s r` times an hour; losing `L` seconds each, an hour of run
 * keeps `1 / (1 + s r L / 3600)` of its work.
 */
export function revocationDiscount(snapshot: Pick<PolicySnapshot, 'revocation'>, type: GpuType, gpus = 1): number {
  const m = snapshot.revocation;
  if (!m) return 1;
  const rate = m.ratePerGpuHour[type] ?? 0;
  return rate > 0 && m.lossS > 0 ? 1 / (1 + (gpus * rate * m.lossS) / 3600) : 1;
}

/** The snapshot with each job's throughput on each type scaled by its revocation discount there. */
export function expectedThroughputs(snapshot: PolicySnapshot): PolicySnapshot {
  const m = snapshot.revocation;
  if (!m) return snapshot;
  const types = snapshot.cluster.gpuTypes;
  if (!types.some((t) => (m.ratePerGpuHour[t] ?? 0) > 0)) return snapshot;
  return {
    ...snapshot,
    jobs: snapshot.jobs.map((j) => ({ ...j, throughput: j.throughput.map((v, k) => v * revocationDiscount(snapshot, types[k]!, j.scaleFactor)) })),
  };
}
