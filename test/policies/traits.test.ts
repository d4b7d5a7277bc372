import { describe, expect, it } from 'vitest';
import { getPolicy, listPolicies } from '../../src/policies/index.js';

describe('policy traits', () => {
  it("onlyAllocatedRowsRun is set exactly where Gavel's name rule (FIFO*) applies", () => {
    const metas = listPolicies();
    expect(metas.length).toBeGreaterThan(10);
    // Not Gavel's: the tenant quota policies set it so that quotas (borrowing and lending limits) hold (docs/tenants.md).
    // Nor the spot tier policies: a job kept off a tier must not fill its idle GPUs (docs/spot.md).
    const quotas = new Set(['tenant_quota', 'kueue_quota', 'on_demand_only', 'spot_only', 'spot_deadline', 'greedy_cheapest']);
    for (const m of metas) expect(m.onlyAllocatedRowsRun === true, m.name).toBe(quotas.has(m.name) || m.name.toLowerCase().startsWith('fifo'));
  });

  it('keeps the trait through aliases and POP', () => {
    expect(getPolicy('fifo-aware').meta.onlyAllocatedRowsRun).toBe(true);
    expect(getPolicy('fifo_perf', { partitions: 2 }).meta.onlyAllocatedRowsRun).toBe(true);
    expect(getPolicy('las', { partitions: 2 }).meta.onlyAllocatedRowsRun).not.toBe(true);
  });
});
