/**
 * The built CLI (dist/, worker threads loading compiled JS): a sweep, its report, Ctrl-C and kill -9 mid-sweep.
 * Skips when dist/ is missing or older than the sweep sources (run `npm run build`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve('.');
const bin = join(root, 'bin', 'rondo.js');
const built = join(root, 'dist', 'sweep', 'worker.js');
const srcDir = join(root, 'src', 'sweep');
const fresh =
  existsSync(built) &&
  readdirSync(srcDir).every((f) => statSync(join(srcDir, f)).mtimeMs <= statSync(join(root, 'dist', 'sweep', f.replace(/\.ts$/, '.js'))).mtimeMs);
if (!fresh) console.warn('CLI sweep test skipped: dist/ is missing or older than src/sweep (run npm run build)');

const tmp = mkdtempSync(join(tmpdir(), 'rondo-sweep-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const GRID = ['--policies', 'las,las-aware', '--rates', '1,3', '--seeds', '0-1', '--generate', '--limit', '10', '--cluster', 'v100:2,p100:2,k80:2'];

function rondo(args: string[]) {
  // A sweep of LP points on a loaded 2-core machine can take minutes.
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 240_000 });
}

/** Starts a sweep and signals it once `after` points have been reported on stderr; resolves with its exit. */
function interruptAfter(args: string[], after: number, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      const n = (stderr.match(/points, /g) ?? []).length;
      if (!sent && n >= after) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on('exit', (code) => done({ code, stderr }));
  });
}

describe.skipIf(!fresh)('rondo sweep (built CLI)', () => {
  it('runs on worker threads, resumes, and reports', () => {
    const out = join(tmp, 'a');
    const r = rondo(['sweep', ...GRID, '--out', out, '--jobs', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/8 points \(8 run now, 0 already done\)/);
    expect(r.stderr).toMatch(/sweep: 8\/8 points/);
    const again = rondo(['sweep', ...GRID, '--out', out, '--jobs', '2']);
    expect(again.stdout).toMatch(/8 points \(0 run now, 8 already done\)/);
    // Where the time went: summed over the points run now, and per point in the log; aware LAS solves LPs.
    expect(r.stdout).toMatch(/in [\d.]+ s \(points summed [\d.]+ s, [\d.]+ s of it in the LP solver\)/);
    expect(again.stdout).not.toMatch(/points summed/);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; wallSeconds: number; lpSeconds: number });
    expect(log).toHaveLength(8);
    for (const e of log) {
      expect(e.lpSeconds).toBeGreaterThanOrEqual(0);
      expect(e.lpSeconds).toBeLessThan(e.wallSeconds);
      if (e.key.startsWith('las-aware')) expect(e.lpSeconds).toBeGreaterThan(0);
    }
    const rep = rondo(['report', out, '-o', join(tmp, 'r.html')]);
    expect(rep.status, rep.stderr).toBe(0);
    expect(readFileSync(join(tmp, 'r.html'), 'utf8')).toContain('<svg');
    const bad = rondo(['sweep', ...GRID, '--seeds', '7', '--out', out]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^rondo: error: .*different sweep/);
  }, 600_000);

  it('Ctrl-C stops the sweep with finished points only; a rerun completes it', async () => {
    const out = join(tmp, 'int');
    const r = await interruptAfter(['sweep', ...GRID, '--out', out, '--jobs', '2'], 1, 'SIGINT');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/interrupted: \d+ of 8 points done/);
    const files = readdirSync(join(out, 'points'));
    expect(files.length).toBeLessThan(8);
    expect(files.every((f) => f.endsWith('.json') && !f.startsWith('.'))).toBe(true);
    const rest = rondo(['sweep', ...GRID, '--out', out]);
    expect(rest.stdout).toMatch(new RegExp(`8 points \\(${8 - files.length} run now, ${files.length} already done\\)`));
  }, 300_000);

  it('kill -9 mid-sweep leaves only whole point files', async () => {
    const out = join(tmp, 'kill');
    await interruptAfter(['sweep', ...GRID, '--out', out, '--jobs', '2'], 2, 'SIGKILL');
    for (const f of readdirSync(join(out, 'points')).filter((n) => !n.endsWith('.tmp'))) {
      expect(() => JSON.parse(readFileSync(join(out, 'points', f), 'utf8'))).not.toThrow();
    }
    const rest = rondo(['sweep', ...GRID, '--out', out]);
    expect(rest.status, rest.stderr).toBe(0);
    expect(readdirSync(join(out, 'points')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toHaveLength(8);
  }, 300_000);
});
