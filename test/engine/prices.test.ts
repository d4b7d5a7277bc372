import { describe, expect, it } from 'vitest';
import { runEngine } from '../../src/engine/index.js';
import { pricesMoved } from '../../src/engine/prices.js';
import { makeCluster } from '../../src/model/index.js';
import type { Policy, PolicySnapshot } from '../../src/policies/types.js';
import { SimClock, SimExecutor, TraceSource, tableThroughputs } from '../../src/sim/index.js';
import { job, smallTable, testFifo } from '../sim/helpers.js';

/** The engine's price feed (src/engine/prices.ts): a move past the threshold re-solves, a smaller one does not. */

/** A policy that records when it was called and with which prices. */
function recording(inner: Policy): { policy: Policy; calls: Array<{ now: number; prices: PolicySnapshot['prices'] }> } {
  const calls: Array<{ now: number; prices: PolicySnapshot['prices'] }> = [];
  return { calls, policy: { meta: inner.meta, allocate: (s) => (calls.push({ now: s.now, prices: s.prices }), inner.allocate(s)) } };
}

async function run(priceAt: (t: number) => number, threshold: number | undefined) {
  const table = smallTable();
  const cluster = makeCluster({ v100: 1, k80: 1 });
  const clock = new SimClock();
  const { policy, calls } = recording(testFifo());
  // One long job (20 rounds) and nothing else: without prices the policy is called once, at its arrival.
  const r = await runEngine({
    cluster,
    policy,
    clock,
    executor: new SimExecutor(clock, table),
    source: new TraceSource([job('a', { totalSteps: 72_000 })]),
    throughputOf: tableThroughputs(table, cluster),
    roundDuration: 360,
    minReallocationInterval: 0,
    ...(threshold !== undefined ? { priceFeed: { pricesAt: (t: number) => ({ v100: priceAt(t), k80: 1 }), threshold } } : {}),
  });
  return { r, calls };
}

describe('price feed', () => {
  it('re-solves when a price moves past the threshold, with the prices in force, and not for smaller moves', async () => {
    // v100: 3.00, then +5% at 1,000 s (below 10%), then +20% of the solved price at 3,000 s (above).
    const price = (t: number): number => (t < 1000 ? 3 : t < 3000 ? 3.15 : 3.6);
    const { r, calls } = await run(price, 0.1);
    expect(r.jobs.every((j) => j.finishTime !== undefined)).toBe(true);
    expect(calls.map((c) => c.now)).toEqual([0, 3240]);
    expect(calls[0]!.prices).toEqual({ v100: 3, k80: 1 });
    expect(calls[1]!.prices).toEqual({ v100: 3.6, k80: 1 });
  });

  it('compares with the prices last solved with, so small moves that add up re-solve once they pass it', async () => {
    // +4% every 1,000 s: 3 -> 3.12 -> 3.2448 -> 3.3746 (12.5% above 3 at 3,000 s).
    const price = (t: number): number => 3 * 1.04 ** Math.min(3, Math.floor(t / 1000));
    const { calls } = await run(price, 0.1);
    expect(calls.map((c) => c.now)).toEqual([0, 3240]);
  });

  it('without a feed, the policy sees the fixed prices and is not called again', async () => {
    const { calls, r } = await run(() => 3, undefined);
    expect(calls.map((c) => c.now)).toEqual([0]);
    expect(calls[0]!.prices).toBeUndefined();
    expect(r.jobs[0]!.finishTime).toBeDefined();
  });

  it('pricesMoved: relative threshold, and a type gaining or losing its price', () => {
    expect(pricesMoved({ a: 1 }, { a: 1.1 }, 0.1)).toBe(false);
    expect(pricesMoved({ a: 1 }, { a: 1.11 }, 0.1)).toBe(true);
    expect(pricesMoved({ a: 1 }, { a: 0.89 }, 0.1)).toBe(true);
    expect(pricesMoved({ a: 1 }, { a: 1, b: 2 }, 0.1)).toBe(true);
    expect(pricesMoved({ a: 1, b: 2 }, { a: 1 }, 0.1)).toBe(true);
    expect(pricesMoved({ a: 1 }, { a: 1 }, 0)).toBe(false);
  });
});
