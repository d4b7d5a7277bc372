/**
 * Pure readings of Kubernetes objects for the driver: which Jobs Rondo may manage and what it asks of Rondo, what
 * each Node offers, and the patches that admit and stop a Job. No I/O, so each rule is tested on plain objects.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are JSON of many kinds; fields are checked where read. */
import type { KObj } from './reflector.js';
import type { SubmitBody } from './rondo-client.js';
import {
  A_ATTEMPT,
  A_ESTIMATED_FINISH,
  A_GPU_TYPE,
  A_GPU_TYPES,
  A_JOB_TYPE,
  A_ORIGINAL_SELECTOR,
  A_ROUND,
  A_RONDO_JOB,
  A_STOPPING,
  A_TOTAL_STEPS,
  A_WEIGHT,
  A_WORKER,
  GPU_RESOURCE,
  KUEUE_LABEL,
  QUEUE_LABEL,
} from './config.js';

const TENANT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const GPU_TYPE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export function jobKey(o: KObj): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/** The Rondo job name that ties a Rondo job to one Kubernetes Job (uid included: a re-created Job is a new job). */
export function rondoName(o: KObj): string {
  return `k8s/${o.metadata?.namespace}/${o.metadata?.name}/${o.metadata?.uid}`;
}

/** The uid in a Rondo job name made by `rondoName`, or undefined for other jobs. */
export function uidOfRondoName(name: string | null): string | undefined {
  if (!name?.startsWith('k8s/')) return undefined;
  const parts = name.split('/');
  return parts.length === 4 ? parts[3] : undefined;
}

export function condition(o: KObj, type: string): boolean {
  return ((o.status?.conditions ?? []) as Array<{ type: string; status: string }>).some((c) => c.type === type && c.status === 'True');
}

export function jobFinished(o: KObj): 'Complete' | 'Failed' | undefined {
  if (condition(o, 'Complete')) return 'Complete';
  if (condition(o, 'Failed')) return 'Failed';
  return undefined;
}

/** GPUs one pod of the template asks for (limits, as the device plugin requires; requests if only those). */
export function gpusPerPod(tpl: any): number {
  let n = 0;
  for (const c of tpl?.spec?.containers ?? []) {
    const v = c?.resources?.limits?.[GPU_RESOURCE] ?? c?.resources?.requests?.[GPU_RESOURCE];
    if (v !== undefined) n += Number(v);
  }
  return n;
}

/** Whether Rondo manages this Job: Rondo's label, and not Kueue's (a Job with both is left to Kueue). */
export function managed(o: KObj): boolean {
  const l = o.metadata?.labels ?? {};
  return l[QUEUE_LABEL] !== undefined && l[KUEUE_LABEL] === undefined;
}

/** What Rondo is asked to schedule for a Job, or why it cannot be. */
export function submitBody(o: KObj): { body: SubmitBody } | { error: string } {
  const a = o.metadata?.annotations ?? {};
  const tenant = o.metadata?.labels?.[QUEUE_LABEL] ?? '';
  if (!TENANT.test(tenant)) return { error: `label ${QUEUE_LABEL}=${JSON.stringify(tenant)} is not a queue name (letters, digits, _ . -, starting with a letter or digit)` };
  const parallelism = Number(o.spec?.parallelism ?? 1);
  const perPod = gpusPerPod(o.spec?.template);
  if (!Number.isInteger(perPod) || perPod < 1) return { error: `no container asks for ${GPU_RESOURCE} in its limits: Rondo schedules GPU jobs only` };
  if (parallelism !== 1) return { error: `spec.parallelism is ${parallelism}: Rondo schedules Jobs with one pod (multi-pod gangs are not supported yet)` };
  const body: SubmitBody = { name: rondoName(o), command: ['kubernetes-job', jobKey(o)], cwd: '/', tenant, scaleFactor: perPod };
  if (a[A_JOB_TYPE] !== undefined) body.jobType = a[A_JOB_TYPE];
  if (a[A_TOTAL_STEPS] !== undefined) {
    const n = Number(a[A_TOTAL_STEPS]);
    if (!(n > 0) || !Number.isFinite(n)) return { error: `annotation ${A_TOTAL_STEPS}=${JSON.stringify(a[A_TOTAL_STEPS])} is not a positive number` };
    body.totalSteps = n;
  }
  if (a[A_WEIGHT] !== undefined) {
    const w = Number(a[A_WEIGHT]);
    if (!(w > 0) || !Number.isFinite(w)) return { error: `annotation ${A_WEIGHT}=${JSON.stringify(a[A_WEIGHT])} is not a positive number` };
    body.priorityWeight = w;
  }
  if (a[A_GPU_TYPES] !== undefined) {
    const types = a[A_GPU_TYPES].split(',').map((t) => t.trim()).filter(Boolean);
    const bad = types.find((t) => !GPU_TYPE.test(t));
    if (types.length === 0 || bad !== undefined) return { error: `annotation ${A_GPU_TYPES}=${JSON.stringify(a[A_GPU_TYPES])}: expected Rondo GPU type names separated by commas` };
    body.gpuTypes = [...new Set(types)];
  }
  return { body };
}

/** A node's offer to Rondo: its type and the GPUs not held by pods Rondo does not manage. */
export interface NodeOffer {
  readonly node: string;
  readonly product: string;
  readonly gpuType: string;
  readonly gpus: number;
}

