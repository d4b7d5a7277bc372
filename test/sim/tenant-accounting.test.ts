import { beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, type RoundPlan } from '../../src/model/index.js';
import { parseTenants } from '../../src/io/tenants.js';
import { initSolver } from '../../src/solver/index.js';
import { TenantAccounting } from '../../src/sim/tenant-accounting.js';
import type { Policy, PolicySnapshot } from '../../src/policies/types.js';
import { snap } from '../policies/helpers.js';

beforeAll(async () => {
  await initSolver();
});

const idle: Policy = {
  meta: { name: 'none', aliases: [], description: '', heterogeneityAware: false, spaceSharing: false, needsPrices: false, usesSlos: false },
  allocate: (s: PolicySnapshot) => ({ allocation: { gpuTypes: s.cluster.gpuTypes, shares: new Map() } }),
};

function plan(round: number, runs: Array<[string, string, number]>): RoundPlan {
  return { round, start: round * 3600, duration: 3600, assignments: runs.map(([id, t, n]) => ({ jobIds: [id], gpuType: t, gpus: Array.from({ length: n }, (_, i) => i), consolidated: true, leaseExtended: false })) };
}

describe('per-tenant accounting', () => {
  it('measures entitlement, received normalised throughput, rounds below guarantee, borrowed and lent GPU-hours', () => {
    // v100 and k80; a's jobs run 4x slower on k80 (0.25 v100-equivalents per k80 GPU).
    const tree = parseTenants('tenants:\n  - {name: a, guarantee: {v100: 2, k80: 2}}\n  - {name: b, guarantee: {v100: 2}}\n');
    const cluster = makeCluster({ v100: 4, k80: 4 });
    const s = snap({ v100: 4, k80: 4 }, [
      { id: 'a1', t: [4, 1], tenant: 'a' },
      { id: 'a2', t: [4, 1], tenant: 'a', sf: 2 },
      { id: 'b1', t: [1, 1], tenant: 'b' },
    ]);
    const tenantOf = new Map(s.jobs.map((j) => [j.id, j.tenant]));
    const acct = new TenantAccounting(tree, cluster, (id) => tenantOf.get(id), { periodRounds: 2 });
    acct.wrap(idle).allocate(s);
    for (const id of ['a1', 'a2', 'b1']) acct.observer.onJobArrived!(id, 0);
    // Round 0: a runs a1 on a v100 and a2 on 2 k80 (1 + 0.5 = 1.5 of its 2.5 entitled: below); b holds 3 v100s.
    acct.observer.onPlan!(plan(0, [['a1', 'v100', 1], ['a2', 'k80', 2], ['b1', 'v100', 3]]));
    acct.observer.onRound!({ round: 0, start: 0, end: 3600, activeJobs: 3, runningJobs: 3, finishedJobs: 0, busyGpuSeconds: [0, 0] });
    // Round 1: a gets its best use, a2 on 2 v100 + a1 on 1 k80 (2 + 0.25 = 2.25); b has a job but runs nothing.
    acct.observer.onPlan!(plan(1, [['a2', 'v100', 2], ['a1', 'k80', 1]]));
    acct.observer.onRound!({ round: 1, start: 3600, end: 7200, activeJobs: 3, runningJobs: 2, finishedJobs: 0, busyGpuSeconds: [0, 0] });
    const [a, b] = acct.reports();
    // a's entitlement: best use of 2 v100 + 2 k80 by a1 (1 GPU) and a2 (2 GPUs): a2 on the v100s (2), a1 on a k80 (0.25).
    expect(a!.entitlement).toBeCloseTo(2.25, 6);
    expect(a!.receivedNormalizedThroughput).toBeCloseTo((1.5 + 2.25) / 2, 6);
    expect(a!.fractionRoundsBelowGuarantee).toBe(0.5);
    expect(a!.worstPeriodRatio).toBeCloseTo(3.75 / 4.5, 6);
    // b: guaranteed 2 v100, held 3 in round 0: borrowed 1 GPU-hour; a left no v100 unused in round 0 (it used 1 of its 2):
    // the cluster has 0 unguaranteed v100s, so b's extra v100 came from a, who lent 1 GPU-hour.
    expect(b!.borrowedGpuHours).toBeCloseTo(1, 9);
    expect(a!.lentGpuHours).toBeCloseTo(1, 9);
    // a used 2 k80 of its 2 in round 0 and 1 in round 1: nothing borrowed there; in round 1 it held 2 v100 (its own).
    expect(a!.borrowedGpuHours).toBeCloseTo(0, 9);
    expect(a!.gpuHours).toEqual({ v100: 3, k80: 3 });
    expect(b!.fractionRoundsBelowGuarantee).toBe(0.5);
    expect(b!.jobs).toBe(1);
  });
});
