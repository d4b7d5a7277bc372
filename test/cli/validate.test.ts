import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { register } from '../../src/cli/commands/validate.js';
import { main } from '../../src/cli/main.js';
import { RondoError } from '../../src/model/errors.js';
import { HAVE_SHARED, ROOT, SHARED } from '../io/helpers.js';
import { runCommand } from '../io/cli-helpers.js';
import type { JobsSummary } from '../../src/io/index.js';

interface ValidateJson {
  ok: boolean;
  format: string;
  summary: JobsSummary;
  cluster: { gpus: Record<string, number> } | null;
  warnings: string[];
}

const MSR = `${ROOT}data/gavel/traces/msr/2869ce.trace`;
const dir = mkdtempSync(join(tmpdir(), 'rondo-validate-'));

describe('rondo validate', () => {
  it('summarises the shipped msr trace and lists keys without throughputs as warnings', async () => {
    const r = await runCommand(register, ['validate', MSR]);
    expect(r.exitCode).toBeUndefined();
    expect(r.stdout).toMatch(/^format\s+gavel-msr$/m);
    expect(r.stdout).toMatch(/^jobs\s+533$/m);
    expect(r.stdout).toMatch(/^span\s+8141054 s \(94\.2 days\)$/m);
    // Gavel's reference runs drop exactly these 179 jobs (533 -> 354).
    expect(r.stdout).toMatch(/^warning: 179 job\(s\) in \d+ \(job type, scale factor\) key\(s\) have no throughput/m);
    expect(r.stdout).toMatch(/^valid, with 1 warning\(s\)$/m);
  });

  it('prints one JSON object with --json and fails on warnings with --strict', async () => {
    const r = await runCommand(register, ['validate', MSR, '--json', '--strict', '--cluster', '36:36:36']);
    expect(r.exitCode).toBe(1);
    const o = JSON.parse(r.stdout) as ValidateJson;
    expect(o.ok).toBe(false);
    expect(o.format).toBe('gavel-msr');
    expect(o.summary.count).toBe(533);
    expect(o.summary.jobsMissingThroughputs).toBe(179);
    expect(o.summary.tooLarge).toHaveLength(0);
    expect(o.cluster?.gpus).toEqual({ v100: 36, p100: 36, k80: 36 });
    expect(o.warnings).toHaveLength(1);
  });

  it('reports jobs larger than the cluster', async () => {
    const r = await runCommand(register, ['validate', MSR, '--json', '--cluster', 'v100:16,k80:16', '--gpus-per-server', '4']);
    const o = JSON.parse(r.stdout) as ValidateJson;
    expect(o.ok).toBe(true);
    expect(o.summary.tooLarge).toHaveLength(70);
    expect(o.warnings[1]).toMatch(/^70 job\(s\) need more GPUs/);
  });

  it('can skip throughputs and validate a clean trace with exit 0 under --strict', async () => {
    const f = join(dir, 'ok.jsonl');
    writeFileSync(f, '{"id":"a","jobType":"A3C","scaleFactor":1,"arrivalTime":0,"totalSteps":10}\n');
    const r = await runCommand(register, ['validate', f, '--strict', '--no-throughputs']);
    expect(r.exitCode).toBeUndefined();
    expect(r.stdout).toMatch(/^valid$/m);
  });

  it('refuses bad input with a placed RondoError', async () => {
    const f = join(dir, 'bad.trace');
    writeFileSync(f, 'A3C\tc\t-n\t1\t100\t6\t1\nA3C\tc\t-n\t1\tNaN\t6\t1\n');
    await expect(runCommand(register, ['validate', f])).rejects.toThrow(RondoError);
    await expect(runCommand(register, ['validate', f])).rejects.toMatchObject({ code: 'E_NUMBER', line: 2, column: 12 });
    await expect(runCommand(register, ['validate', MSR, '--cluster', 'v100:4,tpu:4'])).rejects.toMatchObject({ code: 'E_UNKNOWN_GPU' });
    await expect(runCommand(register, ['validate', MSR, '--format', 'gavel'])).rejects.toMatchObject({ code: 'E_COLUMNS', line: 1 });
    await expect(runCommand(register, ['validate', MSR, '--gpus-per-server', '4'])).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('exits 2 with one line on stderr through the real CLI entry point', async () => {
    let err = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      err += String(s);
      return true;
    });
    try {
      expect(await main(['node', 'rondo', 'validate', join(dir, 'missing.trace')])).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(err).toBe(`rondo: error: ${join(dir, 'missing.trace')}: file not found [E_IO]\n`);
  });

  it.skipIf(!HAVE_SHARED)('reports 2000 jobs and the span of msr 6214e9 (needs ../shared/data; skipped when absent)', async () => {
    const r = await runCommand(register, ['validate', `${SHARED}data/gavel/traces/msr/seed=0/6214e9.trace`]);
    expect(r.stdout).toMatch(/^jobs\s+2000$/m);
    expect(r.stdout).toMatch(/^span\s+4184082 s \(48\.4 days\)$/m);
  });
});
