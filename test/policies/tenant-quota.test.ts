import { beforeAll, describe, expect, it } from 'vitest';
import { getPolicy, initSolver, tenantProblem } from '../../src/policies/index.js';
import { validateAllocation } from '../../src/model/index.js';
import { parseTenants } from '../../src/io/tenants.js';
import type { PolicySnapshot } from '../../src/policies/types.js';
import { snap, type JobSpec } from './helpers.js';

beforeAll(async () => {
  await initSolver();
});

/** Normalised throughput per tenant (v100-equivalents: s * T[k] / T[v100] summed over time shares). */
function received(s: PolicySnapshot, alloc: { shares: ReadonlyMap<string, readonly number[]> }): Record<string, number> {
  const ref = s.cluster.gpuTypes.indexOf('v100');
  const out: Record<string, number> = {};
  for (const j of s.jobs) {
    const x = alloc.shares.get(j.id) ?? [];
    const u = j.throughput.reduce((acc, t, k) => acc + (j.scaleFactor * t * (x[k] ?? 0)) / j.throughput[ref]!, 0);
    out[j.tenant ?? 'default'] = (out[j.tenant ?? 'default'] ?? 0) + u;
  }
  return out;
}

/** GPUs of each type per tenant. */
function gpus(s: PolicySnapshot, alloc: { shares: ReadonlyMap<string, readonly number[]> }, tenant: string): number[] {
  const out = s.cluster.gpuTypes.map(() => 0);
  for (const j of s.jobs) {
    if (j.tenant !== tenant) continue;
    const x = alloc.shares.get(j.id) ?? [];
    x.forEach((v, k) => (out[k]! += v * j.scaleFactor));
  }
  return out;
}

function many(n: number, spec: JobSpec): JobSpec[] {
  return Array.from({ length: n }, (_, i) => ({ ...spec, id: `${spec.tenant}-${i}` }));
}

function check(s: PolicySnapshot, r: { allocation: { shares: ReadonlyMap<string, readonly number[]> } }): void {
  const sf = new Map(s.jobs.map((j) => [j.id, j.scaleFactor]));
  validateAllocation(r.allocation as never, s.cluster, (id) => sf.get(id)!);
}

// Types v100, k80. Tenant a's jobs run 10x faster on v100; b's jobs only 1.25x (kueue#8902's situation).
const A: JobSpec = { t: [10, 1], tenant: 'a' };
const B: JobSpec = { t: [2, 1.6], tenant: 'b' };
const TWO = `
tenants:
  - name: a
    guarantee: {v100: 2, k80: 2}
  - name: b
    guarantee: {v100: 2, k80: 2}
`;

