import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeCluster, type Allocation, type Assignment } from '../../src/model/index.js';
import {
  addRows,
  computePriorities,
  creditRuns,
  emptyLedger,
  planRound,
  resetLedger,
  type MechanismRow,
} from '../../src/mechanism/index.js';

const types = ['v100', 'k80'];
const alloc = (rows: Record<string, number[]>): Allocation => ({ gpuTypes: types, shares: new Map(Object.entries(rows)) });
const row = (key: string, scaleFactor = 1, throughput = [10, 2]): MechanismRow => ({ key, jobIds: [key], scaleFactor, throughput });

describe('priorities', () => {
  it('is share / fraction of time received, 0 without share or throughput, share x 1e9 before any credit', () => {
    let ledger = addRows(emptyLedger(types), ['a', 'b', 'c'], 360);
    const a = alloc({ a: [0.5, 0.5], b: [1, 0], c: [0, 1] });
    // Before a reset the worker time is 0: share x 1e9.
    let p = computePriorities([row('a'), row('b'), row('c', 1, [10, 0])], a, ledger, types);
    expect(p.get('a')).toEqual([0.5e9, 0.5e9]);
    expect(p.get('b')).toEqual([1e9, 0]);
    expect(p.get('c')).toEqual([0, 0]); // zero throughput on k80
    ledger = resetLedger(ledger, undefined, 100, 360); // every row seeded with 180 s, worker time 540 per type
    ledger = creditRuns(ledger, [{ row: 'a', typeIndex: 0, seconds: 360 }]);
    p = computePriorities([row('a'), row('b'), row('d')], a, ledger, types);
    // a on v100: fraction (180 + 360) / (540 + 360) = 0.6 -> 0.5 / 0.6
    expect(p.get('a')![0]).toBeCloseTo(0.5 / 0.6, 12);
    expect(p.get('a')![1]).toBeCloseTo(0.5 / (180 / 540), 12);
    expect(p.get('b')![0]).toBeCloseTo(1 / (180 / 900), 12);
    expect(p.get('d')).toEqual([0, 0]); // not in the allocation
  });

  it('reset accumulates deficits: share x elapsed - time received', () => {
    let ledger = addRows(emptyLedger(types), ['a'], 360);
    ledger = resetLedger(ledger, undefined, 1000, 360);
    ledger = creditRuns(ledger, [{ row: 'a', typeIndex: 0, seconds: 300 }]);
    ledger = resetLedger(ledger, alloc({ a: [0.5, 0.25] }), 3000, 360);
    expect(ledger.deficits.get('a')![0]).toBeCloseTo(0.5 * 2000 - 300, 9);
    expect(ledger.deficits.get('a')![1]).toBeCloseTo(0.25 * 2000 - 0, 9);
    expect(ledger.jobTime.get('a')).toEqual([180, 180]);
    expect(ledger.workerTime).toEqual([180, 180]);
    expect(ledger.lastReset).toBe(3000);
  });
});

function plan(opts: {
  perServer?: number;
  rows: MechanismRow[];
  allocation: Allocation | undefined;
  previous?: Assignment[];
  skipZeroPriority?: boolean;
  v100?: number;
  k80?: number;
}) {
  const cluster = makeCluster({ v100: opts.v100 ?? 4, k80: opts.k80 ?? 4 }, opts.perServer ?? 1);
  let ledger = addRows(emptyLedger(types), opts.rows.map((r) => r.key), 360);
  ledger = resetLedger(ledger, undefined, 10, 360);
  return planRound({
    round: 0,
    now: 10,
    roundDuration: 360,
    cluster,
    rows: opts.rows,
    allocation: opts.allocation,
    ledger,
    previous: opts.previous ?? [],
    ...(opts.skipZeroPriority ? { skipZeroPriority: true } : {}),
  });
}

