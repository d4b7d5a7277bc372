/**
 * The workload kinds the driver knows (kind.ts), and which one an object or a cache key is. batch/v1 Jobs are the
 * default; JobSet and PyTorchJob are opt-in (`--kube-kinds`), as their CRDs may not be installed.
 */
import { RondoError } from '../../model/errors.js';
import type { KObj } from '../reflector.js';
import { BATCH_JOB } from './batch-job.js';
import { JOBSET } from './jobset.js';
import { PYTORCHJOB } from './pytorchjob.js';
import type { KindId, WorkloadKind } from './kind.js';

export type { KindId, PodTemplateRef, WorkloadKind } from './kind.js';
export { BATCH_JOB, JOBSET, PYTORCHJOB };

export const KINDS: readonly WorkloadKind[] = [BATCH_JOB, JOBSET, PYTORCHJOB];

/** The kind of an object, from its apiVersion and kind; batch/v1 Job when it names none (typed lists omit them). */
export function kindOf(o: KObj): WorkloadKind {
  const k = o.kind as string | undefined;
  if (k === undefined || k === 'Job') return BATCH_JOB;
  return KINDS.find((x) => x.kind === k && o.apiVersion === `${x.group}/${x.version}`) ?? BATCH_JOB;
}

/** The kind of a cache key (`jobset:ns/name`; no prefix: a batch/v1 Job). */
function kindOfKey(key: string): WorkloadKind {
  const colon = key.indexOf(':');
  if (colon < 0) return BATCH_JOB;
  const prefix = key.slice(0, colon + 1);
  return KINDS.find((x) => x.keyPrefix === prefix) ?? BATCH_JOB;
}

/** namespace and name of a cache key. */
export function splitKey(key: string): { kind: WorkloadKind; namespace: string; name: string } {
  const kind = kindOfKey(key);
  const [namespace, name] = key.slice(kind.keyPrefix.length).split('/') as [string, string];
  return { kind, namespace, name };
}

/** Parses `--kube-kinds job,jobset,pytorchjob`. */
export function parseKinds(s: string): KindId[] {
  const ids = s.split(',').map((p) => p.trim().toLowerCase()).filter(Boolean);
  const bad = ids.find((id) => !KINDS.some((k) => k.id === id));
  if (ids.length === 0 || bad !== undefined) {
    throw new RondoError({ code: 'E_USAGE', problem: bad === undefined ? '--kube-kinds is empty' : `unknown --kube-kinds entry ${JSON.stringify(bad)}`, expected: `a list of ${KINDS.map((k) => k.id).join(', ')}`, hint: 'for example --kube-kinds job,jobset' });
  }
  return [...new Set(ids as KindId[])];
}
