import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeCluster, pairKey, type Allocation, type Assignment } from '../../src/model/index.js';
import {
  addRows,
  copyLedger,
  creditRuns,
  emptyLedger,
  planRound,
  QueueIndex,
  removeJobs,
  resetLedger,
  type MechanismRow,
  type RunCredit,
  type ShareLedger,
} from '../../src/mechanism/index.js';

const types = ['v100', 'p100', 'k80'];

/** Small deterministic generator (mulberry32), so a failing seed replays. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Drives the planner through rounds of arrivals, departures, recomputes (with rows shared by classes of jobs, so
 * that many rows tie on priority), credits, restored ledgers and occasional space-sharing pairs, planning every
 * round with and without the index. The plans must be identical.
 */
function scenario(seed: number, rounds: number, opts: { fifo: boolean; perServer: number }): { indexed: number; pairsSeen: number } {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const cluster = makeCluster({ v100: 6, p100: 4, k80: 5 }, opts.perServer);
  const index = new QueueIndex({ minRows: 0, idleWhenSparse: false });
  let rows: MechanismRow[] = [];
  let ledger: ShareLedger = emptyLedger(types);
  let allocation: Allocation | undefined;
  let previous: readonly Assignment[] = [];
  let next = 0;
  let now = 0;
  let indexed = 0;
  let pairsSeen = 0;
  const classRows = [
    [0.5, 0.25, 0],
    [1, 0, 0],
    [0, 0, 1],
    [0.25, 0.25, 0.25],
    [0, 0, 0],
  ];
  for (let round = 0; round < rounds; round++) {
    let changed = false;
    const arrivals = Math.floor(r() * 4);
    const added: string[] = [];
    for (let i = 0; i < arrivals; i++) {
      const key = `j${next++}`;
      const throughput = types.map(() => (r() < 0.15 ? 0 : pick([1, 2, 5])));
      rows.push({ key, jobIds: [key], scaleFactor: pick([1, 1, 1, 2, 4]), throughput });
      added.push(key);
      changed = true;
    }
    ledger = addRows(ledger, added, 360);
    const gone = rows.filter((x) => x.jobIds.length === 1 && r() < 0.08).map((x) => x.key);
    pairsSeen += rows.filter((x) => x.jobIds.length > 1).length;
    if (gone.length > 0) {
      rows = rows.filter((x) => !x.jobIds.some((j) => gone.includes(j)));
      ledger = removeJobs(ledger, gone);
      changed = true;
    }
    if (r() < 0.03) ledger = copyLedger(ledger); // a restored state: no `credited` log until the next reset
    if (r() < 0.25) {
      ledger = resetLedger(ledger, allocation, now, 360);
      // New space-sharing pairs come with a new allocation, each listed right after its later job (as the engine
      // lists them); the old pairs go.
      const singles = rows.filter((x) => x.jobIds.length === 1);
      rows = [...singles];
      if (r() < 0.5) {
        for (let p = 0; p < 3 && singles.length >= 2; p++) {
          const a = pick(singles);
          const b = pick(singles);
          if (a === b || a.scaleFactor !== b.scaleFactor) continue;
          const key = pairKey(a.key, b.key);
          if (rows.some((x) => x.key === key)) continue;
          const late = Math.max(rows.indexOf(a), rows.indexOf(b));
          rows.splice(late + 1, 0, { key, jobIds: [a.key, b.key], scaleFactor: a.scaleFactor, throughput: a.throughput.map((v, k) => (v > 0 && b.throughput[k]! > 0 ? v + b.throughput[k]! : 0)) });
          ledger = addRows(ledger, [key], 360);
        }
      }
      changed = true;
      const classes = classRows.map((c) => c.map((v) => (r() < 0.2 ? pick([0.5, 1]) : v)));
      const shares = new Map<string, readonly number[]>();
      for (const x of rows) if (r() < 0.9) shares.set(x.key, pick(classes));
      allocation = { gpuTypes: types, shares };
    }
    if (changed) rows = [...rows];
    const input = { round, now, roundDuration: 360, cluster, rows, allocation, ledger, previous, skipZeroPriority: opts.fifo };
    const typeOrder = r() < 0.5 ? types : [...types].reverse();
    const withIndex = planRound({ ...input, typeOrder, index });
    const plain = planRound({ ...input, typeOrder });
    expect(withIndex.plan).toEqual(plain.plan);
    expect(withIndex.leaseOpportunities).toBe(plain.leaseOpportunities);
    expect(withIndex.leaseExtensions).toBe(plain.leaseExtensions);
    if (ledger.credited) indexed++;
    const credits: RunCredit[] = withIndex.plan.assignments.map((a) => ({
      row: a.jobIds.length === 2 ? pairKey(a.jobIds[0]!, a.jobIds[1]!) : a.jobIds[0]!,
      typeIndex: types.indexOf(a.gpuType),
      seconds: pick([360, 360, 180]),
    }));
    ledger = creditRuns(ledger, credits);
    previous = withIndex.plan.assignments;
    now += 360;
  }
  return { indexed, pairsSeen };
}

