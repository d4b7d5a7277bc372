import { describe, expect, it } from 'vitest';
import { PyRandom } from '../../src/engine/pyrandom.js';

// Expected values printed by CPython 3 (random.Random(seed)).
describe("PyRandom replays Python's random.Random", () => {
  it('shuffle, getrandbits, random, randrange', () => {
    const r = new PyRandom(5);
    const orders = Array.from({ length: 5 }, () => r.shuffle(['v100', 'p100', 'k80']).join(','));
    expect(orders).toEqual(['v100,p100,k80', 'v100,p100,k80', 'p100,v100,k80', 'k80,v100,p100', 'p100,v100,k80']);
    const q = new PyRandom(0);
    expect(q.getrandbits(32)).toBe(3626764237);
    expect(q.random()).toBe(0.3852453064766108);
    expect(q.randrange(7)).toBe(3);
    expect(new PyRandom(2 ** 40 + 3).getrandbits(32)).toBe(943978446);
  });
});
