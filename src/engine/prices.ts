/**
 * Phase: prices. With `EngineConfig.priceFeed` (a spot market, a live price feed) the engine reads the prices in
 * force every round. The policy is asked again only when some type's price moved past the feed's relative threshold
 * since the allocation in force was solved (a type gaining or losing its price counts as a move): re-solving an LP on
 * every small tick would move jobs for little gain and cost solver time. Without a feed this phase does nothing.
 */
import type { GpuType } from '../model/index.js';
import type { RunState } from './state.js';

export function watchPrices(s: RunState): void {
  const feed = s.cfg.priceFeed;
  if (!feed) return;
  s.pricesNow = feed.pricesAt(s.now);
  if (s.pricesSolved && s.allocation && pricesMoved(s.pricesSolved, s.pricesNow, feed.threshold)) s.stale = true;
}

/** Some type's price moved by more than `threshold` x the old price, or gained or lost its price. */
export function pricesMoved(before: Readonly<Record<GpuType, number>>, after: Readonly<Record<GpuType, number>>, threshold: number): boolean {
  for (const t of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[t];
    const b = after[t];
    if (a === undefined || b === undefined) return true;
    // A move of exactly the threshold (to round-off: 1.1 - 1 > 0.1 in binary) does not re-solve.
    if (Math.abs(b - a) > (threshold + 1e-12) * Math.abs(a)) return true;
  }
  return false;
}
