import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeCluster, pairKey, type Allocation, type Assignment } from '../../src/model/index.js';
import {
  addRows,
  computePriorities,
  creditRuns,
  emptyLedger,
  planRound,
  removeJobs,
  resetLedger,
  type MechanismRow,
  type ShareLedger,
} from '../../src/mechanism/index.js';

const types = ['v100', 'k80'];
const alloc = (rows: Record<string, number[]>): Allocation => ({ gpuTypes: types, shares: new Map(Object.entries(rows)) });
const single = (key: string, scaleFactor = 1, throughput = [10, 2]): MechanismRow => ({ key, jobIds: [key], scaleFactor, throughput });
const pair = (a: string, b: string, scaleFactor = 1, throughput = [12, 3]): MechanismRow => {
  const key = pairKey(a, b);
  return { key, jobIds: key.split('+'), scaleFactor, throughput };
};

function seeded(keys: readonly string[]): ShareLedger {
  return resetLedger(addRows(emptyLedger(types), keys, 360), undefined, 10, 360);
}

function plan(opts: {
  rows: MechanismRow[];
  allocation: Allocation;
  ledger?: ShareLedger;
  previous?: Assignment[];
  v100?: number;
  k80?: number;
  perServer?: number;
}) {
  const cluster = makeCluster({ v100: opts.v100 ?? 4, k80: opts.k80 ?? 0 }, opts.perServer ?? 1);
  return planRound({
    round: 0,
    now: 10,
    roundDuration: 360,
    cluster,
    rows: opts.rows,
    allocation: opts.allocation,
    ledger: opts.ledger ?? seeded(opts.rows.map((r) => r.key)),
    previous: opts.previous ?? [],
  });
}

