import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The longest files, longest first (seconds on an idle 2-core machine). Without vitest's cache of durations (a clean
 * clone, as in CI) files are ordered by size, which started the 5-minute all-traces test near the end, so it ran on
 * alone for minutes while the other worker was idle. Listed ones start first; the rest keep vitest's order.
 */
const SLOW_FIRST = [
  'test/sim/all-traces.test.ts', // ~310 s
  'test/kube-real/real.test.ts', // ~70 s
  'test/spot/spot-sim.test.ts', // ~60 s
  'test/sim/fidelity.test.ts', // ~45 s
  'test/runtime/e2e.test.ts', // ~45 s
  'test/runtime/crash.test.ts', // ~45 s
  'test/runtime/isolation.test.ts', // ~40 s
];

class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification): number => {
      const i = SLOW_FIRST.findIndex((p) => f.moduleId.endsWith(p));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b)); // stable: the rest keep their order
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // CI has 2 cores; the LP tests are CPU-bound, so more workers only add contention.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    sequence: { sequencer: SlowFirst },
  },
});
