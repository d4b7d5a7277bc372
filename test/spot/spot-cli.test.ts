import { describe, expect, it } from 'vitest';
import { register as registerSimulate } from '../../src/cli/commands/simulate.js';
import { register as registerCompare } from '../../src/cli/commands/compare.js';
import { runCommand } from '../io/cli-helpers.js';

const SPOT = ['--capacity', 'data/spot/bamboo-gcp-a100-us-east1.csv', '--capacity-loop', '96000', '--prices', 'data/spot/gcp-prices.csv'];

describe('rondo simulate --capacity --prices', () => {
  it('runs on the shipped traces and reports cost, revocations and SLO misses', async () => {
    const r = await runCommand(registerSimulate, [
      'simulate', '--generate', '--rate', '2', '--limit', '8', '--seed', '2', ...SPOT,
      '--checkpoint-interval', '1800', '--checkpoint-cost', '30', '--slo-factors', '2', '--spot-strategy', 'spot', '--json',
    ]);
    const out = JSON.parse(r.stdout) as { completedWindowJobs: number; cost: number; spot: { totalCost: number; jobsWithSlo: number; costByType: Record<string, number> } };
    expect(out.completedWindowJobs).toBe(8);
    expect(out.spot.totalCost).toBeGreaterThan(0);
    expect(out.cost).toBe(out.spot.totalCost);
    expect(out.spot.jobsWithSlo).toBe(8);
    expect(Object.keys(out.spot.costByType)).toEqual(['a100-spot.us-east1']);
  }, 60_000);

  it('compare takes the spot policies by name like any other', async () => {
    const r = await runCommand(registerCompare, [
      'compare', '--policies', 'on-demand-only,spot_only,cheapest,proteus', '--generate', '--rate', '2', '--limit', '5', '--seed', '1', ...SPOT,
      '--checkpoint-interval', '1800', '--slo-factors', '2', '--reprice-threshold', '0.05', '--json',
    ]);
    const out = JSON.parse(r.stdout) as { runs: Array<{ policy: string; completedWindowJobs: number; spot: { costByType: Record<string, number> } }> };
    expect(out.runs.map((x) => x.policy)).toEqual(['on_demand_only', 'spot_only', 'greedy_cheapest', 'spot_deadline']);
    for (const run of out.runs) expect(run.completedWindowJobs, run.policy).toBe(5);
    // The shipped A100 trace is spot only: on_demand_only then has no tier to keep to and runs there too.
    for (const run of out.runs) expect(Object.keys(run.spot.costByType), run.policy).toEqual(['a100-spot.us-east1']);
  }, 120_000);

  it('refuses spot flags without --capacity, and --capacity without a price file', async () => {
    await expect(runCommand(registerSimulate, ['simulate', '--generate', '--rate', '2', '--limit', '2', '--checkpoint-interval', '60'])).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(runCommand(registerSimulate, ['simulate', '--generate', '--rate', '2', '--limit', '2', '--capacity', 'data/spot/bamboo-p3.csv'])).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(runCommand(registerSimulate, ['simulate', '--generate', '--rate', '2', '--limit', '2', ...SPOT, '--spot-strategy', 'cheap'])).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(runCommand(registerSimulate, ['simulate', '--generate', '--rate', '2', '--limit', '2', '--reprice-threshold', '0.1'])).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(runCommand(registerSimulate, ['simulate', '--generate', '--rate', '2', '--limit', '2', ...SPOT, '--reprice-threshold', '-1'])).rejects.toMatchObject({ code: 'E_USAGE' });
  }, 60_000);
});
