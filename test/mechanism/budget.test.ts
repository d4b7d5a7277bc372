/**
 * The change budget (src/mechanism/budget.ts): a round changes the placement of at most `maxChanges` jobs, never uses
 * more GPUs than the cluster has, keeps gangs whole, equals the unbudgeted plan when the budget is large, and still
 * lets every job of a small simulation finish.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeCluster, type Allocation, type Assignment, type ClusterSpec } from '../../src/model/index.js';
import { addRows, countChanges, emptyLedger, planRound, resetLedger, type MechanismRow } from '../../src/mechanism/index.js';
import { parseCluster, readThroughputs } from '../../src/io/index.js';
import { getPolicy } from '../../src/policies/registry.js';
import { initSolver } from '../../src/solver/index.js';
import { simulate } from '../../src/sim/index.js';

const types = ['v100', 'k80'];
const alloc = (rows: Record<string, number[]>): Allocation => ({ gpuTypes: types, shares: new Map(Object.entries(rows)) });

function plan(cluster: ClusterSpec, rows: MechanismRow[], allocation: Allocation, previous: Assignment[], maxChanges?: number) {
  let ledger = addRows(emptyLedger(types), rows.map((r) => r.key), 360);
  ledger = resetLedger(ledger, undefined, 10, 360);
  return planRound({ round: 1, now: 10, roundDuration: 360, cluster, rows, allocation, ledger, previous, ...(maxChanges !== undefined ? { maxChanges } : {}) });
}

function checkValid(cluster: ClusterSpec, rows: MechanismRow[], out: readonly Assignment[]): void {
  const gpus = new Set<number>();
  const jobs = new Set<string>();
  const used = new Map<string, number>();
  for (const a of out) {
    const r = rows.find((q) => q.key === a.jobIds[0])!;
    expect(a.gpus).toHaveLength(r.scaleFactor); // gangs whole
    expect(jobs.has(r.key)).toBe(false);
    jobs.add(r.key);
    used.set(a.gpuType, (used.get(a.gpuType) ?? 0) + a.gpus.length);
    for (const g of a.gpus) {
      expect(gpus.has(g)).toBe(false);
      gpus.add(g);
      const srv = cluster.servers.find((s) => g >= s.firstGpu && g < s.firstGpu + s.gpus)!;
      expect(srv.gpuType).toBe(a.gpuType);
    }
  }
  for (const [t, n] of used) expect(n).toBeLessThanOrEqual(cluster.gpus[t]!);
}

describe('change budget', () => {
  const specs = fc.array(
    fc.record({ sf: fc.constantFrom(1, 2, 4), x0: fc.double({ min: 0, max: 1, noNaN: true }), x1: fc.double({ min: 0, max: 1, noNaN: true }), y0: fc.double({ min: 0, max: 1, noNaN: true }), gone: fc.boolean() }),
    { minLength: 1, maxLength: 14 },
  );

  /** Last round: the unbudgeted plan of another allocation; then some jobs finish and the allocation changes. */
  const scenario = (sp: ReadonlyArray<{ sf: number; x0: number; x1: number; y0: number; gone: boolean }>, perServer: number) => {
    const cluster = makeCluster({ v100: 8, k80: 4 }, perServer);
    const all = sp.map((s, i): MechanismRow => ({ key: `j${i}`, jobIds: [`j${i}`], scaleFactor: s.sf, throughput: [10, 3] }));
    const before = plan(cluster, all, alloc(Object.fromEntries(sp.map((s, i) => [`j${i}`, [s.y0, 1 - s.y0]]))), []).plan.assignments;
    const rows = all.filter((_, i) => !sp[i]!.gone);
    const a = alloc(Object.fromEntries(sp.map((s, i) => [`j${i}`, [s.x0, s.x1]])));
    return { cluster, before, rows, a };
  };

  it('never changes more jobs than the budget, never exceeds capacity, keeps gangs whole', () => {
    fc.assert(
      fc.property(specs, fc.constantFrom(1, 2, 4), fc.integer({ min: 1, max: 6 }), (sp, perServer, budget) => {
        const { cluster, before, rows, a } = scenario(sp, perServer);
        const out = plan(cluster, rows, a, [...before], budget);
        checkValid(cluster, rows, out.plan.assignments);
        const active = new Set(rows.map((r) => r.key));
        const n = countChanges(before, out.plan.assignments, active);
        expect(n).toBeLessThanOrEqual(budget);
        expect(out.changes).toBe(n);
        // Running jobs kept against the plan keep exactly last round's GPUs.
        for (const x of out.plan.assignments) if (x.leaseExtended) expect(before.some((b) => b.jobIds[0] === x.jobIds[0] && b.gpuType === x.gpuType && [...b.gpus].sort().join() === [...x.gpus].sort().join())).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('with a budget at least the unbudgeted changes, the plan is the unbudgeted one', () => {
    fc.assert(
      fc.property(specs, fc.constantFrom(1, 2), (sp, perServer) => {
        const { cluster, before, rows, a } = scenario(sp, perServer);
        const free = plan(cluster, rows, a, [...before]);
        const need = countChanges(before, free.plan.assignments, new Set(rows.map((r) => r.key)));
        const budgeted = plan(cluster, rows, a, [...before], Math.max(1, need));
        expect(budgeted.plan).toEqual(free.plan);
        expect(budgeted.changes).toBe(need);
        expect(plan(cluster, rows, a, [...before], 1e9).plan).toEqual(free.plan);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps running jobs in place once the budget is spent; a waiting job takes a GPU a finished job freed', () => {
    const cluster = makeCluster({ v100: 3, k80: 0 }, 1);
    const row = (k: string): MechanismRow => ({ key: k, jobIds: [k], scaleFactor: 1, throughput: [10, 0] });
    const on = (k: string, g: number): Assignment => ({ jobIds: [k], gpuType: 'v100', gpus: [g], consolidated: true, leaseExtended: false });
    // a, b, c ran; c finished. The allocation now prefers the waiting d and e over a and b.
    const previous = [on('a', 0), on('b', 1), on('c', 2)];
    const rows = [row('a'), row('b'), row('d'), row('e')];
    const a: Allocation = { gpuTypes: types, shares: new Map([['a', [0.1, 0]], ['b', [0.1, 0]], ['d', [0.9, 0]], ['e', [0.9, 0]]]) };
    const free = plan(cluster, rows, a, previous);
    expect(new Set(free.plan.assignments.flatMap((x) => x.jobIds))).toEqual(new Set(['d', 'e', 'a']));
    const one = plan(cluster, rows, a, previous, 1);
    expect(one.changes).toBe(1);
    // One change: one waiting job starts on c's GPU (a finish costs nothing); a and b keep their GPUs.
    const got = new Map(one.plan.assignments.map((x) => [x.jobIds[0], x.gpus[0]]));
    expect(got.get('a')).toBe(0);
    expect(got.get('b')).toBe(1);
    expect(got.get('d') ?? got.get('e')).toBe(2);
    expect(got.size).toBe(3);
  });

  it('caps a plan on free GPUs only (a backfill plan: every placement a start) at N, and marks it when GPUs stay free', () => {
    const cluster = makeCluster({ v100: 8, k80: 0 }, 4);
    const rows = Array.from({ length: 8 }, (_, i): MechanismRow => ({ key: `j${i}`, jobIds: [`j${i}`], scaleFactor: 1, throughput: [10, 0] }));
    const a = alloc(Object.fromEntries(rows.map((r) => [r.key, [1, 0]])));
    const free = plan(cluster, rows, a, []);
    expect(free.plan.assignments).toHaveLength(8);
    expect(free.plan.budgetLimited).toBeUndefined();
    const three = plan(cluster, rows, a, [], 3);
    expect(three.plan.assignments).toHaveLength(3);
    expect(three.changes).toBe(3);
    expect(three.plan.budgetLimited).toBe(true);
    // A budget the plan fits in cuts nothing: no mark.
    expect(plan(cluster, rows, a, [], 8).plan.budgetLimited).toBeUndefined();
    // A row counts each of its jobs (a space-sharing pair: 2): a budget below that places nothing, and an empty plan
    // is not marked (a follow-up plan would be cut the same way).
    const pair = (i: number): MechanismRow => ({ key: `p${i}a+p${i}b`, jobIds: [`p${i}a`, `p${i}b`], scaleFactor: 1, throughput: [10, 0] });
    const pairs = [pair(0), pair(1), pair(2)];
    const pa = alloc(Object.fromEntries(pairs.map((r) => [r.key, [1, 0]])));
    const one = plan(cluster, pairs, pa, [], 1);
    expect(one.plan.assignments).toHaveLength(0);
    expect(one.plan.budgetLimited).toBeUndefined();
    const pairs3 = plan(cluster, pairs, pa, [], 3);
    expect(pairs3.plan.assignments).toHaveLength(1);
    expect(pairs3.plan.budgetLimited).toBe(true);
  });
});

describe('change budget in a simulation', () => {
  beforeAll(async () => {
    await initSolver();
  });

  it('every job still finishes, and no round changes more than the budget', async () => {
    const input = {
      cluster: parseCluster('v100:4,p100:4,k80:4'),
      throughputs: readThroughputs('data/gavel/simulation_throughputs.json'),
      policy: getPolicy('max_min_fairness_perf'),
      generate: { rate: 6, limit: 60 },
      seed: 2,
    };
    // Without a budget, some round starts or moves more than two jobs (else the test below would prove nothing).
    const plans: Assignment[][] = [];
    await simulate({ ...input, observer: { onPlan: (p) => void plans.push([...p.assignments]) } });
    const startsOrMoves = plans.map((p, i) => countChanges(i === 0 ? [] : plans[i - 1]!, p, new Set()));
    expect(Math.max(...startsOrMoves)).toBeGreaterThan(2);
    const budgeted = await simulate({ ...input, maxChanges: 2 });
    expect(budgeted.result.jobs.length).toBe(60);
    expect(budgeted.result.jobs.every((j) => j.finishTime !== undefined)).toBe(true);
    const rounds = budgeted.result.timeline.filter((r) => r.round >= 0);
    expect(rounds.every((r) => r.changes !== undefined && r.changes <= 2)).toBe(true);
  });

  it('keeps space-sharing pairs whole under a budget, and every job finishes', async () => {
    const out = await simulate({
      cluster: parseCluster('v100:2,p100:2,k80:2'),
      throughputs: readThroughputs('data/gavel/simulation_throughputs.json'),
      policy: getPolicy('max_min_fairness_packed'),
      generate: { rate: 4, limit: 30 },
      seed: 1,
      maxChanges: 3,
    });
    expect(out.result.jobs.every((j) => j.finishTime !== undefined)).toBe(true);
    const changes = out.result.timeline.filter((r) => r.round >= 0).map((r) => r.changes!);
    expect(Math.max(...changes)).toBeLessThanOrEqual(3);
    expect(changes.some((c) => c > 0)).toBe(true);
  });
});

describe('--max-changes', () => {
  it('takes a positive integer or none and refuses anything else, naming the flag; auto only with --kube', async () => {
    const { buildWorkload } = await import('../../src/sim/index.js');
    const { parseMaxChanges } = await import('../../src/kube/config.js');
    const base = { generate: true, rate: '4', limit: '5', seed: '0', cluster: 'v100:1,k80:1', round: '360', throughputs: 'data/gavel/simulation_throughputs.json' };
    expect(buildWorkload({ ...base, maxChanges: '12' }).base.maxChanges).toBe(12);
    expect(buildWorkload(base).base.maxChanges).toBeUndefined();
    expect(buildWorkload({ ...base, maxChanges: 'none' }).base.maxChanges).toBeUndefined();
    for (const bad of ['0', '-3', '2.5', 'x', '']) {
      expect(() => buildWorkload({ ...base, maxChanges: bad })).toThrow(/bad --max-changes/);
      expect(() => parseMaxChanges(bad, true)).toThrow(/bad --max-changes/);
      expect(() => parseMaxChanges(bad, false)).toThrow(/bad --max-changes/);
    }
    expect(parseMaxChanges('200', false)).toBe(200);
    expect(parseMaxChanges('200', true)).toBe(200);
    // No write rate to measure without a Kubernetes API server: a clear error, not a silent fallback.
    expect(() => buildWorkload({ ...base, maxChanges: 'auto' })).toThrow(/--max-changes auto is for rondo serve --kube only/);
    expect(() => parseMaxChanges('auto', false)).toThrow(/--max-changes auto needs --kube/);
    expect(parseMaxChanges('auto', true)).toBe('auto');
    expect(parseMaxChanges(undefined, true)).toBe('auto');
    expect(parseMaxChanges(undefined, false)).toBe('none');
    expect(parseMaxChanges('none', true)).toBe('none');
  });
});
