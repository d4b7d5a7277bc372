/**
 * Spot and preemptible nodes (docs/spot.md, docs/kubernetes.md): a node carrying one of the usual spot labels
 * (configurable) offers its GPUs as the tier type `<type>-spot` (src/model/spot.ts), so policies, prices and cost see
 * them apart; a Job admitted on that type is pinned to spot nodes by the same label. A spot node that is deleted, or
 * that gains a NoSchedule/NoExecute taint it did not carry when first seen (or carries a provider's termination
 * taint), is revoked: its node-worker stops syncing, so the server counts its attempts lost (a revocation: the job
 * goes back to the queue and resumes from its checkpoint) while the controller stops the Job's pods.
 */
import { RondoError } from '../model/errors.js';
import { parseTierType, tierTypeName } from '../model/spot.js';
import type { NodeOffer } from './objects.js';
import type { KObj } from './reflector.js';

/** Labels the managed Kubernetes offerings put on spot/preemptible nodes. */
export const DEFAULT_SPOT_LABELS: ReadonlyArray<readonly [string, string]> = [
  ['cloud.google.com/gke-spot', 'true'],
  ['cloud.google.com/gke-preemptible', 'true'],
  ['eks.amazonaws.com/capacityType', 'SPOT'],
  ['karpenter.sh/capacity-type', 'spot'],
  ['kubernetes.azure.com/scalesetpriority', 'spot'],
];

/** Taints a provider (or its termination handler) puts on a node about to be reclaimed: revoked even if seen first. */
export const TERMINATION_TAINTS: readonly string[] = [
  'cloud.google.com/impending-node-termination',
  'aws-node-termination-handler/spot-itn',
  'karpenter.sh/disruption',
  'ToBeDeletedByClusterAutoscaler',
];

/** Parses `--kube-spot-labels KEY=VALUE[,...]`. */
export function parseSpotLabels(s: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = eq > 0 ? part.slice(0, eq).trim() : '';
    const value = eq > 0 ? part.slice(eq + 1).trim() : '';
    if (!/^([a-z0-9.-]+\/)?[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(key) || value === '') {
      throw new RondoError({ code: 'E_USAGE', problem: `bad --kube-spot-labels entry ${JSON.stringify(part)}`, expected: 'LABEL=VALUE, e.g. cloud.google.com/gke-spot=true' });
    }
    out.push([key, value]);
  }
  if (out.length === 0) throw new RondoError({ code: 'E_USAGE', problem: '--kube-spot-labels is empty', hint: 'e.g. karpenter.sh/capacity-type=spot' });
  return out;
}

/** The spot label a node carries, if any. */
export function spotLabelOf(n: KObj, labels: ReadonlyArray<readonly [string, string]>): readonly [string, string] | undefined {
  const l = (n.metadata?.labels ?? {}) as Record<string, string>;
  return labels.find(([k, v]) => l[k] === v);
}

function blockingTaints(n: KObj): string[] {
  const taints = ((n.spec?.taints ?? []) as Array<{ key: string; effect?: string }>).filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
  return taints.map((t) => t.key);
}

export class SpotNodes {
  /** Blocking taint keys of each spot node (by uid) when first seen: a spot pool's own taint is not a revocation. */
  private readonly firstTaints = new Map<string, Set<string>>();
  private readonly revoked = new Set<string>();

  constructor(
    private readonly labels: ReadonlyArray<readonly [string, string]> = DEFAULT_SPOT_LABELS,
    private readonly log: (m: string) => void = () => {},
  ) {}

  /** Whether this spot node is revoked (a new blocking taint, or a termination taint); remembered by node uid. */
  isRevoked(n: KObj): boolean {
    const uid = String(n.metadata?.uid ?? n.metadata?.name ?? '');
    if (this.revoked.has(uid)) return true;
    if (!spotLabelOf(n, this.labels)) return false;
    const taints = blockingTaints(n);
    let first = this.firstTaints.get(uid);
    if (!first) {
      first = new Set(taints.filter((t) => !TERMINATION_TAINTS.includes(t)));
      this.firstTaints.set(uid, first);
    }
    const cause = taints.find((t) => !first.has(t));
    if (cause === undefined) return false;
    this.revoked.add(uid);
    this.log(`spot node ${n.metadata?.name} revoked (taint ${cause}): its jobs go back to the queue`);
    return true;
  }

  /** Offers with spot nodes' GPUs as tier types, and revoked spot nodes left out (even with attempts on them). */
  apply(offers: readonly NodeOffer[], nodes: Iterable<KObj>): NodeOffer[] {
    const byName = new Map<string, KObj>();
    for (const n of nodes) byName.set(String(n.metadata?.name ?? ''), n);
    const out: NodeOffer[] = [];
    for (const o of offers) {
      const n = byName.get(o.node);
      if (!n || !spotLabelOf(n, this.labels)) {
        out.push(o);
        continue;
      }
      if (this.isRevoked(n)) continue;
      out.push({ ...o, gpuType: tierTypeName({ gpu: o.gpuType, tier: 'spot', region: '' }) });
    }
    return out;
  }

  /**
   * For admission on a spot type: the product label value of a live spot node of its card and the spot label that
   * pins the pods to spot nodes. Undefined for an on-demand type or when no spot node of the card is left.
   */
  placement(gpuType: string, nodes: Iterable<KObj>, typeLabel: string, typeMap: Readonly<Record<string, string>>): { product: string; selector: Record<string, string> } | undefined {
    const k = parseTierType(gpuType);
    if (k.tier !== 'spot') return undefined;
    for (const n of nodes) {
      const product = (n.metadata?.labels as Record<string, string> | undefined)?.[typeLabel];
      const label = spotLabelOf(n, this.labels);
      if (product === undefined || !label || typeMap[product] !== k.gpu || this.isRevoked(n)) continue;
      return { product, selector: { [label[0]]: label[1] } };
    }
    return undefined;
  }
}
