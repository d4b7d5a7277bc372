import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { register as registerSimulate } from '../../src/cli/commands/simulate.js';
import { register as registerCompare } from '../../src/cli/commands/compare.js';
import { ROOT } from '../io/helpers.js';
import { runCommand } from '../io/cli-helpers.js';

const MSR = join(ROOT, 'data/gavel/traces/msr/2869ce.trace');
const SMALL = join(ROOT, 'data/gavel/traces/physical_cluster/small_test.trace');

describe('rondo simulate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-simulate-'));

  it('replays the shipped 2869ce trace like Gavel (unknown jobs dropped and counted) and prints JSON', async () => {
    const r = await runCommand(registerSimulate, [
      'simulate', '--trace', MSR, '--cluster', '36:36:36', '--gpus-per-server', '1', '--round', '360', '--seed', '0',
      '--policy', 'fifo_perf', '--drop-unknown', '--json',
    ]);
    const o = JSON.parse(r.stdout) as Record<string, number | string>;
    for (const k of ['policy', 'jobs', 'windowJobs', 'avgJctHours', 'medianJctHours', 'p99JctHours', 'makespanHours', 'maxRho', 'unfairFraction', 'utilization', 'preemptions', 'wallSeconds']) {
      expect(o).toHaveProperty(k);
    }
    expect(o.jobs).toBe(354); // Gavel keeps 354 of 533 jobs
    expect(o.droppedUnknown).toBe(179);
    // Gavel's own simulator: 7.4627 h average JCT for fifo_perf on this input (../shared/reference/gavel).
    expect(Math.abs((o.avgJctHours as number) / 7.462707 - 1)).toBeLessThan(0.05);
  });

  it('names jobs without throughputs unless --drop-unknown', async () => {
    await expect(runCommand(registerSimulate, ['simulate', '--trace', MSR, '--policy', 'fifo_perf'])).rejects.toMatchObject({
      code: 'E_UNKNOWN_JOB_TYPE',
      message: expect.stringMatching(/179 job\(s\).*--drop-unknown/),
    });
  });

  it('rejects jobs larger than the cluster, or skips and counts them', async () => {
    const args = ['simulate', '--trace', SMALL, '--cluster', 'v100:1,p100:1,k80:1', '--policy', 'fifo_perf'];
    await expect(runCommand(registerSimulate, args)).rejects.toMatchObject({ code: 'E_TOO_LARGE' });
    const r = await runCommand(registerSimulate, [...args, '--skip-too-large', '--json']);
    const o = JSON.parse(r.stdout) as Record<string, number>;
    expect(o.skippedTooLarge).toBeGreaterThan(0);
    expect(Number(o.jobs) + Number(o.skippedTooLarge)).toBe(readFileSync(SMALL, 'utf8').trim().split('\n').length);
  });

  it('writes --out and --jobs-csv, and a summary table without --json', async () => {
    const out = join(dir, 'run.json');
    const csv = join(dir, 'jobs.csv');
    const r = await runCommand(registerSimulate, ['simulate', '--trace', SMALL, '--policy', 'max_min_fairness_perf', '--out', out, '--jobs-csv', csv]);
    expect(r.stdout).toMatch(/avg JCT\s+\d+\.\d+ h/);
    expect(r.stdout).toMatch(/policy\s+max_min_fairness_perf/);
    const doc = JSON.parse(readFileSync(out, 'utf8')) as { summary: { jobs: number }; jobs: unknown[]; utilization: { hourly: unknown[] } };
    expect(doc.jobs).toHaveLength(doc.summary.jobs);
    expect(doc.utilization.hourly.length).toBeGreaterThan(0);
    expect(readFileSync(csv, 'utf8').split('\n')[0]).toBe('job_id,index,job_type,scale_factor,arrival_time,finish_time,jct,rho,preemptions,in_window');
    // Same input, same bytes.
    const first = [readFileSync(out, 'utf8'), readFileSync(csv, 'utf8')];
    await runCommand(registerSimulate, ['simulate', '--trace', SMALL, '--policy', 'max_min_fairness_perf', '--out', out, '--jobs-csv', csv]);
    expect([readFileSync(out, 'utf8'), readFileSync(csv, 'utf8')]).toEqual(first);
  });

  it('generates a seeded workload deterministically and stops at the window', async () => {
    const args = ['simulate', '--generate', '--rate', '3', '--window', '20:40', '--seed', '4', '--policy', 'fifo_perf', '--json'];
    const a = JSON.parse((await runCommand(registerSimulate, args)).stdout) as Record<string, unknown>;
    const b = JSON.parse((await runCommand(registerSimulate, args)).stdout) as Record<string, unknown>;
    expect(a.windowJobs).toBe(20);
    expect(a.completedWindowJobs).toBe(20);
    delete a.wallSeconds;
    delete b.wallSeconds;
    delete a.policySeconds;
    delete b.policySeconds;
    expect(a).toEqual(b);
  });

  it('bad input: one clear error, no output file', async () => {
    const out = join(dir, 'never.json');
    await expect(runCommand(registerSimulate, ['simulate', '--generate', '--rate', '3', '--window', '9:2', '--out', out])).rejects.toMatchObject({ code: 'E_USAGE' });
    // The JCT cap bounds the window's average: no window, no cap; and it must be a positive number of hours.
    await expect(runCommand(registerSimulate, ['simulate', '--generate', '--rate', '3', '--limit', '5', '--jct-cap', '10', '--out', out])).rejects.toMatchObject({ code: 'E_USAGE', problem: expect.stringMatching(/--jct-cap needs --window/) });
    await expect(runCommand(registerSimulate, ['simulate', '--generate', '--rate', '3', '--window', '0:2', '--jct-cap', '-1', '--out', out])).rejects.toMatchObject({ code: 'E_USAGE', problem: 'bad --jct-cap' });
    await expect(runCommand(registerSimulate, ['simulate', '--trace', SMALL, '--generate', '--rate', '1', '--out', out])).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(runCommand(registerSimulate, ['simulate', '--trace', MSR, '--policy', 'nope', '--drop-unknown', '--out', out])).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(existsSync(out)).toBe(false);
  });

  it('an empty trace gives an empty report', async () => {
    const empty = join(dir, 'empty.trace');
    writeFileSync(empty, '');
    const o = JSON.parse((await runCommand(registerSimulate, ['simulate', '--trace', empty, '--json'])).stdout) as Record<string, unknown>;
    expect(o.jobs).toBe(0);
    expect(o.avgJctHours).toBeNull();
  });
});

describe('rondo compare', () => {
  it('runs several policies on the same input and reports ratios to the first', async () => {
    const r = await runCommand(registerCompare, ['compare', '--trace', SMALL, '--policies', 'max_min_fairness,max_min_fairness_perf,fifo_perf']);
    const lines = r.stdout.trim().split('\n');
    expect(lines[1]).toMatch(/policy\s+avg JCT h\s+vs first/);
    expect(lines[3]).toMatch(/^max_min_fairness\s+\S+\s+1\.00x/);
    expect(lines).toHaveLength(6);
    const j = JSON.parse((await runCommand(registerCompare, ['compare', '--trace', SMALL, '--policies', 'fifo,fifo_perf', '--json'])).stdout) as { runs: Array<{ policy: string; jobs: number }> };
    expect(j.runs.map((x) => x.policy)).toEqual(['fifo', 'fifo_perf']);
    expect(j.runs[0]!.jobs).toBe(j.runs[1]!.jobs);
  });
});
