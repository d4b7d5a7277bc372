/**
 * Rondo against Gavel's own simulator on the stored reference runs (cheap cases only; `npm run bench:fidelity`
 * runs them all). Skipped with a message when ../shared is absent.
 */
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { CASES, referenceDir, runCase } from '../../bench/fidelity/cases.js';

const root = resolve(import.meta.dirname, '..', '..');
const ref = referenceDir(root);
const cheap = CASES.filter((c) => c.target && c.cost <= 10);

describe.skipIf(!ref)('fidelity against Gavel reference outputs', () => {
  for (const c of cheap) {
    it(`${c.run}${c.generate ? ' (jobs regenerated with --gavel-rng)' : ''}: average JCT within 5% of Gavel, per-job JCTs correlated`, async () => {
      const r = await runCase(root, ref!, c);
      if (r.status === 'skipped') {
        console.warn(`fidelity ${c.run}: skipped (${r.reason})`);
        return;
      }
      expect(Math.abs(r.avgJctError!)).toBeLessThanOrEqual(0.05);
      expect(r.jobsCompared).toBeGreaterThan(0);
      expect(r.pearson!).toBeGreaterThan(0.9);
    });
  }
});

if (!ref) {
  describe('fidelity against Gavel reference outputs', () => {
    it.skip('skipped: ../shared/reference/gavel is not in this checkout', () => {});
  });
}
