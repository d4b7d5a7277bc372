/**
 * The engine's queue index (src/mechanism/queue-index.ts) is a cache: a saturated run, whose queue grows to
 * thousands of jobs, must give the same result to the bit with and without it, for a policy that runs on the index
 * and one that does not use it below its row threshold alike.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCluster, readThroughputs } from '../../src/io/index.js';
import { getPolicy } from '../../src/policies/registry.js';
import { initSolver } from '../../src/solver/index.js';
import { simulate, type SimulationInput } from '../../src/sim/index.js';

const throughputs = readThroughputs('data/gavel/simulation_throughputs.json');

function input(policy: string, queueIndex: boolean): SimulationInput {
  return {
    cluster: parseCluster('v100:2,p100:2,k80:2'),
    throughputs,
    policy: getPolicy(policy),
    // Six GPUs and 40 jobs an hour: the queue passes 1,024 jobs (the index's threshold) after about a day.
    generate: { rate: 40, limit: 2500 },
    seed: 1,
    maxRounds: 700,
    queueIndex,
  };
}

describe('queue index in the engine', () => {
  beforeAll(async () => {
    await initSolver();
  });

  for (const policy of ['max_min_fairness_perf', 'fifo']) {
    it(`${policy}: a saturated run is the same with and without the index`, async () => {
      const a = await simulate(input(policy, true));
      const b = await simulate(input(policy, false));
      expect(a.result.rounds).toBe(700);
      // Long enough for the queue to pass the threshold.
      expect(a.result.jobs.length - a.result.jobs.filter((j) => j.finishTime !== undefined).length).toBeGreaterThan(1200);
      expect(a.result.jobs).toEqual(b.result.jobs);
      expect(a.result.timeline).toEqual(b.result.timeline);
      const untimed = (s: object) => Object.fromEntries(Object.entries(s).filter(([k]) => !k.endsWith('Seconds')));
      expect(untimed(a.metrics.summary)).toEqual(untimed(b.metrics.summary));
    }, 120_000);
  }
});