describe('tenant_quota', () => {
  it('meets each guarantee and splits the gain of trading types equally', () => {
    const tree = parseTenants(TWO);
    const s = snap({ v100: 4, k80: 4 }, [...many(8, A), ...many(8, B)]);
    const r = getPolicy('tenant_quota', { tenants: tree }).allocate(s);
    check(s, r);
    const u = received(s, r.allocation);
    // Entitlements: a 2*1 + 2*0.1 = 2.2, b 2*1 + 2*0.8 = 3.6. Trading y k80 of a for x v100 of b gains
    // x - 0.1y for a and 0.8y - x for b; max-min at y = 2, x = 0.9: both +0.7.
    expect(u.a).toBeCloseTo(2.9, 4);
    expect(u.b).toBeCloseTo(4.3, 4);
    expect(gpus(s, r.allocation, 'a')[0]).toBeCloseTo(2.9, 4);
  });

  it('the count-based baseline gives each exactly its GPUs', () => {
    const tree = parseTenants(TWO);
    const s = snap({ v100: 4, k80: 4 }, [...many(8, A), ...many(8, B)]);
    const r = getPolicy('kueue_quota', { tenants: tree }).allocate(s);
    check(s, r);
    expect(gpus(s, r.allocation, 'a')).toEqual([2, 2]);
    expect(gpus(s, r.allocation, 'b')).toEqual([2, 2]);
    const u = received(s, r.allocation);
    expect(u.a).toBeCloseTo(2.2, 9);
    expect(u.b).toBeCloseTo(3.6, 9);
  });

  it('lends an idle guarantee, within the lender\'s lending limit and the borrower\'s borrowing limit', () => {
    const s = snap({ v100: 4, k80: 4 }, many(8, A));
    for (const policy of ['tenant_quota', 'kueue_quota']) {
      const open = getPolicy(policy, { tenants: parseTenants(TWO) }).allocate(s);
      expect(gpus(s, open.allocation, 'a').map((v) => Math.round(v * 1e6) / 1e6)).toEqual([4, 4]);
      const lend = parseTenants(`${TWO}    lendingLimit: {v100: 1}\n`);
      const r1 = getPolicy(policy, { tenants: lend }).allocate(s);
      check(s, r1);
      expect(gpus(s, r1.allocation, 'a')[0]).toBeCloseTo(3, 6);
      expect(gpus(s, r1.allocation, 'a')[1]).toBeCloseTo(4, 6);
      const borrow = parseTenants(TWO.replace('guarantee: {v100: 2, k80: 2}\n  - name: b', 'guarantee: {v100: 2, k80: 2}\n    borrowingLimit: {k80: 1}\n  - name: b'));
      const r2 = getPolicy(policy, { tenants: borrow }).allocate(s);
      expect(gpus(s, r2.allocation, 'a')[0]).toBeCloseTo(4, 6);
      expect(gpus(s, r2.allocation, 'a')[1]).toBeCloseTo(3, 6);
    }
  });

  it('divides what is not guaranteed by weight, down a nested tree', () => {
    const tree = parseTenants(`
tenants:
  - name: c
    weight: 3
    children:
      - {name: x, weight: 1}
      - {name: y, weight: 2}
  - {name: d, weight: 1}
`);
    const same = { t: [1, 1] };
    const s = snap({ v100: 8, k80: 4 }, [...many(20, { ...same, tenant: 'x' }), ...many(20, { ...same, tenant: 'y' }), ...many(20, { ...same, tenant: 'd' })]);
    const u = received(s, getPolicy('tenant_quota', { tenants: tree }).allocate(s).allocation);
    expect(u.d).toBeCloseTo(3, 4);
    expect(u.x).toBeCloseTo(3, 4);
    expect(u.y).toBeCloseTo(6, 4);
  });

  it('a tenant that cannot use its share leaves the rest to the others', () => {
    const s = snap({ v100: 4, k80: 0 }, [{ t: [1, 1], tenant: 'a', id: 'a0' }, ...many(10, { t: [1, 1], tenant: 'b' })]);
    const u = received(s, getPolicy('tenant_quota').allocate(s).allocation);
    expect(u.a).toBeCloseTo(1, 5);
    expect(u.b).toBeCloseTo(3, 5);
  });

  it('freezes tenants at their own demand and gives the rest by weight', () => {
    const s = snap({ v100: 10, k80: 0 }, [
      ...many(1, { t: [1, 1], tenant: 'a' }),
      ...many(2, { t: [1, 1], tenant: 'b' }),
      ...many(20, { t: [1, 1], tenant: 'c' }),
      ...many(20, { t: [1, 1], tenant: 'd' }),
    ]);
    const tree = parseTenants('tenants:\n  - {name: a}\n  - {name: b}\n  - {name: c, weight: 3}\n  - {name: d, weight: 1}\n');
    const u = received(s, getPolicy('tenant_quota', { tenants: tree }).allocate(s).allocation);
    // Weights 1:1:3:1: a stops at its one job; the other 9 GPUs go 1:3:1 (b's 2 jobs would need more).
    expect(u.a).toBeCloseTo(1, 4);
    expect(u.b).toBeCloseTo(1.8, 4);
    expect(u.c).toBeCloseTo(5.4, 4);
    expect(u.d).toBeCloseTo(1.8, 4);
    // Everyone saturated: each gets its whole demand.
    const all = snap({ v100: 30, k80: 0 }, s.jobs.map((j) => ({ t: [...j.throughput], tenant: j.tenant!, id: j.id })));
    const v = received(all, getPolicy('tenant_quota', { tenants: tree }).allocate(all).allocation);
    expect([v.a, v.b, v.c, v.d].map((x) => Math.round(x! * 1e4) / 1e4)).toEqual([1, 2, 20, 7]);
  });

  it('meets a normalised guarantee in v100-equivalents of the tenant\'s own jobs', () => {
    const tree = parseTenants('tenants:\n  - {name: a, guarantee: {normalized: 3}}\n  - {name: b, weight: 100}\n');
    const s = snap({ v100: 2, k80: 2 }, [...many(6, { t: [2, 1], tenant: 'a' }), ...many(6, { t: [1, 1], tenant: 'b' })]);
    const u = received(s, getPolicy('tenant_quota', { tenants: tree }).allocate(s).allocation);
    // a's best use of the whole cluster is 2 + 2*0.5 = 3: all of it, despite b's weight.
    expect(u.a).toBeGreaterThan(3 - 1e-4);
  });

  it('scales guarantees that cannot all be met by one factor', () => {
    const tree = parseTenants('tenants:\n  - {name: a, guarantee: {normalized: 2}}\n  - {name: b, guarantee: {normalized: 2}}\n');
    const s = snap({ v100: 2, k80: 2 }, [...many(6, { t: [1, 0.25], tenant: 'a' }), ...many(6, { t: [1, 0.25], tenant: 'b' })]);
    const u = received(s, getPolicy('tenant_quota', { tenants: tree }).allocate(s).allocation);
    // Together at most 2 + 0.5 = 2.5 of the 4 guaranteed: each gets 1.25.
    expect(u.a).toBeCloseTo(1.25, 4);
    expect(u.b).toBeCloseTo(1.25, 4);
  });

  it('applies the inner policy: FIFO runs the oldest jobs, SJF the shortest, fair splits evenly', () => {
    const jobs: JobSpec[] = [0, 1, 2].map((i) => ({ id: `a${i}`, t: [1, 1], tenant: 'a', rem: [300, 200, 100][i]! }));
    const s = snap({ v100: 2, k80: 0 }, jobs);
    const run = (policy: string): number[] => {
      const tree = parseTenants(`tenants:\n  - {name: a, policy: ${policy}}\n`);
      const r = getPolicy('tenant_quota', { tenants: tree }).allocate(s);
      return ['a0', 'a1', 'a2'].map((id) => Math.round((r.allocation.shares.get(id)?.[0] ?? 0) * 1e6) / 1e6);
    };
    expect(run('fifo')).toEqual([1, 1, 0]);
    expect(run('sjf')).toEqual([0, 1, 1]);
    for (const v of run('fair')) expect(v).toBeCloseTo(2 / 3, 5);
  });

  it('puts jobs of tenants the tree lacks under extra leaves, and maps jobs onto leaves', () => {
    const tree = parseTenants(TWO);
    const s = snap({ v100: 4, k80: 4 }, [...many(2, A), { t: [1, 1], id: 'z', tenant: 'zzz' }]);
    const tp = tenantProblem(s, tree);
    expect(tp.flat.nodes.map((n) => n.name)).toEqual(['a', 'b', 'zzz']);
    const r = getPolicy('tenant_quota', { tenants: tree }).allocate(s);
    expect(r.allocation.shares.get('z')!.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
  });
});
