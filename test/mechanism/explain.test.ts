import { describe, expect, it } from 'vitest';
import { makeCluster, type Allocation, type Assignment } from '../../src/model/index.js';
import { addRows, creditRuns, emptyLedger, planRound, resetLedger, type MechanismRow } from '../../src/mechanism/index.js';

const types = ['v100', 'k80'];
const alloc = (rows: Record<string, number[]>): Allocation => ({ gpuTypes: types, shares: new Map(Object.entries(rows)) });
const row = (key: string, scaleFactor = 1, throughput = [10, 2]): MechanismRow => ({ key, jobIds: [key], scaleFactor, throughput });

function run(rows: MechanismRow[], allocation: Allocation | undefined, opts: { v100?: number; k80?: number; previous?: Assignment[]; credit?: Array<[string, number, number]> } = {}) {
  const cluster = makeCluster({ v100: opts.v100 ?? 2, k80: opts.k80 ?? 2 }, 2);
  let ledger = addRows(emptyLedger(types), rows.map((r) => r.key), 360);
  ledger = resetLedger(ledger, undefined, 100, 360);
  ledger = creditRuns(ledger, (opts.credit ?? []).map(([r, k, s]) => ({ row: r, typeIndex: k, seconds: s })));
  return planRound({ round: 12, now: 0, roundDuration: 360, cluster, rows, allocation, ledger, previous: opts.previous ?? [] }).plan;
}

describe('explain: why the planner left a job out', () => {
  it('is lazy and invisible: plans compare and serialise as before', () => {
    const p = run([row('a')], alloc({ a: [1, 0] }));
    expect(Object.keys(p)).toEqual(['round', 'start', 'duration', 'assignments']);
    expect(JSON.parse(JSON.stringify(p))).toEqual({ round: 12, start: 0, duration: 360, assignments: p.assignments });
    expect(p.explain!().size).toBe(0);
  });

  it('names a shape no type can hold, a job missing from the allocation, and one with no share', () => {
    // x and y hold both v100s; zero may run only there and has no share of them.
    const rows = [row('x', 1, [10, 0]), row('y', 1, [10, 0]), row('big', 4), row('a100only', 1, [0, 0]), row('late', 1, [10, 0]), row('zero', 1, [10, 0])];
    const p = run(rows, alloc({ x: [0.5, 0], y: [0.5, 0], big: [1, 0], a100only: [1, 0], zero: [0, 0] }));
    const why = p.explain!();
    expect(why.get('big')).toMatchObject({ kind: 'never', text: 'needs 4×v100 or k80; the cluster has 2 v100, 2 k80' });
    expect(why.get('a100only')).toMatchObject({ kind: 'never' });
    expect(why.get('a100only')!.text).toMatch(/none of this cluster's GPU types \(v100, k80\)/);
    expect(why.get('late')!.kind).toBe('no-allocation');
    expect(why.get('zero')!.kind).toBe('no-share');
  });

  it('says which job outranked a waiting one, with target and received shares, and explains preemptions', () => {
    // Three v100-only jobs for two v100 GPUs; c received the most time so far, so it has the lowest priority ratio.
    const rows = [row('a', 1, [10, 0]), row('b', 1, [10, 0]), row('c', 1, [10, 0])];
    const prev: Assignment[] = [{ jobIds: ['c'], gpuType: 'v100', gpus: [0], consolidated: true, leaseExtended: false }];
    const p = run(rows, alloc({ a: [0.6, 0], b: [0.6, 0], c: [0.6, 0] }), { previous: prev, credit: [['c', 0, 720], ['a', 0, 10], ['b', 0, 20]] });
    expect(p.assignments.map((x) => x.jobIds[0]).sort()).toEqual(['a', 'b']);
    const w = p.explain!().get('c')!;
    expect(w.kind).toBe('preempted');
    expect(w.gpuType).toBe('v100');
    expect(w.text).toMatch(/^preempted in round 12: v100 share: target 60%, received \d+%; its 2 v100 GPUs went to jobs with a higher priority ratio \(b: [\d.]+ against [\d.]+\)$/);
    expect(p.explain!().has('a')).toBe(false);
  });

  it('says when a gang found too few GPUs left at its turn', () => {
    // a (1 GPU) ranks first on v100 and takes one of two; big needs both.
    const p = run([row('a', 1, [10, 0]), row('big', 2, [10, 0])], alloc({ a: [1, 0], big: [0.5, 0] }), { credit: [['big', 0, 100]] });
    expect(p.assignments.map((x) => x.jobIds[0])).toEqual(['a']);
    expect(p.explain!().get('big')).toMatchObject({ kind: 'no-room', text: expect.stringMatching(/needs 2×v100 at once, only 1 of 2 were free when its turn came/) });
  });
});
