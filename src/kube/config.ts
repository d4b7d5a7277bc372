/**
 * The Kubernetes driver's settings and the names it writes on objects. Everything here is pure: parsing of the
 * command-line forms, validation with errors that name the flag and the fix.
 */
import { RondoError } from '../model/errors.js';
import type { KindId } from './kinds/kind.js';
import { CHANGE_WINDOW_SHARE, type AutoChangeBudget } from './change-budget.js';

/** Label that opts a batch/v1 Job in; its value names the queue (Rondo's tenant). */
export const QUEUE_LABEL = 'rondo.dev/queue';
/** Kueue's queue label: a Job that carries it belongs to Kueue, even when it also has Rondo's. */
export const KUEUE_LABEL = 'kueue.x-k8s.io/queue-name';

/** Annotations Rondo reads (set by the Job's author). */
export const A_JOB_TYPE = 'rondo.dev/job-type';
export const A_TOTAL_STEPS = 'rondo.dev/total-steps';
export const A_GPU_TYPES = 'rondo.dev/gpu-types';
export const A_WEIGHT = 'rondo.dev/priority-weight';

/** Annotations Rondo writes (its admission state lives on the Job, so a restarted Rondo can read it back). */
export const A_GPU_TYPE = 'rondo.dev/gpu-type';
export const A_ROUND = 'rondo.dev/round';
export const A_ATTEMPT = 'rondo.dev/attempt';
export const A_WORKER = 'rondo.dev/worker';
export const A_RONDO_JOB = 'rondo.dev/job-id';
export const A_ORIGINAL_SELECTOR = 'rondo.dev/original-node-selector';
/** When Rondo expects the Job to finish (ISO 8601, from the server's estimates), kept current while it runs. */
export const A_ESTIMATED_FINISH = 'rondo.dev/estimated-finish';
/** Present while Rondo stops the Job (suspend sent, waiting for its pods to go). */
export const A_STOPPING = 'rondo.dev/stopping';

export const GPU_RESOURCE = 'nvidia.com/gpu';

export interface KubeOptions {
  /** Workload kinds to admit (`--kube-kinds`; default batch/v1 Jobs only: the others need their CRDs). */
  readonly kinds?: readonly KindId[];
  /** Node label holding the GPU product (GPU Feature Discovery's default). */
  readonly typeLabel: string;
  /** Node label value (product) -> Rondo GPU type name. Products not listed are not used. */
  readonly typeMap: Readonly<Record<string, string>>;
  /** Only Jobs of this namespace (undefined: all namespaces). */
  readonly namespace?: string;
  /** A started Job whose pod is still Pending after this long is suspended and its type counted short. */
  readonly pendingTimeoutMs: number;
  /** How long a type stays short after a Pending timeout (its free GPUs are not offered). */
  readonly shortForMs: number;
  /** Path of a kubeconfig; undefined: $KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  readonly kubeconfig?: string;
  /** URL a job uses to reach Rondo's API (goes into the per-job Secret as RONDO_SERVER). */
  readonly jobServerUrl?: string;
  /** Leader election: Lease namespace/name and this replica's identity. Undefined: no election (one replica). */
  readonly leader?: { readonly namespace: string; readonly name: string; readonly identity: string; readonly leaseSeconds: number };
  /** Node labels that mark spot/preemptible nodes (spot.ts; default `DEFAULT_SPOT_LABELS`). */
  readonly spotLabels?: ReadonlyArray<readonly [string, string]>;
  /** Controller pass interval (ms); default: the server's heartbeat. */
  readonly tickMs?: number;
  /**
   * How long a stopped Job stays suspended with Rondo's selector before it is restored (stop.ts, tidy); default one
   * round: most stopped Jobs are admitted again sooner, with no write to undo first.
   */
  readonly tidyAfterMs?: number;
  /**
   * The automatic change budget the server plans with (`--max-changes auto`, the default of `rondo serve --kube`):
   * the driver measures its decision writes into it (change-budget.ts). Undefined: the driver measures nothing.
   */
  readonly changeBudget?: AutoChangeBudget;
}