describe('space-sharing pair rows', () => {
  it('a pair has its own priority: its share / the fraction of time the pair row received', () => {
    const rows = [single('a'), single('b'), pair('a', 'b')];
    const x = alloc({ a: [0.2, 0], b: [0.2, 0], 'a+b': [0.6, 0] });
    let ledger = seeded(rows.map((r) => r.key)); // 3 rows x 180 s seeded: worker time 540 per type
    // The pair ran one round: only the pair row is credited, not its jobs' rows.
    ledger = creditRuns(ledger, [{ row: 'a+b', typeIndex: 0, seconds: 360 }]);
    const p = computePriorities(rows, x, ledger, types);
    expect(p.get('a+b')![0]).toBeCloseTo(0.6 / (540 / 900), 12);
    expect(p.get('a')![0]).toBeCloseTo(0.2 / (180 / 900), 12);
    expect(p.get('b')![0]).toBeCloseTo(0.2 / (180 / 900), 12);
    // Zero co-located throughput on k80: priority 0 there.
    expect(p.get('a+b')![1]).toBe(0);
  });

  it('a picked pair excludes both of its jobs; a picked job excludes every pair containing it', () => {
    // Pair first (highest share): a and b run together on one GPU; c gets another; the rows a, b, a+c are skipped.
    const rows = [single('a'), single('b'), pair('a', 'b'), single('c'), pair('a', 'c')];
    let out = plan({ rows, allocation: alloc({ a: [0.1, 0], b: [0.1, 0], 'a+b': [0.9, 0], c: [0.5, 0], 'a+c': [0.05, 0] }), v100: 4 });
    expect(out.plan.assignments.map((x) => x.jobIds.join('+')).sort()).toEqual(['a+b', 'c']);
    // Single a first: a+b and a+c are out; b and c run alone.
    out = plan({ rows, allocation: alloc({ a: [0.9, 0], b: [0.3, 0], 'a+b': [0.2, 0], c: [0.3, 0], 'a+c': [0.1, 0] }), v100: 4 });
    expect(out.plan.assignments.map((x) => x.jobIds.join('+')).sort()).toEqual(['a', 'b', 'c']);
    // One GPU: the pair holds both jobs on that single GPU.
    out = plan({ rows: [single('a'), single('b'), pair('a', 'b')], allocation: alloc({ a: [0, 0], b: [0, 0], 'a+b': [1, 0] }), v100: 1 });
    expect(out.plan.assignments).toEqual([
      { jobIds: ['a', 'b'], gpuType: 'v100', gpus: [0], consolidated: true, leaseExtended: false },
    ]);
  });

  it('gang-schedules a multi-GPU pair on scale GPUs of one type, consolidated when a server holds it', () => {
    const rows = [single('a', 2), single('b', 2), pair('a', 'b', 2)];
    const out = plan({ rows, allocation: alloc({ 'a+b': [1, 0] }), v100: 4, perServer: 2 });
    expect(out.plan.assignments).toHaveLength(1);
    const p = out.plan.assignments[0]!;
    expect(p.jobIds).toEqual(['a', 'b']);
    expect(p.gpus).toHaveLength(2);
    expect(p.consolidated).toBe(true);
  });

  it('extends the lease of a pair that keeps the same GPUs, whatever the order of its ids last round', () => {
    const rows = [single('a'), single('b'), pair('a', 'b'), single('c')];
    const x = alloc({ 'a+b': [0.5, 0], c: [0.5, 0] });
    const prev: Assignment[] = [{ jobIds: ['b', 'a'], gpuType: 'v100', gpus: [2], consolidated: true, leaseExtended: false }];
    const out = plan({ rows, allocation: x, previous: prev, v100: 3 });
    const ab = out.plan.assignments.find((q) => q.jobIds.length === 2)!;
    expect(ab).toMatchObject({ gpus: [2], leaseExtended: true });
    expect(out.leaseExtensions).toBe(1);
    expect(out.leaseOpportunities).toBe(1);
    // The same GPU held by a alone last round is not a lease of the pair: the pair is (re)started.
    const prevSingle: Assignment[] = [{ jobIds: ['a'], gpuType: 'v100', gpus: [0], consolidated: true, leaseExtended: false }];
    const again = plan({ rows, allocation: x, previous: prevSingle, v100: 3 });
    expect(again.plan.assignments.find((q) => q.jobIds.length === 2)!.leaseExtended).toBe(false);
    expect(again.leaseExtensions).toBe(0);
  });

  it('removing a job drops its row and every pair row containing it', () => {
    let ledger = seeded(['a', 'b', 'c', 'a+b', 'b+c', 'a+c']);
    ledger = removeJobs(ledger, ['a']);
    expect([...ledger.jobTime.keys()].sort()).toEqual(['b', 'b+c', 'c']);
    expect([...ledger.deficits.keys()].sort()).toEqual(['b', 'b+c', 'c']);
    // The second job of a pair key too; an id that only prefixes a key's job is not a match.
    ledger = removeJobs(seeded(['b', 'bc', 'c', 'b+c', 'b+cd', 'bc+d']), ['c']);
    expect([...ledger.jobTime.keys()].sort()).toEqual(['b', 'b+cd', 'bc', 'bc+d']);
  });

  it('never puts a job in two assignments nor a GPU in two gangs, with pairs among the rows (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ sf: fc.constantFrom(1, 2), x: fc.double({ min: 0, max: 1, noNaN: true }) }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.record({ i: fc.nat({ max: 7 }), j: fc.nat({ max: 7 }), x: fc.double({ min: 0, max: 1, noNaN: true }) }), { maxLength: 10 }),
        fc.constantFrom(1, 2, 4),
        (specs, pairSpecs, perServer) => {
          const rows: MechanismRow[] = specs.map((s, i) => single(`j${i}`, s.sf));
          const shares: Record<string, number[]> = Object.fromEntries(specs.map((s, i) => [`j${i}`, [s.x / 3, 0]]));
          for (const p of pairSpecs) {
            const a = specs[p.i];
            const b = specs[p.j];
            if (!a || !b || p.i === p.j || a.sf !== b.sf) continue;
            const r = pair(`j${p.i}`, `j${p.j}`, a.sf);
            if (shares[r.key]) continue;
            rows.push(r);
            shares[r.key] = [p.x / 3, 0];
          }
          const out = plan({ rows, allocation: alloc(shares), v100: 6, perServer }).plan.assignments;
          const jobs = new Set<string>();
          const gpus = new Set<number>();
          for (const x of out) {
            const key = x.jobIds.length === 2 ? pairKey(x.jobIds[0]!, x.jobIds[1]!) : x.jobIds[0]!;
            const r = rows.find((q) => q.key === key)!;
            expect(x.gpus).toHaveLength(r.scaleFactor);
            for (const j of x.jobIds) {
              expect(jobs.has(j)).toBe(false);
              jobs.add(j);
            }
            for (const g of x.gpus) {
              expect(gpus.has(g)).toBe(false);
              gpus.add(g);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('placement and fragmentation', () => {
  // v100: 3 servers of 4 GPUs (ids 0-3, 4-7, 8-11).
  const keep = (key: string, gpus: number[]): Assignment => ({ jobIds: [key], gpuType: 'v100', gpus, consolidated: true, leaseExtended: false });

  it('a gang that fits on one server takes the fullest server that can hold it (best fit)', () => {
    // Kept: h1 holds 3 GPUs of server 0 (1 free), h2 holds 2 of server 1 (2 free); server 2 is empty.
    const rows = [single('h1', 3), single('h2', 2), single('one', 1), single('two', 2)];
    const x = alloc({ h1: [0.1, 0], h2: [0.1, 0], one: [0.1, 0], two: [0.1, 0] });
    const out = plan({ rows, allocation: x, v100: 12, perServer: 4, previous: [keep('h1', [0, 1, 2]), keep('h2', [4, 5])] });
    const by = (k: string) => out.plan.assignments.find((q) => q.jobIds[0] === k)!;
    expect(by('h1').leaseExtended && by('h2').leaseExtended).toBe(true);
    // two (2 GPUs) takes the 2 free GPUs of server 1, leaving server 2 whole; one takes the last GPU of server 0.
    expect(by('two').gpus).toEqual([6, 7]);
    expect(by('one').gpus).toEqual([3]);
    expect(by('two').consolidated && by('one').consolidated).toBe(true);
  });

  it('largest gangs are placed first, so small jobs do not take the only whole server', () => {
    // Servers of 4 and 2 GPUs. The 1-GPU jobs have the highest priority, yet the 4-GPU gang gets server 0 whole.
    const rows = [single('s1'), single('s2'), single('big', 4)];
    const x = alloc({ s1: [0.9, 0], s2: [0.9, 0], big: [0.5, 0] });
    const out = plan({ rows, allocation: x, v100: 6, perServer: 4 });
    const by = (k: string) => out.plan.assignments.find((q) => q.jobIds[0] === k)!;
    expect(by('big')).toMatchObject({ gpus: [0, 1, 2, 3], consolidated: true });
    expect([...by('s1').gpus, ...by('s2').gpus].sort((a, b) => a - b)).toEqual([4, 5]);
  });

  it('a gang no server can hold is spread over the emptiest servers, spanning as few as possible', () => {
    // 4 servers of 4. Kept 4-GPU gangs leave free: server 0 {3}, server 1 {6, 7}, server 2 {9, 10, 11}, server 3
    // {14, 15}. A new 4-GPU gang takes server 2's three GPUs and one of server 1 (2 servers), where server order would
    // take 3, 6, 7, 9 (3 servers).
    const rows = [single('k0', 4), single('k1', 4), single('big', 4)];
    const x = alloc({ k0: [0.3, 0], k1: [0.3, 0], big: [0.3, 0] });
    const prev = [keep('k0', [0, 1, 2, 4]), keep('k1', [5, 8, 12, 13])];
    const out = plan({ rows, allocation: x, v100: 16, perServer: 4, previous: prev });
    const big = out.plan.assignments.find((q) => q.jobIds[0] === 'big')!;
    expect([...big.gpus].sort((a, b) => a - b)).toEqual([6, 9, 10, 11]);
    expect(big.consolidated).toBe(false);
    expect(out.leaseExtensions).toBe(2);
  });

  it('with one GPU per server, free GPUs go in server order; leases are claimed per gang size, largest first (Gavel)', () => {
    const rows = [single('a', 2), single('b'), single('c', 3)];
    const x = alloc({ a: [0.5, 0], b: [0.5, 0], c: [0.5, 0] });
    const out = plan({ rows, allocation: x, v100: 6, previous: [keep('b', [1])] });
    const by = (k: string) => out.plan.assignments.find((q) => q.jobIds[0] === k)!;
    expect(by('c').gpus).toEqual([0, 1, 2]);
    expect(by('a').gpus).toEqual([3, 4]);
    // b's GPU went to the 3-GPU gang placed before it: b moves.
    expect(by('b')).toMatchObject({ gpus: [5], leaseExtended: false });
  });
});
