import { describe, expect, it } from 'vitest';
import { getPolicy, listPolicies } from '../../src/policies/index.js';

describe('policy traits', () => {
  it("onlyAllocatedRowsRun is set exactly where Gavel's name rule (FIFO*) applies", () => {
    const metas = listPolicies();
    expect(metas.length).toBeGreaterThan(10);
    for (const m of metas) expect(m.onlyAllocatedRowsRun === true, m.name).toBe(m.name.toLowerCase().startsWith('fifo'));
  });

  it('keeps the trait through aliases and POP', () => {
    expect(getPolicy('fifo-aware').meta.onlyAllocatedRowsRun).toBe(true);
    expect(getPolicy('fifo_perf', { partitions: 2 }).meta.onlyAllocatedRowsRun).toBe(true);
    expect(getPolicy('las', { partitions: 2 }).meta.onlyAllocatedRowsRun).not.toBe(true);
  });
});
