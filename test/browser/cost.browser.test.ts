/// <reference lib="dom" />
/**
 * The cost view (web/src/views/cost.tsx) at 1440x900 and 390x844 against `rondo serve --prices` with a spot and an
 * on-demand GPU type and two tenants' real jobs: cost so far per tenant and per job, the prices in force, nothing
 * wider than a phone, and a tenant who sees only its own jobs. Screenshots: test-artifacts/dashboard-cost-*.png.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/runtime/client/http-client.js';
import { EXAMPLE, waitFor } from '../runtime/harness.js';
import { browserSuite, CHROMIUM, HAVE_CHROMIUM, launch, login, serve, shot, tenantToken, watch } from './helpers.js';
import { expectNoSideScroll } from './page-checks.js';

if (!HAVE_CHROMIUM) console.warn(`cost browser test skipped: no Chromium at ${CHROMIUM}`);

let ctx: BrowserContext | undefined;
const tmp = browserSuite('cost', () => ctx);

/** The text of a table's body cells, row by row. */
async function rows(page: Page, testId: string): Promise<string[][]> {
  return page.$$eval(`[data-testid=${testId}] tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((c) => (c.textContent ?? '').trim())));
}

describe.skipIf(!HAVE_CHROMIUM)('cost view', () => {
  it('shows cost so far per tenant and per job at desktop and phone sizes; a tenant sees its own', async () => {
    const dir = join(tmp, 'cost');
    mkdirSync(dir, { recursive: true });
    const prices = join(dir, 'prices.csv');
    writeFileSync(prices, 'time_s,gpu_type,tier,usd_per_gpu_hour\n0,v100,spot,0.92\n0,v100,on-demand,3.06\n');
    const s = await serve(dir, ['--local-workers', '1', '--local-gpus', 'v100:1:spot,v100:1', '--round', '2', '--prices', prices, '--prices-interval', '1']);
    const aliceToken = await tenantToken(s, 'alice');
    const alice = new ApiClient({ server: s.url, token: aliceToken });
    const bob = new ApiClient({ server: s.url, token: await tenantToken(s, 'bob') });
    const job = (name: string, type: string): Record<string, unknown> => ({ command: ['python3', EXAMPLE, '--steps', '100000', '--step-seconds', '0.05'], cwd: dir, totalSteps: 100000, name, gpuTypes: [type] });
    const a = (await alice.post<{ id: string }>('/api/v1/jobs', job('alice-spot', 'v100-spot'))).id;
    const b = (await bob.post<{ id: string }>('/api/v1/jobs', job('bob-on-demand', 'v100'))).id;
    await waitFor('both jobs billed', async () => {
      const c = await s.admin.get<{ jobs: Array<{ jobId: string; usd: number }> }>('/api/v1/cost');
      return [a, b].every((id) => (c.jobs.find((j) => j.jobId === id)?.usd ?? 0) > 0);
    }, 60_000, 200);

    ctx = await launch(join(tmp, 'profile'), { width: 1440, height: 900 });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const seen = watch(page);
    await login(page, s.url, s.token);
    for (const size of [{ name: 'desktop', width: 1440, height: 900 }, { name: 'phone', width: 390, height: 844 }]) {
      await page.setViewportSize({ width: size.width, height: size.height });
      await page.goto(`${s.url}/#/cost`);
      await page.waitForSelector('[data-testid=cost-tenants] tbody tr:nth-child(2)');
      const tenants = await rows(page, 'cost-tenants');
      expect(tenants.map((r) => r[0]).sort()).toEqual(['alice', 'bob']);
      for (const r of tenants) expect(r[2], `${r[0]} cost`).toMatch(/^\$\d+\.\d+$/);
      // Bob's on-demand GPU costs 3.06/0.92 as much per second as Alice's spot one: his line is first.
      expect(tenants[0]![0]).toBe('bob');
      const jobs = await rows(page, 'cost-jobs');
      expect(jobs.map((r) => r[0]).sort()).toEqual([a, b].sort());
      expect(jobs.find((r) => r[0] === a)![1]).toBe('alice');
      expect(await page.textContent('.price-line')).toMatch(/v100-spot 0\.92.*v100 3\.06|v100 3\.06.*v100-spot 0\.92/);
      await expectNoSideScroll(page, `cost at ${size.width}x${size.height}`);
      await shot(page, `cost-${size.name}`);
    }
    expect(seen.errors).toEqual([]);

    // A tenant: only its own job, and no other tenant's line.
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.click('header.top button.link');
    await login(page, s.url, aliceToken);
    await page.goto(`${s.url}/#/cost`);
    await page.waitForSelector('[data-testid=cost-jobs] tbody tr');
    expect((await rows(page, 'cost-tenants')).map((r) => r[0])).toEqual(['alice']);
    expect((await rows(page, 'cost-jobs')).map((r) => r[0])).toEqual([a]);
    // Signing out and loading the page again aborts a refresh the view may have had in flight: not an error.
    expect(seen.errors.filter((m) => !/\/api\/v1\/cost\S* net::ERR_ABORTED/.test(m))).toEqual([]);
  }, 240_000);
});
