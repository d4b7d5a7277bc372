import { RondoError } from './errors.js';
import type { GpuType } from './cluster.js';

/**
 * Capacity tiers of cloud GPUs (docs/formats.md, "Capacity traces"). A spot/preemptible GPU is modelled as its own
 * cluster type so every policy, ledger and metric keeps working per type: `v100` is on-demand, `v100-spot` is the
 * same card on the spot tier, and an optional region is appended after a dot (`a100-spot.us-east1`).
 */
export type Tier = 'on-demand' | 'spot';

export const SPOT_SUFFIX = '-spot';

export interface TierKey {
  /** The card, lower-case (`v100`, `t4`, `a100`). */
  readonly gpu: GpuType;
  readonly tier: Tier;
  /** Empty when the trace gives no region. */
  readonly region: string;
}

/** The cluster type name of a (card, tier, region). */
export function tierTypeName(k: TierKey): GpuType {
  return `${k.gpu}${k.tier === 'spot' ? SPOT_SUFFIX : ''}${k.region ? `.${k.region}` : ''}`;
}

/** Inverse of `tierTypeName`; a plain type (`v100`) reads as on-demand without a region. */
export function parseTierType(name: GpuType): TierKey {
  const dot = name.indexOf('.');
  const head = dot < 0 ? name : name.slice(0, dot);
  const region = dot < 0 ? '' : name.slice(dot + 1);
  if (head.endsWith(SPOT_SUFFIX)) return { gpu: head.slice(0, -SPOT_SUFFIX.length), tier: 'spot', region };
  return { gpu: head, tier: 'on-demand', region };
}

export function isSpotType(name: GpuType): boolean {
  return parseTierType(name).tier === 'spot';
}

/** Reads a tier column: `on-demand`/`ondemand`/`od` or `spot`/`preemptible`. */
export function parseTier(raw: string): Tier | undefined {
  const s = raw.trim().toLowerCase();
  if (s === 'on-demand' || s === 'ondemand' || s === 'od') return 'on-demand';
  if (s === 'spot' || s === 'preemptible') return 'spot';
  return undefined;
}

/**
 * What cost-aware policies may know of the market besides the snapshot: the price in force at a time and how often
 * each type's GPUs are revoked. Built by the simulator from the price and capacity traces.
 */
export interface SpotMarket {
  /** $ per GPU-hour of each cluster type at time `t` (seconds); types without a price are absent. */
  pricesAt(t: number): Readonly<Record<GpuType, number>>;
  /** Revocations per GPU-hour of each type, measured over the capacity trace (0 for on-demand). */
  readonly revocationRate: Readonly<Record<GpuType, number>>;
  /** Expected seconds of run time lost per revocation (half a checkpoint interval plus the restart). */
  readonly lossPerRevocationS: number;
}

export function checkTierKeyParts(gpu: string, region: string): void {
  if (gpu.includes('.') || gpu.endsWith(SPOT_SUFFIX) || region.includes('.')) {
    throw new RondoError({ code: 'E_INVALID', problem: `GPU type ${JSON.stringify(gpu)} or region ${JSON.stringify(region)} clashes with tier naming`, hint: 'give the card name without "-spot" and without dots; put the tier in the tier column' });
  }
}
