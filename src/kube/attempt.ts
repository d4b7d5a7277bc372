/**
 * One lease of a Rondo job on a node-worker, as the Kubernetes driver tracks it through its Job writes: pending (the
 * lease is known, the Job not yet admitted), starting (admitted, no pod running yet), running, stopping (suspended,
 * waiting for its pods to be gone). Shared by the controller's reconcile loop and the admission and stop writes.
 */
import type { SyncEnded } from '../runtime/protocol.js';

export type Phase = 'pending' | 'starting' | 'running' | 'stopping';

export interface Attempt {
  readonly id: number;
  readonly jobId: string;
  readonly worker: string; // node name
  readonly gpuType: string;
  kube: string; // namespace/name
  phase: Phase;
  startAt: number;
  deadline: number;
  /** The lease end the server gave (Unix ms), sent back in syncs so an unchanged lease is not sent again. */
  leaseEnd?: number;
  /** Its Job's pod reads the per-job Secret: it needs a lease token before admission. */
  wantsToken?: boolean;
  token?: string;
  stop?: string; // why it is being stopped
  startedAt?: number;
  admittedAt?: number;
  /** When its suspend was written (the stop's wait for its pods is timed from here). */
  suspendedAt?: number;
  ended?: SyncEnded;
  /** The server no longer lists it. */
  withdrawn?: boolean;
  /** A write for it is in flight: the next pass leaves it alone. */
  busy?: boolean;
  /** The server has been told it runs (a sync carried it): later syncs leave it out. */
  runReported?: boolean;
  /** The round that placed or last extended it (from its lease). */
  round?: number;
}

/** Marks the attempt ended; the next sync reports it to the server. */
export function endAttempt(a: Attempt, e: Omit<SyncEnded, 'attempt' | 'at'>): void {
  a.ended = { attempt: a.id, at: Date.now(), ...e };
}