export function nodeReady(n: KObj): boolean {
  return ((n.status?.conditions ?? []) as Array<{ type: string; status: string }>).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * Nodes Rondo may plan on: Ready, schedulable, a mapped product label, allocatable GPUs; minus GPUs of live pods on
 * the node that do not belong to Jobs Rondo manages (`ours(pod)`).
 */
export function nodeOffers(nodes: Iterable<KObj>, pods: Iterable<KObj>, typeLabel: string, typeMap: Readonly<Record<string, string>>, ours: (pod: KObj) => boolean): NodeOffer[] {
  const foreign = new Map<string, number>();
  for (const p of pods) {
    const node = p.spec?.nodeName as string | undefined;
    const phase = p.status?.phase as string | undefined;
    if (!node || phase === 'Succeeded' || phase === 'Failed' || ours(p)) continue;
    foreign.set(node, (foreign.get(node) ?? 0) + gpusPerPod(p));
  }
  const out: NodeOffer[] = [];
  for (const n of nodes) {
    const name = n.metadata?.name ?? '';
    const product = n.metadata?.labels?.[typeLabel];
    const type = product === undefined ? undefined : typeMap[product];
    if (!type || !nodeReady(n) || n.spec?.unschedulable) continue;
    const gpus = Math.floor(Number(n.status?.allocatable?.[GPU_RESOURCE] ?? 0)) - (foreign.get(name) ?? 0);
    if (gpus > 0) out.push({ node: name, product: product!, gpuType: type, gpus });
  }
  return out.sort((a, b) => a.node.localeCompare(b.node));
}

/** The Job's controller uid as its pods carry it (current label, then the older one). */
export function podJobUid(p: KObj): string | undefined {
  const l = p.metadata?.labels ?? {};
  return l['batch.kubernetes.io/controller-uid'] ?? l['controller-uid'];
}

/**
 * Admission: one merge patch that pins the pod template to the product, records the decision and unsuspends. The
 * original selector value is kept in an annotation the first time, so a stop can restore it. Guarded by the
 * resourceVersion the decision was made on (409 when the Job changed meanwhile).
 */
export function admitPatch(o: KObj, typeLabel: string, product: string, gpuType: string, round: number, attempt: number, worker: string, rondoJob: string, extra: Readonly<Record<string, string>> = {}): object {
  const ann = o.metadata?.annotations ?? {};
  const sel = (o.spec?.template?.spec?.nodeSelector ?? {}) as Record<string, string>;
  const original = ann[A_ORIGINAL_SELECTOR] ?? JSON.stringify(sel[typeLabel] === undefined ? {} : { [typeLabel]: sel[typeLabel] });
  // Extra keys (a spot label, src/kube/spot.ts) are recorded with the user's value, or null, the first time Rondo
  // pins them, so a stop removes exactly what Rondo added. A key already recorded keeps its first (the user's) value.
  let saved = original;
  if (Object.keys(extra).length > 0) {
    let o2: Record<string, string | null> = {};
    try {
      o2 = JSON.parse(original) as Record<string, string | null>;
    } catch {
      // A hand-edited annotation: keep what can be kept.
    }
    for (const k of Object.keys(extra)) if (!(k in o2)) o2[k] = sel[k] ?? null;
    saved = JSON.stringify(o2);
  }
  // The selector as a stop restores it, then Rondo's pins: right also on a Job whose last stop was not tidied yet
  // (stop.ts), whose selector still carries the previous admission's pins.
  let restored: Record<string, string | null> = {};
  try {
    restored = JSON.parse(saved) as Record<string, string | null>;
  } catch {
    // A hand-edited annotation: only Rondo's pins are set.
  }
  return {
    metadata: {
      resourceVersion: o.metadata?.resourceVersion,
      annotations: { [A_GPU_TYPE]: gpuType, [A_ROUND]: String(round), [A_ATTEMPT]: String(attempt), [A_WORKER]: worker, [A_RONDO_JOB]: rondoJob, [A_ORIGINAL_SELECTOR]: saved, [A_STOPPING]: null },
    },
    // The type also goes on the pod template, where the downward API lets the training code read it.
    spec: { suspend: false, template: { metadata: { annotations: { [A_GPU_TYPE]: gpuType } }, spec: { nodeSelector: { ...restored, ...extra, [typeLabel]: product } } } },
  };
}

/** The first half of a stop: suspend (the Job controller deletes the pods; the kubelet sends SIGTERM). */
export function suspendPatch(o: KObj, why: string): object {
  return { metadata: { resourceVersion: o.metadata?.resourceVersion, annotations: { [A_STOPPING]: why } }, spec: { suspend: true } };
}

/** The last half of a stop, once no pod is left and startTime is cleared: the original selector, no admission. */
export function restorePatch(o: KObj, typeLabel: string): object {
  const ann = o.metadata?.annotations ?? {};
  let original: Record<string, string | null> = {};
  try {
    original = JSON.parse(ann[A_ORIGINAL_SELECTOR] ?? '{}') as Record<string, string | null>;
  } catch {
    // A hand-edited annotation: restoring "no selector" is the safe reading.
  }
  return {
    metadata: { resourceVersion: o.metadata?.resourceVersion, annotations: { [A_ATTEMPT]: null, [A_WORKER]: null, [A_STOPPING]: null, [A_GPU_TYPE]: null, [A_ESTIMATED_FINISH]: null } },
    // Every key Rondo pinned goes back to the user's value (null removes it from the merge-patched selector).
    spec: { template: { metadata: { annotations: { [A_GPU_TYPE]: null } }, spec: { nodeSelector: { ...original, [typeLabel]: original[typeLabel] ?? null } } } },
  };
}

/** The per-job Secret's name (`<job>-rondo`), and whether the Job's containers read it (envFrom, env, volumes). */
export function secretName(o: KObj): string {
  return `${o.metadata?.name}-rondo`;
}

export function wantsSecret(o: KObj): boolean {
  return JSON.stringify(o.spec?.template?.spec ?? {}).includes(`"${secretName(o)}"`);
}
