/// <reference lib="dom" />
/**
 * The dashboard across a server restart (issue 24, finding 2), at 1440x900 and 390x844: while the server is down the
 * page says since when its numbers are stale and greys them; after the restart the workers that registered again
 * are shown once (the server retires the old registrations; they are listed as replaced), and the busy-GPU history
 * keeps the heights it had.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { EXAMPLE, waitFor } from '../runtime/harness.js';
import { browserSuite, CHROMIUM, HAVE_CHROMIUM, launch, login, serve, shot } from './helpers.js';
import { expectNoSideScroll } from './page-checks.js';

if (!HAVE_CHROMIUM) console.warn(`restart browser test skipped: no Chromium at ${CHROMIUM}`);

let ctx: BrowserContext | undefined;
const tmp = browserSuite('restart', () => ctx);

describe.skipIf(!HAVE_CHROMIUM)('dashboard across a server restart', () => {
  it('marks stale numbers while the server is down and shows each worker once after it is back', async () => {
    const dir = join(tmp, 'restart');
    mkdirSync(dir, { recursive: true });
    // A long worker timeout: without the server retiring them, old registrations would stay "alive" this long.
    const flags = ['--local-workers', '2', '--local-gpus', 'v100:1,k80:1', '--round', '1', '--worker-timeout', '60'];
    let s = await serve(dir, flags);
    const port = new URL(s.url).port;
    await s.admin.post('/api/v1/jobs', { command: ['python3', EXAMPLE, '--steps', '100000', '--step-seconds', '0.05'], cwd: dir, totalSteps: 100000, gpuTypes: ['k80'] });
    await waitFor('a job to run', async () => (await s.admin.get<{ jobs: Array<{ state: string }> }>('/api/v1/jobs')).jobs.some((j) => j.state === 'running'), 30_000, 100);

    ctx = await launch(join(tmp, 'profile'), { width: 1440, height: 900 });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await login(page, s.url, s.token);
    await page.goto(`${s.url}/#/cluster`);
    await page.waitForSelector('[data-testid=utilisation-chart] svg');
    await page.waitForSelector('.worker [data-slot=busy]');
    expect(await page.$('[data-testid=stale]')).toBeNull();

    s.proc.kill('SIGKILL');
    await s.proc.exited;
    await page.waitForSelector('[data-testid=stale]', { timeout: 60_000 });
    for (const size of [{ width: 1440, height: 900 }, { width: 390, height: 844 }]) {
      await page.setViewportSize(size);
      expect(await page.textContent('[data-testid=stale]')).toMatch(/Server unreachable since \d\d:\d\d:\d\d \S+\./);
      expect(await page.$eval('main.page', (m) => m.classList.contains('stale'))).toBe(true);
      await expectNoSideScroll(page, `server down at ${size.width}`);
      await shot(page, `restart-down-${size.width}`);
    }

    s = await serve(dir, flags, { port: Number(port), token: s.token });
    await page.waitForSelector('[data-testid=stale]', { state: 'detached', timeout: 60_000 });
    // The server retires the two old registrations when the same workers register again: two live, never four.
    const after = await waitFor(
      'the workers to register again',
      async () => {
        const c = await s.admin.get<{ workers: Array<{ state: string; replacedBy: string | null }>; gpus: Record<string, { total: number }> }>('/api/v1/cluster');
        return c.workers.filter((w) => w.replacedBy !== null).length === 2 ? c : undefined;
      },
      30_000,
      200,
    );
    expect(after.workers.filter((w) => w.state === 'alive')).toHaveLength(2);
    expect(after.gpus.k80?.total).toBe(2);
    for (const size of [{ width: 1440, height: 900 }, { width: 390, height: 844 }]) {
      await page.setViewportSize(size);
      await page.waitForFunction(() => /Workers \(2 live\)/.test(document.body.textContent ?? ''), undefined, { timeout: 60_000 });
      expect(await page.$$eval('.worker', (ws) => ws.map((w) => w.querySelector('.worker-head strong')?.textContent))).toHaveLength(2);
      expect(await page.textContent('[data-testid=replaced]')).toMatch(/local-1 w-\d+ → w-\d+/);
      // Busy GPUs are counts: the k80 history never exceeds what one job held, whatever the capacity now.
      const yLabels = await page.$$eval('[data-testid=utilisation-chart] svg text', (ts) => ts.map((t) => t.textContent ?? ''));
      expect(yLabels.some((t) => /%/.test(t))).toBe(false);
      await expectNoSideScroll(page, `server back at ${size.width}`);
      await shot(page, `restart-back-${size.width}`);
    }
    await ctx.close();
    ctx = undefined;
  }, 180_000);
});