describe('planRound', () => {
  it('gang-schedules all GPUs of a job on one type, consolidated when a server can hold it', () => {
    const rows = [row('big', 4), row('small', 1)];
    const a = alloc({ big: [1, 0], small: [0, 1] });
    const spread = plan({ rows, allocation: a }).plan.assignments;
    const big = spread.find((x) => x.jobIds[0] === 'big')!;
    expect(big.gpuType).toBe('v100');
    expect(big.gpus).toHaveLength(4);
    expect(big.consolidated).toBe(false); // 1 GPU per server
    const packed = plan({ rows, allocation: a, perServer: 4 }).plan.assignments;
    expect(packed.find((x) => x.jobIds[0] === 'big')!.consolidated).toBe(true);
    expect(packed.find((x) => x.jobIds[0] === 'small')!.gpuType).toBe('k80');
  });

  it('prefers a server that can hold the whole gang over filling partly used ones', () => {
    // 2 GPUs per server: x keeps GPUs 1 and 2 (spread over servers 0 and 1); y goes whole to server 2, not to 0 and 3.
    const rows = [row('x', 2), row('y', 2)];
    const a = alloc({ x: [1, 0], y: [1, 0] });
    const prev: Assignment[] = [{ jobIds: ['x'], gpuType: 'v100', gpus: [1, 2], consolidated: false, leaseExtended: false }];
    const out = plan({ rows, allocation: a, previous: prev, perServer: 2, v100: 6 }).plan.assignments;
    const y = out.find((q) => q.jobIds[0] === 'y')!;
    expect(y.gpus).toEqual([4, 5]);
    expect(y.consolidated).toBe(true);
    expect(out.find((q) => q.jobIds[0] === 'x')!).toMatchObject({ gpus: [1, 2], leaseExtended: true, consolidated: false });
  });

  it('picks by priority; a job that does not fit waits while smaller ones use the GPUs', () => {
    const rows = [row('a', 3), row('b', 2), row('c', 1)];
    const a = alloc({ a: [0.9, 0], b: [0.5, 0], c: [0.1, 0] });
    const out = plan({ rows, allocation: a, v100: 4, k80: 0 }).plan.assignments;
    expect(out.map((x) => x.jobIds[0]).sort()).toEqual(['a', 'c']);
  });

  it('keeps a job on the same GPUs when it runs again on the same type (lease extension)', () => {
    const rows = [row('a'), row('b')];
    const a = alloc({ a: [1, 0], b: [1, 0] });
    const prev: Assignment[] = [{ jobIds: ['b'], gpuType: 'v100', gpus: [3], consolidated: true, leaseExtended: false }];
    const out = plan({ rows, allocation: a, previous: prev });
    const b = out.plan.assignments.find((x) => x.jobIds[0] === 'b')!;
    expect(b.gpus).toEqual([3]);
    expect(b.leaseExtended).toBe(true);
    expect(out.plan.assignments.find((x) => x.jobIds[0] === 'a')!.leaseExtended).toBe(false);
    expect(out.leaseExtensions).toBe(1);
    expect(out.leaseOpportunities).toBe(1);
  });

  it('does not start jobs missing from the allocation, and FIFO skips zero priority', () => {
    const rows = [row('a'), row('new')];
    const a = alloc({ a: [1, 0] });
    expect(plan({ rows, allocation: a }).plan.assignments.map((x) => x.jobIds[0])).toEqual(['a']);
    // Zero share on k80: work-conserving policies still use idle k80s, FIFO does not.
    const z = alloc({ a: [0, 0], b: [1, 0] });
    const r2 = [row('a'), row('b')];
    expect(plan({ rows: r2, allocation: z, v100: 1, k80: 1 }).plan.assignments.map((x) => x.jobIds[0]).sort()).toEqual(['a', 'b']);
    expect(plan({ rows: r2, allocation: z, v100: 1, k80: 1, skipZeroPriority: true }).plan.assignments.map((x) => x.jobIds[0])).toEqual(['b']);
  });

  it('never double-books a GPU or a job and respects every gang size (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ sf: fc.constantFrom(1, 2, 4), x0: fc.double({ min: 0, max: 1, noNaN: true }), x1: fc.double({ min: 0, max: 1, noNaN: true }), t1: fc.constantFrom(0, 2) }), { maxLength: 12 }),
        fc.constantFrom(1, 2, 4),
        fc.array(fc.nat({ max: 11 }), { maxLength: 6 }),
        (specs, perServer, prevIdx) => {
          const rows = specs.map((s, i) => row(`j${i}`, s.sf, [10, s.t1]));
          const a = alloc(Object.fromEntries(specs.map((s, i) => [`j${i}`, [s.x0 / 2, s.x1 / 2]])));
          // A plausible previous round: the first listed jobs on disjoint v100 GPUs.
          const previous: Assignment[] = [];
          let next = 0;
          for (const i of new Set(prevIdx)) {
            const r = rows[i];
            if (!r || next + r.scaleFactor > 6) continue;
            previous.push({ jobIds: [r.key], gpuType: 'v100', gpus: Array.from({ length: r.scaleFactor }, (_, g) => next + g), consolidated: false, leaseExtended: false });
            next += r.scaleFactor;
          }
          const cluster = makeCluster({ v100: 6, k80: 5 }, perServer);
          const out = plan({ rows, allocation: a, perServer, previous, v100: 6, k80: 5 }).plan.assignments;
          const gpus = new Set<number>();
          const jobs = new Set<string>();
          for (const x of out) {
            const r = rows.find((q) => q.key === x.jobIds[0])!;
            expect(x.gpus).toHaveLength(r.scaleFactor);
            expect(jobs.has(r.key)).toBe(false);
            jobs.add(r.key);
            for (const g of x.gpus) {
              expect(gpus.has(g)).toBe(false);
              gpus.add(g);
              const srv = cluster.servers.find((s) => g >= s.firstGpu && g < s.firstGpu + s.gpus)!;
              expect(srv.gpuType).toBe(x.gpuType);
            }
            expect(r.throughput[types.indexOf(x.gpuType)]).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