describe('QueueIndex', () => {
  it('gives the plain planner plans, round for round', () => {
    let indexed = 0;
    let pairs = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.boolean(), fc.constantFrom(1, 2), (seed, fifo, perServer) => {
        const out = scenario(seed, 80, { fifo, perServer });
        indexed += out.indexed;
        pairs += out.pairsSeen;
      }),
      { numRuns: 60 },
    );
    // The scenarios must exercise the index (not only the fallback) and pair rows.
    expect(indexed).toBeGreaterThan(1000);
    expect(pairs).toBeGreaterThan(500);
  });

  it('stays idle through accounting periods whose rows hardly group, then tries again', () => {
    const cluster = makeCluster({ v100: 2, p100: 2, k80: 2 });
    const index = new QueueIndex({ minRows: 0 });
    const mk = (key: string): MechanismRow => ({ key, jobIds: [key], scaleFactor: 1, throughput: [3, 2, 1] });
    const rows = Array.from({ length: 40 }, (_, i) => mk(`j${i}`));
    let ledger = addRows(emptyLedger(types), rows.map((x) => x.key), 360);
    // Every row its own share: 40 groups per type, as many as rows.
    const sparse: Allocation = { gpuTypes: types, shares: new Map(rows.map((x, i) => [x.key, [i / 100, 0.1, 0.1]])) };
    const dense: Allocation = { gpuTypes: types, shares: new Map(rows.map((x) => [x.key, [0.3, 0.1, 0.1]])) };
    let allocation = sparse;
    const plan = () => planRound({ round: 0, now: 0, roundDuration: 360, cluster, rows, allocation, ledger, previous: [], index });
    const used = (): boolean => index.sync({ rows, allocation, ledger, gpuTypes: types, roundDuration: 360 });
    ledger = resetLedger(ledger, undefined, 0, 360);
    plan();
    expect(index.rebuilds).toBe(1);
    expect(used()).toBe(false);
    // The next seven periods are not even tried; the eighth is, and a dense allocation is indexed again.
    allocation = dense;
    for (let p = 1; p <= 7; p++) {
      ledger = resetLedger(ledger, allocation, 3600 * p, 360);
      plan();
    }
    expect(index.rebuilds).toBe(1);
    ledger = resetLedger(ledger, allocation, 3600 * 8, 360);
    plan();
    expect(index.rebuilds).toBe(2);
    expect(used()).toBe(true);
  });

  it('follows arrivals and departures without rebuilding, and rebuilds at a reset', () => {
    const cluster = makeCluster({ v100: 2, p100: 2, k80: 2 });
    const index = new QueueIndex({ minRows: 0, idleWhenSparse: false });
    const mk = (key: string): MechanismRow => ({ key, jobIds: [key], scaleFactor: 1, throughput: [3, 2, 1] });
    let rows = ['a', 'b', 'c', 'd'].map(mk);
    let ledger = addRows(emptyLedger(types), rows.map((x) => x.key), 360);
    const allocation: Allocation = { gpuTypes: types, shares: new Map(rows.map((x) => [x.key, [0.5, 0.25, 0.25]])) };
    ledger = resetLedger(ledger, undefined, 0, 360);
    const plan = () => planRound({ round: 0, now: 0, roundDuration: 360, cluster, rows, allocation, ledger, previous: [], index });
    plan();
    expect(index.rebuilds).toBe(1);
    rows = [...rows.filter((x) => x.key !== 'b'), mk('e')];
    ledger = addRows(ledger, ['e'], 360);
    plan();
    expect(index.rebuilds).toBe(1);
    ledger = resetLedger(ledger, allocation, 3600, 360);
    plan();
    expect(index.rebuilds).toBe(2);
  });
});