export const DEFAULT_KUBE: Omit<KubeOptions, 'typeMap'> = {
  typeLabel: 'nvidia.com/gpu.product',
  pendingTimeoutMs: 120_000,
  shortForMs: 600_000,
};

const GPU_TYPE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** Parses `--kube-types "Tesla-V100-SXM2-16GB=v100,Tesla-T4=t4"`. */
export function parseTypeMap(s: string, where = '--kube-types'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.lastIndexOf('=');
    const product = eq > 0 ? part.slice(0, eq).trim() : '';
    const type = eq > 0 ? part.slice(eq + 1).trim() : '';
    if (!product || !GPU_TYPE.test(type)) {
      throw new RondoError({ code: 'E_USAGE', problem: `bad ${where} entry ${JSON.stringify(part)}`, expected: 'PRODUCT=type, type in lower case letters, digits, _ . -', hint: 'for example Tesla-V100-SXM2-16GB=v100,Tesla-T4=t4' });
    }
    if (out[product] !== undefined) throw new RondoError({ code: 'E_USAGE', problem: `${where} maps ${product} twice` });
    out[product] = type;
  }
  if (Object.keys(out).length === 0) throw new RondoError({ code: 'E_USAGE', problem: `${where} is empty`, hint: 'map at least one node label value to a GPU type, e.g. Tesla-T4=t4' });
  return out;
}

/** Parses a ConfigMap-style text: one `PRODUCT=type` per line, `#` comments (the deploy manifests mount one). */
export function parseTypeMapFile(text: string, file: string): Record<string, string> {
  const lines = text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
  return parseTypeMap(lines.join(','), file);
}

/** `--max-changes`: a fixed budget, `auto` (measured from the API server's write rate; `serve --kube` only) or `none`. */
export type MaxChangesSetting = number | 'auto' | 'none';

/**
 * Parses `--max-changes`: a positive integer, `none` (no budget) or `auto`, which needs a Kubernetes API server to
 * measure (`kube`); absent: `auto` with --kube, else none. 0 is refused (it would freeze every placement).
 */
export function parseMaxChanges(v: string | undefined, kube: boolean): MaxChangesSetting {
  if (v === undefined) return kube ? 'auto' : 'none';
  const s = v.trim().toLowerCase();
  if (s === 'none') return 'none';
  if (s === 'auto') {
    if (!kube) {
      throw new RondoError({
        code: 'E_USAGE',
        problem: '--max-changes auto needs --kube',
        expected: 'the automatic budget follows the write rate of a Kubernetes API server; without --kube there is none to measure',
        hint: 'give a number (e.g. --max-changes 200), none, or leave the flag out',
      });
    }
    return 'auto';
  }
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < 1) {
    throw new RondoError({ code: 'E_USAGE', problem: 'bad --max-changes', expected: `a positive integer: the most jobs whose placement a round may change${kube ? ', auto or none' : ', or none'}`, found: JSON.stringify(v) });
  }
  return n;
}

/**
 * Parses `--change-window S` (seconds): the time a round's admissions and stops should take to reach the API server
 * under the automatic budget; default a tenth of the round. Positive and shorter than the round.
 */
export function parseChangeWindow(v: string | undefined, roundS: number, setting: MaxChangesSetting): number {
  if (v === undefined) return defaultWindow(roundS);
  if (setting !== 'auto') {
    throw new RondoError({ code: 'E_USAGE', problem: '--change-window applies only to the automatic change budget', hint: 'use it with --kube and --max-changes auto (the default with --kube), or drop it' });
  }
  const s = Number(v);
  if (v.trim() === '' || !Number.isFinite(s) || s <= 0 || s >= roundS) {
    throw new RondoError({ code: 'E_USAGE', problem: 'bad --change-window', expected: `seconds, more than 0 and less than the round (${roundS} s), e.g. ${defaultWindow(roundS)}`, found: JSON.stringify(v), hint: 'give a shorter window or a longer --round' });
  }
  return s;
}

/** A tenth of the round, to the millisecond (0.15, not 0.15000000000000002, in logs and /metrics). */
function defaultWindow(roundS: number): number {
  const w = roundS * CHANGE_WINDOW_SHARE;
  return w >= 0.001 ? Math.round(w * 1000) / 1000 : w;
}
