/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The fairness view's tenant quotas (`rondo serve --tenants FILE`) at 1440x900 and 390x844 against a real server
 * with local workers of two GPU types and two tenants' real jobs: each tenant's guarantee, worth, received, borrowed
 * and lent in the table, and over time in a chart per tenant drawn from the server's per-round history; nothing
 * wider than a phone; a tenant sees only its own. Screenshots: test-artifacts/dashboard-tenants-*.png.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/runtime/client/http-client.js';
import { EXAMPLE, waitFor } from '../runtime/harness.js';
import { browserSuite, CHROMIUM, HAVE_CHROMIUM, launch, login, serve, shot, tenantToken, watch } from './helpers.js';
import { expectNoSideScroll } from './page-checks.js';

if (!HAVE_CHROMIUM) console.warn(`tenant quota browser test skipped: no Chromium at ${CHROMIUM}`);

let ctx: BrowserContext | undefined;
const tmp = browserSuite('tenants', () => ctx);

const TREE = `tenants:
  - name: vision
    guarantee: {v100: 1, k80: 1}
  - name: rl
    guarantee: {v100: 1, k80: 1}
    lendingLimit: {v100: 1, k80: 1}
`;

describe.skipIf(!HAVE_CHROMIUM)('tenant quotas in the fairness view', () => {
  it('shows guarantee, worth, received, borrowed and lent per tenant now and over time, on a desktop and a phone', async () => {
    const dir = join(tmp, 'tenants');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'tenants.yaml');
    writeFileSync(file, TREE);
    const s = await serve(dir, ['--local-workers', '2', '--local-gpus', 'v100:2,k80:2', '--round', '1', '--tenants', file]);
    const vision = new ApiClient({ server: s.url, token: await tenantToken(s, 'vision') });
    const long = (jobType: string): Record<string, unknown> => ({ command: ['python3', EXAMPLE, '--steps', '100000', '--step-seconds', '0.05'], cwd: dir, totalSteps: 100000, jobType });
    // Only vision has work: it borrows rl's idle guarantee, which rl lends.
    for (let i = 0; i < 6; i++) await vision.post('/api/v1/jobs', long('ResNet-50 (batch size 64)'));
    await waitFor(
      'rounds in the tenant history with vision borrowing',
      async () => {
        const h = await s.admin.get<{ rows: Array<{ tenant: string; borrowed: number | null; lent: number | null }> }>('/api/v1/tenants/history');
        return h.rows.filter((r) => r.tenant === 'vision' && (r.borrowed ?? 0) > 0).length >= 3;
      },
      60_000,
      200,
    );

    ctx = await launch(join(tmp, 'profile'), { width: 1440, height: 900 });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const seen = watch(page);
    await login(page, s.url, s.token);
    for (const size of [{ width: 1440, height: 900 }, { width: 390, height: 844 }]) {
      await page.setViewportSize(size);
      await page.goto(`${s.url}/#/fairness`);
      await page.waitForSelector('[data-testid=quota-table] tbody tr');
      const rows = await page.$$eval('[data-testid=quota-table] tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')));
      const byName = new Map(rows.map((r) => [r[0]!, r]));
      expect([...byName.keys()].sort()).toEqual(['rl', 'vision']);
      const v = byName.get('vision')!;
      expect(v[1]).toBe('1 v100, 1 k80');
      // Worth: 1 V100 + 1 K80 for ResNet-50 (about 1/7 of a V100) is a little over 1 normalised unit.
      expect(Number(v[2])).toBeGreaterThan(1);
      expect(Number(v[2])).toBeLessThan(1.3);
      expect(Number(v[3])).toBeGreaterThan(Number(v[2]));
      expect(Number(v[4])).toBeGreaterThan(0);
      expect(Number(byName.get('rl')![5])).toBeGreaterThan(0);
      // A chart per tenant over time, with its four series named in the legend.
      for (const t of ['vision', 'rl']) {
        await page.waitForSelector(`[data-testid=quota-chart-${t}] svg text`);
        const text = await page.$eval(`[data-testid=quota-chart-${t}]`, (e) => e.textContent ?? '');
        for (const series of ["guarantee's worth", 'received', 'borrowed GPUs', 'lent GPUs']) expect(text, `${t} at ${size.width}`).toContain(series);
        const clashes = await page.evaluate((id) => {
          const boxes = [...document.querySelectorAll(`[data-testid=${id}] svg text`)].map((e) => ({ s: e.textContent ?? '', b: e.getBoundingClientRect() })).filter((x) => x.s.trim() !== '' && x.b.width > 0);
          const out: string[] = [];
          for (let i = 0; i < boxes.length; i++)
            for (let j = i + 1; j < boxes.length; j++) {
              const a = boxes[i]!.b;
              const b = boxes[j]!.b;
              if (Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1) out.push(`${boxes[i]!.s} / ${boxes[j]!.s}`);
            }
          return out;
        }, `quota-chart-${t}`);
        expect(clashes, `overlapping labels in ${t}'s chart at ${size.width}`).toEqual([]);
      }
      await expectNoSideScroll(page, `fairness at ${size.width}x${size.height}`);
      await shot(page, `tenants-${size.width}`);
    }
    expect(seen.errors).toEqual([]);

    // The tenant sees its own row and chart only.
    const other = await ctx.newPage();
    await login(other, s.url, await tenantToken(s, 'vision'));
    await other.goto(`${s.url}/#/fairness`);
    await other.waitForSelector('[data-testid=quota-table] tbody tr');
    expect(await other.$$eval('[data-testid=quota-table] tbody tr td:first-child', (tds) => tds.map((t) => t.textContent?.trim()))).toEqual(['vision']);
    await other.waitForSelector('[data-testid=quota-chart-vision] svg');
    expect(await other.$('[data-testid=quota-chart-rl]')).toBeNull();
  }, 240_000);
});
