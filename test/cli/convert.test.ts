import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { register } from '../../src/cli/commands/convert.js';
import { parseJobs, readJobs } from '../../src/io/index.js';
import { ROOT } from '../io/helpers.js';
import { runCommand } from '../io/cli-helpers.js';

const SHOCKWAVE = join(ROOT, 'data/shockwave/traces/reproduce', readdirSync(join(ROOT, 'data/shockwave/traces/reproduce'))[0]!);
const MSR = `${ROOT}data/gavel/traces/msr/2869ce.trace`;

describe('rondo convert', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-convert-'));

  it('converts to canonical with a provenance header and back to the same jobs', async () => {
    const out = join(dir, '2869ce.jsonl');
    const r = await runCommand(register, ['convert', MSR, out]);
    expect(r.stdout).toBe(`wrote 533 jobs to ${out} (gavel-msr -> canonical)\n`);
    const text = readFileSync(out, 'utf8');
    expect(JSON.parse(text.split('\n')[0]!)).toEqual({ rondoJobs: 1, source: '2869ce.trace', sourceFormat: 'gavel-msr' });
    expect(parseJobs(text).jobs).toEqual(readJobs(MSR).jobs);
    const back = join(dir, 'back.trace');
    await runCommand(register, ['convert', out, back, '--to', 'msr']);
    expect(readJobs(back).jobs).toEqual(readJobs(MSR).jobs);
  });

  it('says what Gavel 10 columns cannot carry, or refuses with --strict', async () => {
    const out = join(dir, 'sw.trace');
    const r = await runCommand(register, ['convert', SHOCKWAVE, out, '--json']);
    const o = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(o).toMatchObject({ ok: true, from: 'shockwave', to: 'gavel', jobs: 120, lost: ['durationS (120 jobs)', 'mode (120 jobs)'] });
    expect(readJobs(out).format).toBe('gavel');
    const strict = join(dir, 'strict.trace');
    await expect(runCommand(register, ['convert', SHOCKWAVE, strict, '--strict'])).rejects.toMatchObject({ code: 'E_INVALID' });
    expect(existsSync(strict)).toBe(false);
  });

  it('leaves no output file when the input is bad or a job cannot be written', async () => {
    const bad = join(dir, 'bad.trace');
    writeFileSync(bad, 'A3C\tc\t-n\t1\t100\t6\n');
    const out = join(dir, 'never.jsonl');
    await expect(runCommand(register, ['convert', bad, out])).rejects.toMatchObject({ code: 'E_FORMAT', line: 1 });
    await expect(runCommand(register, ['convert', bad, out, '--from', 'msr'])).rejects.toMatchObject({ code: 'E_COLUMNS', line: 1 });
    const durOnly = join(dir, 'dur.jsonl');
    writeFileSync(durOnly, '{"id":"a","jobType":"A3C","scaleFactor":1,"arrivalTime":0,"durationS":100}\n');
    const out2 = join(dir, 'never.trace');
    await expect(runCommand(register, ['convert', durOnly, out2])).rejects.toMatchObject({ code: 'E_INVALID' });
    expect(existsSync(out)).toBe(false);
    expect(existsSync(out2)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await expect(runCommand(register, ['convert', MSR, out, '--to', 'gavel-json'])).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
