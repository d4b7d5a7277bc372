/**
 * The JCT cap: an overloaded run stops once the window's average JCT is provably above the cap. The reported lower
 * bound must never exceed what the full run measures, and a cap the run never reaches must change nothing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCluster, readThroughputs } from '../../src/io/index.js';
import { getPolicy } from '../../src/policies/registry.js';
import { initSolver } from '../../src/solver/index.js';
import { simulate, type SimulationInput } from '../../src/sim/index.js';

const throughputs = readThroughputs('data/gavel/simulation_throughputs.json');

function input(rate: number, extra: Partial<SimulationInput> = {}): SimulationInput {
  return {
    cluster: parseCluster('v100:2,p100:2,k80:2'),
    throughputs,
    policy: getPolicy('max_min_fairness_perf'),
    generate: { rate, limit: 40 },
    seed: 3,
    window: { start: 20, end: 40 },
    ...extra,
  };
}

describe('--jct-cap', () => {
  beforeAll(async () => {
    await initSolver();
  });

  it('stops an overloaded run early with a lower bound that the full run confirms', async () => {
    // Six GPUs and a job every 7.5 minutes on average: far past the knee, the queue only grows.
    const full = await simulate(input(8));
    const fullAvg = full.metrics.summary.avgJctHours!;
    expect(full.metrics.summary.stopReason).toBe('window');
    expect(full.metrics.summary.saturated).toBe(false);
    expect(full.metrics.summary.avgJctLowerBoundHours).toBeCloseTo(fullAvg, 9);

    const cap = fullAvg / 2;
    const capped = await simulate(input(8, { jctCapHours: cap }));
    const s = capped.metrics.summary;
    expect(s.stopReason).toBe('jctCap');
    expect(s.saturated).toBe(true);
    expect(s.avgJctLowerBoundHours!).toBeGreaterThan(cap);
    expect(s.avgJctLowerBoundHours!).toBeLessThanOrEqual(fullAvg + 1e-9);
    expect(s.completedWindowJobs).toBeLessThan(s.windowJobs + 1);
    expect(capped.result.rounds).toBeLessThan(full.result.rounds);
  });

  it('changes nothing when the run stays under the cap', async () => {
    const plain = await simulate(input(0.5));
    const capped = await simulate(input(0.5, { jctCapHours: 1e6 }));
    const { policySeconds: _a, ...a } = plain.metrics.summary;
    const { policySeconds: _b, ...b } = capped.metrics.summary;
    expect(b).toEqual(a);
    expect(b.saturated).toBe(false);
  });
});
