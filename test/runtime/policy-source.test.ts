import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../../src/runtime/server/policy-source.js';
import { RondoError } from '../../src/model/index.js';

describe('rondo serve policy selection', () => {
  it('refuses a space-sharing policy with a RondoError instead of running its pair rows wrong', async () => {
    const err = await loadPolicy('gandiva').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RondoError);
    expect((err as RondoError).code).toBe('E_USAGE');
    expect(String((err as Error).message)).toMatch(/space sharing/);
  });

  it('still loads a policy without space sharing', async () => {
    const p = await loadPolicy('max_min_fairness_perf');
    expect(p.name).toBe('max_min_fairness_perf');
  });
});
