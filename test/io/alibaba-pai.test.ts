import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { register as registerConvert } from '../../src/cli/commands/convert.js';
import { isPaiFolder, readAlibabaPai, readJobs, readThroughputs } from '../../src/io/index.js';
import { isolatedThroughput, jobKey } from '../../src/model/index.js';
import { runCommand } from './cli-helpers.js';
import { ROOT } from './helpers.js';

const FIXTURE = join(ROOT, 'test/io/fixtures/alibaba-pai');
const table = readThroughputs(join(ROOT, 'data/gavel/simulation_throughputs.json'));

describe('Alibaba PAI importer (synthetic fixture in the trace\'s layout)', () => {
  it('reads users as tenants, GPUs, arrivals and run times, and draws job types as Gavel does with a seed', () => {
    expect(isPaiFolder(FIXTURE)).toBe(true);
    const r = readAlibabaPai(FIXTURE, table, { seed: 3 });
    expect(r.jobs.map((j) => j.id)).toEqual(['pai:j01', 'pai:j02', 'pai:j04', 'pai:j07', 'pai:j08']);
    expect(r.jobs.map((j) => j.tenant)).toEqual(['u0a11ce', 'u0a11ce', 'u00b0b0', 'u0ca401', 'u0a11ce']);
    expect(r.jobs.map((j) => j.arrivalTime)).toEqual([0, 100, 300, 500, 600]);
    // j02: a worker task of 2 instances x 100% plus a PS without GPU; j04: one 50% instance; j07: four 50% instances.
    expect(r.jobs.map((j) => j.scaleFactor)).toEqual([1, 2, 1, 4, 3]);
    expect(r.users).toEqual(['u00b0b0', 'u0a11ce', 'u0ca401']);
    expect(r.skipped).toEqual({ 'status Failed': 1, 'status Running': 1, 'no GPU (CPU-only)': 1 });
    // Steps for the recorded run time (first task launch to last task end) on a v100.
    const seconds = [890, 3800, 6590, 80];
    r.jobs.slice(0, 4).forEach((j, i) => {
      const tput = isolatedThroughput(table, 'v100', jobKey(j.jobType, j.scaleFactor));
      expect(tput, j.id).toBeGreaterThan(0);
      expect(j.totalSteps).toBe(Math.round(tput! * seconds[i]!));
    });
    // 3 GPUs: no model of Gavel's table at that scale, so a 1-GPU model and the run time itself.
    const j08 = r.jobs[4]!;
    expect(j08.totalSteps).toBeUndefined();
    expect(j08.durationS).toBe(7000);
    expect(isolatedThroughput(table, 'v100', jobKey(j08.jobType, 1))).toBeGreaterThan(0);
    // The same seed draws the same models; another seed, others.
    expect(readAlibabaPai(FIXTURE, table, { seed: 3 }).jobs.map((j) => j.jobType)).toEqual(r.jobs.map((j) => j.jobType));
    const others = [4, 5, 6, 7].map((seed) => readAlibabaPai(FIXTURE, table, { seed }).jobs.map((j) => j.jobType).join('|'));
    expect(others.some((o) => o !== r.jobs.map((j) => j.jobType).join('|'))).toBe(true);
  });

  it('refuses malformed rows with the file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rondo-pai-'));
    copyFileSync(join(FIXTURE, 'pai_task_table.csv'), join(dir, 'pai_task_table.csv'));
    writeFileSync(join(dir, 'pai_job_table.csv'), 'job_name,inst_id,user,status,start_time,end_time\nj01,i01,u1,Terminated,1000\n');
    expect(() => readAlibabaPai(dir, table)).toThrow(/pai_job_table\.csv:2: 5 comma-separated fields; expected 6/);
    writeFileSync(join(dir, 'pai_job_table.csv'), 'j01,i01,u1,Terminated,soon,2000\n');
    expect(() => readAlibabaPai(dir, table)).toThrow(/pai_job_table\.csv:1:5: bad start_time/);
    writeFileSync(join(dir, 'pai_job_table.csv'), 'j01,i01,u1,Terminated,1,2\nj01,i01,u1,Terminated,1,2\n');
    expect(() => readAlibabaPai(dir, table)).toThrow(/job_name j01 appears twice/);
    expect(() => readAlibabaPai(join(dir, 'nowhere'), table)).toThrow(/pai_job_table\.csv: missing/);
  });

  it('rondo convert <PAI folder> writes a canonical trace with the users as tenants', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rondo-pai-cli-')), 'pai.jsonl');
    await runCommand(registerConvert, ['convert', FIXTURE, out, '--seed', '3']);
    const back = readJobs(out).jobs;
    expect(back.map((j) => [j.id, j.tenant, j.scaleFactor])).toEqual(readAlibabaPai(FIXTURE, table, { seed: 3 }).jobs.map((j) => [j.id, j.tenant, j.scaleFactor]));
    expect(readFileSync(out, 'utf8')).toContain('alibaba-pai (cluster-trace-gpu-v2020, seed 3)');
  });
});
