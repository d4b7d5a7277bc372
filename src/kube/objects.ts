/**
 * Pure readings of Kubernetes objects for the driver: which workloads Rondo may manage and what they ask of Rondo,
 * what each Node offers, and the patches that admit and stop a workload. What differs per kind (batch/v1 Job,
 * JobSet, PyTorchJob: where suspend and the pod templates are) comes from its kind (kinds/); "Job" below means any
 * of them. No I/O, so each rule is tested on plain objects.
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
import { KINDS, kindOf, type PodTemplateRef } from './kinds/index.js';
import { hasCondition } from './kinds/kind.js';

const TENANT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const GPU_TYPE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** The cache key of a workload: `namespace/name` for a batch/v1 Job, with its kind's prefix for others (`jobset:ns/name`). */
export function jobKey(o: KObj): string {
  return `${kindOf(o).keyPrefix}${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/**
 * The Rondo job name that ties a Rondo job to one workload (uid included: a re-created Job is a new job). The uid
 * alone identifies it; other kinds than Job put their kind before the name, so the dashboard tells them apart.
 */
export function rondoName(o: KObj): string {
  const k = kindOf(o);
  return `k8s/${o.metadata?.namespace}/${k.id === 'job' ? '' : `${k.id}.`}${o.metadata?.name}/${o.metadata?.uid}`;
}

/** The uid in a Rondo job name made by `rondoName`, or undefined for other jobs. */
export function uidOfRondoName(name: string | null): string | undefined {
  if (!name?.startsWith('k8s/')) return undefined;
  const parts = name.split('/');
  return parts.length === 4 ? parts[3] : undefined;
}

/** Finished for good (each kind has its own condition names: Job Complete, JobSet Completed, PyTorchJob Succeeded). */
export function jobFinished(o: KObj): 'Complete' | 'Failed' | undefined {
  return kindOf(o).finished(o);
}

/** Whether the workload is suspended (`spec.suspend`, or `spec.runPolicy.suspend` for a PyTorchJob). */
export function suspended(o: KObj): boolean {
  return kindOf(o).suspended(o);
}

/** Pods the workload runs at once, over all its pod templates (a gang when more than one). */
export function podCount(o: KObj): number {
  return kindOf(o).templates(o).reduce((n, t) => n + t.pods, 0);
}

/** GPUs the workload needs in all: pods x GPUs per pod, over its templates (Rondo's scale factor for it). */
export function workloadGpus(o: KObj): number {
  return kindOf(o).templates(o).reduce((n, t) => n + t.pods * gpusPerPod(t.template), 0);
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

/**
 * Whether Rondo manages this Job: Rondo's label, and not Kueue's (a Job with both is left to Kueue); not a child
 * of another controller (a JobSet's Jobs carry its template's labels: the JobSet is what Rondo admits).
 */
export function managed(o: KObj): boolean {
  const l = o.metadata?.labels ?? {};
  return l[QUEUE_LABEL] !== undefined && l[KUEUE_LABEL] === undefined && !(kindOf(o).ownedElsewhere?.(o) ?? false);
}

/** What Rondo is asked to schedule for a Job, or why it cannot be. */
export function submitBody(o: KObj): { body: SubmitBody } | { error: string } {
  const a = o.metadata?.annotations ?? {};
  const tenant = o.metadata?.labels?.[QUEUE_LABEL] ?? '';
  if (!TENANT.test(tenant)) return { error: `label ${QUEUE_LABEL}=${JSON.stringify(tenant)} is not a queue name (letters, digits, _ . -, starting with a letter or digit)` };
  const kind = kindOf(o);
  const other = kind.unsupported?.(o);
  // A gang's GPUs are all its pods' (pods x GPUs per pod over its templates); a count that is not a whole number is
  // the workload's error, named with its template.
  const tpls = kind.templates(o);
  const badCount = tpls.find((t) => !Number.isInteger(t.pods) || !Number.isInteger(gpusPerPod(t.template)));
  if (other === undefined && badCount !== undefined) return { error: `pod template ${JSON.stringify(badCount.name)}: replicas, parallelism and ${GPU_RESOURCE} must be whole numbers` };
  const gpus = workloadGpus(o);
  if (!Number.isInteger(gpus) || gpus < 1) return { error: `no container asks for ${GPU_RESOURCE} in its limits: Rondo schedules GPU jobs only` };
  if (other !== undefined) return { error: other };
  const body: SubmitBody = { name: rondoName(o), command: ['kubernetes-job', jobKey(o)], cwd: '/', tenant, scaleFactor: gpus };
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
  return hasCondition(n, 'Ready');
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

/**
 * The uid of the workload a pod belongs to, as its kind marks it. Gang kinds first: a JobSet's pods also carry the
 * uid of the child Job that made them, which is no workload of Rondo's.
 */
const POD_OWNER_ORDER = [...KINDS].reverse();
export function podJobUid(p: KObj): string | undefined {
  for (const k of POD_OWNER_ORDER) {
    const uid = k.podOwnerUid(p);
    if (uid !== undefined) return uid;
  }
  return undefined;
}

type Selector = Record<string, string | null>;

/** Whether the original-selector annotation keeps one selector (a batch/v1 Job's one template) or one per template. */
function flat(refs: readonly PodTemplateRef[]): boolean {
  return refs.length === 1 && refs[0]!.name === '';
}

function selectorOf(ref: PodTemplateRef): Record<string, string> {
  return (ref.template?.spec?.nodeSelector ?? {}) as Record<string, string>;
}

/** The annotation read back per template (a hand-edited one that does not parse: undefined). */
function readOriginal(text: string, refs: readonly PodTemplateRef[]): Record<string, Selector> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object') return undefined;
    return flat(refs) ? { '': v as Selector } : (v as Record<string, Selector>);
  } catch {
    return undefined;
  }
}

function writeOriginal(per: Record<string, Selector>, refs: readonly PodTemplateRef[]): string {
  return JSON.stringify(flat(refs) ? per[''] : per);
}

/**
 * Admission: one merge patch that pins every pod template to the product, records the decision and unsuspends. The
 * original selector value of each template is kept in an annotation the first time, so a stop can restore it
 * (one selector for a batch/v1 Job; per template name for kinds with several). Guarded by the resourceVersion the
 * decision was made on (409 when the Job changed meanwhile).
 */
export function admitPatch(o: KObj, typeLabel: string, product: string, gpuType: string, round: number, attempt: number, worker: string, rondoJob: string, extra: Readonly<Record<string, string>> = {}): object {
  const kind = kindOf(o);
  const refs = kind.templates(o);
  const ann = o.metadata?.annotations ?? {};
  const text = ann[A_ORIGINAL_SELECTOR];
  const first = (): Record<string, Selector> => Object.fromEntries(refs.map((r) => [r.name, selectorOf(r)[typeLabel] === undefined ? {} : { [typeLabel]: selectorOf(r)[typeLabel]! }]));
  // A hand-edited annotation that does not parse keeps only Rondo's pins (restoring "no selector").
  const per: Record<string, Selector> = text === undefined ? first() : (readOriginal(text, refs) ?? {});
  // Extra keys (a spot label, src/kube/spot.ts) are recorded with the user's value, or null, the first time Rondo
  // pins them, so a stop removes exactly what Rondo added. A key already recorded keeps its first (the user's) value.
  let saved = text ?? writeOriginal(per, refs);
  if (Object.keys(extra).length > 0) {
    for (const r of refs) {
      const o2 = { ...(per[r.name] ?? {}) };
      for (const k of Object.keys(extra)) if (!(k in o2)) o2[k] = selectorOf(r)[k] ?? null;
      per[r.name] = o2;
    }
    saved = writeOriginal(per, refs);
  }
  // The selector as a stop restores it, then Rondo's pins: right also on a Job whose last stop was not tidied yet
  // (stop.ts), whose selector still carries the previous admission's pins.
  return {
    metadata: {
      resourceVersion: o.metadata?.resourceVersion,
      annotations: { [A_GPU_TYPE]: gpuType, [A_ROUND]: String(round), [A_ATTEMPT]: String(attempt), [A_WORKER]: worker, [A_RONDO_JOB]: rondoJob, [A_ORIGINAL_SELECTOR]: saved, [A_STOPPING]: null },
    },
    // The type also goes on every pod template, where the downward API lets the training code read it.
    spec: {
      ...kind.suspendSpec(false),
      ...kind.templatesSpec(o, (r) => ({ metadata: { annotations: { [A_GPU_TYPE]: gpuType } }, spec: { nodeSelector: { ...(per[r.name] ?? {}), ...extra, [typeLabel]: product } } })),
    },
  };
}

/** The first half of a stop: suspend (the workload's controller deletes the pods; the kubelet sends SIGTERM). */
export function suspendPatch(o: KObj, why: string): object {
  return { metadata: { resourceVersion: o.metadata?.resourceVersion, annotations: { [A_STOPPING]: why } }, spec: kindOf(o).suspendSpec(true) };
}

/** The last half of a stop, once no pod is left (and, for a batch/v1 Job, startTime is cleared): the original selectors, no admission. */
export function restorePatch(o: KObj, typeLabel: string): object {
  const kind = kindOf(o);
  const refs = kind.templates(o);
  // A hand-edited annotation: restoring "no selector" is the safe reading.
  const per = readOriginal(o.metadata?.annotations?.[A_ORIGINAL_SELECTOR] ?? '{}', refs) ?? {};
  return {
    metadata: { resourceVersion: o.metadata?.resourceVersion, annotations: { [A_ATTEMPT]: null, [A_WORKER]: null, [A_STOPPING]: null, [A_GPU_TYPE]: null, [A_ESTIMATED_FINISH]: null } },
    // Every key Rondo pinned goes back to the user's value (null removes it from the merge-patched selector).
    spec: kind.templatesSpec(o, (r) => {
      const original = per[r.name] ?? {};
      return { metadata: { annotations: { [A_GPU_TYPE]: null } }, spec: { nodeSelector: { ...original, [typeLabel]: original[typeLabel] ?? null } } };
    }),
  };
}

/** The per-job Secret's name (`<job>-rondo`), and whether the Job's containers read it (envFrom, env, volumes). */
export function secretName(o: KObj): string {
  return `${o.metadata?.name}-rondo`;
}

export function wantsSecret(o: KObj): boolean {
  const name = `"${secretName(o)}"`;
  return kindOf(o).templates(o).some((t) => JSON.stringify(t.template?.spec ?? {}).includes(name));
}
