/**
 * What differs between the workload kinds Rondo admits (as Kueue's jobframework puts each kind behind one interface):
 * where the API serves them, where `suspend` lives, where the pod templates are and how many pods each makes, how
 * a finished workload says so, and how its pods point back to it. Everything else (queues, leases, the admission
 * and stop writes, Events) is the same for every kind and lives in the driver. Pure: no I/O.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are JSON of many kinds; fields are checked where read. */
import type { KObj } from '../reflector.js';

/** The names a user gives in `--kube-kinds`. */
export type KindId = 'job' | 'jobset' | 'pytorchjob';

/** One pod template of a workload: `pods` pods are made from it while the workload runs. */
export interface PodTemplateRef {
  /** Which template (a replicated Job's or replica type's name; '' for a batch/v1 Job's only template). */
  readonly name: string;
  readonly template: any;
  readonly pods: number;
}

export interface WorkloadKind {
  readonly id: KindId;
  readonly kind: string;
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  /** Prefix of this kind's cache keys (`<prefix>namespace/name`): '' for batch/v1 Jobs, so their keys stay as they were. */
  readonly keyPrefix: string;
  /**
   * Whether a stop must clear `status.startTime` through /status before the pod templates may change again. Only
   * batch/v1 Jobs (KEP-2926: scheduling directives may change only while suspended and never started); JobSet and
   * the training operator let them change whenever the workload is suspended.
   */
  readonly clearsStartTime: boolean;
  /** Whether the workload is suspended now (undefined `suspend` counts as running, as every controller reads it). */
  suspended(o: KObj): boolean;
  /** The merge-patch fragment of `spec` that suspends (true) or resumes (false) it. */
  suspendSpec(suspend: boolean): Record<string, unknown>;
  /** Its pod templates, with how many pods run from each at once. */
  templates(o: KObj): PodTemplateRef[];
  /**
   * The merge-patch fragment of `spec` that applies `edit` (a merge patch of one pod template, null removing a key)
   * to every pod template. Arrays are replaced whole by a merge patch, so kinds that keep templates in a list send
   * the whole list, edited; the patch is guarded by the resourceVersion it was computed on.
   */
  templatesSpec(o: KObj, edit: (ref: PodTemplateRef) => Record<string, unknown>): Record<string, unknown>;
  /** Finished for good: Complete (succeeded) or Failed; undefined while it may still run. */
  finished(o: KObj): 'Complete' | 'Failed' | undefined;
  /**
   * Whether a stop (and the next admission) waits for this pod of the workload to be gone. A pod that holds GPUs
   * always; a finished one as the kind's controller needs it (kinds differ).
   */
  stopWaitsFor(pod: KObj): boolean;
  /** The uid of the workload of this kind that a pod belongs to, if any. */
  podOwnerUid(pod: KObj): string | undefined;
  /** Whether a labelled object of this kind is Rondo's to manage beyond the common label rules (e.g. not a JobSet's child Job). */
  ownedElsewhere?(o: KObj): boolean;
  /** Why Rondo cannot schedule this workload (a shape it does not handle), if it cannot. */
  unsupported?(o: KObj): string | undefined;
}

/** A pod that holds its GPUs: not Succeeded or Failed. */
export function livePod(p: KObj): boolean {
  const phase = p.status?.phase as string | undefined;
  return phase !== 'Succeeded' && phase !== 'Failed';
}

export function hasCondition(o: KObj, type: string): boolean {
  return ((o.status?.conditions ?? []) as Array<{ type: string; status: string }>).some((c) => c.type === type && c.status === 'True');
}

/** A count field: a whole number >= 0, or the default when absent. NaN when malformed (the caller reports it). */
export function count(v: unknown, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : NaN;
}

/** RFC 7386 JSON merge patch applied to a copy (for kinds whose templates sit in arrays, which a patch replaces whole). */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}
