import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { register as registerSimulate } from '../../src/cli/commands/simulate.js';
import { register as registerCompare } from '../../src/cli/commands/compare.js';
import { register as registerSweep } from '../../src/cli/commands/sweep.js';
import { runCommand } from '../io/cli-helpers.js';

const GEN = ['--generate', '--rate', '4', '--limit', '12', '--multi-gpu', '--cluster', 'v100:16,p100:16,k80:16', '--quiet'];

describe('--partitions (POP)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-partitions-'));

  it('rejects k < 1 and non-integers in simulate, compare and sweep, before running anything', async () => {
    for (const k of ['0', '-2', '1.5', 'x', '']) {
      await expect(runCommand(registerSimulate, ['simulate', ...GEN, '--partitions', k])).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/--partitions/) });
      await expect(runCommand(registerCompare, ['compare', '--policies', 'fifo_perf', ...GEN, '--partitions', k])).rejects.toMatchObject({ code: 'E_USAGE' });
      await expect(runCommand(registerSweep, ['sweep', '--policies', 'fifo_perf', ...GEN, '--partitions', k, '--out', join(dir, 'never')])).rejects.toMatchObject({
        code: 'E_USAGE',
      });
    }
    await expect(runCommand(registerSweep, ['sweep', '--policies', 'fifo_perf', ...GEN, '--vary', 'partitions=1,0', '--out', join(dir, 'never')])).rejects.toMatchObject({
      code: 'E_USAGE',
    });
  });

  it('runs a packed policy through POP, records k, and stays deterministic', async () => {
    const out = join(dir, 'pop.json');
    const args = ['simulate', ...GEN, '--policy', 'max_min_fairness_packed', '--partitions', '2', '--out', out];
    await runCommand(registerSimulate, args);
    const first = readFileSync(out, 'utf8');
    const doc = JSON.parse(first) as { settings: { partitions?: number }; summary: { completedWindowJobs: number } };
    expect(doc.settings.partitions).toBe(2);
    expect(doc.summary.completedWindowJobs).toBe(12);
    await runCommand(registerSimulate, args);
    expect(readFileSync(out, 'utf8')).toBe(first);
    // k = 1 is the plain policy: no `partitions` in the settings.
    await runCommand(registerSimulate, ['simulate', ...GEN, '--policy', 'max_min_fairness_packed', '--partitions', '1', '--out', out]);
    expect((JSON.parse(readFileSync(out, 'utf8')) as { settings: object }).settings).not.toHaveProperty('partitions');
  });

  it('compare runs every policy with the same k', async () => {
    const r = await runCommand(registerCompare, ['compare', '--policies', 'max_min_fairness_perf,finish_time_fairness_perf', ...GEN, '--partitions', '3', '--json']);
    expect(r.stdout).toMatch(/max_min_fairness_perf/);
    expect(r.stdout).toMatch(/finish_time_fairness_perf/);
  });
});
