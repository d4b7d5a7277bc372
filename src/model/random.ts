/**
 * mulberry32: a tiny seeded generator for tie-breaks and benchmark instances. `randomStep` is the pure form (the
 * state is one 32-bit integer, so a policy can carry it in its serialisable state); `seededRandom` wraps it.
 * Workloads use pure-rand (src/sim/generate.ts); this is for the places that need a draw, not a distribution.
 */
export function randomStep(state: number): [value: number, next: number] {
  const next = (state + 0x6d2b79f5) >>> 0;
  let r = Math.imul(next ^ (next >>> 15), next | 1);
  r ^= r + Math.imul(r ^ (r >>> 7), r | 61);
  return [((r ^ (r >>> 14)) >>> 0) / 4294967296, next];
}

/** A generator of floats in [0, 1), the same sequence for the same seed on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    const [v, next] = randomStep(state);
    state = next;
    return v;
  };
}
