/// <reference lib="dom" />
/**
 * Issue 24, at 1440x900 and 390x844 against `rondo serve --local-workers 2 --local-gpus v100:2,k80:2` with two tenants:
 * the Heterogeneity view (GPUs held against effective use per type and tenant over time, queued demand, running jobs
 * against their best type), the job page's comparison with the best type, the submit form's ρ per GPU type, chart
 * time axes in the dashboard's one time format with its zone, and dark mode on the new view. Jobs are ResNet-50s (a
 * type the throughput table knows: a V100 is several times a K80) that sleep, so their speeds are the table's.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/runtime/client/http-client.js';
import { waitFor } from '../runtime/harness.js';
import { browserSuite, CHROMIUM, HAVE_CHROMIUM, launch, login, serve, shot, tenantToken, watch } from './helpers.js';
import { expectChartLabelsApart, expectFits, expectTimeLabels } from './page-checks.js';

if (!HAVE_CHROMIUM) console.warn(`heterogeneity browser test skipped: no Chromium at ${CHROMIUM}`);

const SIZES = [
  { name: 'desktop', width: 1440, height: 900 },
  { name: 'phone', width: 390, height: 844 },
] as const;

interface Het {
  total: { raw: number[]; effective: number[]; queued: number[] };
  jobs: Array<{ id: string; gpuType: string; ratio: number | null }>;
}

let ctx: BrowserContext | undefined;
const tmp = browserSuite('heterogeneity', () => ctx);

describe.skipIf(!HAVE_CHROMIUM)('heterogeneity view at desktop and phone sizes', () => {
  it('shows held against effective use by type and tenant with queued demand, and each job against its best type', async () => {
    const dir = join(tmp, 'het');
    mkdirSync(dir, { recursive: true });
    const s = await serve(dir, ['--local-workers', '2', '--local-gpus', 'v100:2,k80:2', '--round', '2']);
    const alice = new ApiClient({ server: s.url, token: await tenantToken(s, 'alice') });
    const bob = new ApiClient({ server: s.url, token: await tenantToken(s, 'bob') });
    const resnet = (name: string, scaleFactor = 1): Record<string, unknown> => ({
      command: ['python3', '-c', 'import time; time.sleep(900)'],
      cwd: dir,
      name,
      totalSteps: 1_000_000,
      jobType: 'ResNet-50 (batch size 64)',
      scaleFactor,
    });
    // Ten GPUs asked for, eight there: some jobs run on K80s (below their best type), some wait.
    for (let i = 0; i < 3; i++) await alice.post('/api/v1/jobs', resnet(`alice-${i}`));
    for (let i = 0; i < 3; i++) await bob.post('/api/v1/jobs', resnet(`bob-${i}`));
    for (let i = 0; i < 2; i++) await bob.post('/api/v1/jobs', resnet(`bob-pair-${i}`, 2));
    const het = await waitFor(
      'a job on a K80 and a job waiting',
      async () => {
        const h = await s.admin.get<Het>('/api/v1/heterogeneity');
        const n = h.total.raw.length - 1;
        return n >= 0 && h.jobs.some((j) => j.gpuType === 'k80' && j.ratio !== null && j.ratio < 0.7) && h.total.queued[n]! > 0 ? h : undefined;
      },
      60_000,
      200,
    );
    const onK80 = het.jobs.find((j) => j.gpuType === 'k80')!;
    expect(onK80.ratio).toBeGreaterThan(0);

    ctx = await launch(join(tmp, 'profile'), { width: 1440, height: 900 });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const seen = watch(page);
    await login(page, s.url, s.token);

    for (const size of SIZES) {
      await page.setViewportSize({ width: size.width, height: size.height });
      const where = (v: string): string => `${v} at ${size.width}x${size.height}`;

      await page.goto(`${s.url}/#/heterogeneity`);
      // Every view's link is on screen, the new one included.
      expect(await page.isVisible('header.top nav a[href="#/heterogeneity"]')).toBe(true);
      for (const id of ['type-k80', 'type-v100', 'tenant-alice', 'tenant-bob']) await page.waitForSelector(`[data-testid=${id}] svg text`);
      // The K80's effective use is below what it holds, in numbers, and queued demand is drawn.
      const k80Now = (await page.textContent('[data-testid=type-k80] [data-testid=now]'))!;
      const [, held, , eff] = /now: (\d+) held of (\d+), ([\d.]+) effective/.exec(k80Now) ?? [];
      expect(Number(held), where('k80 held')).toBeGreaterThan(0);
      expect(Number(eff), where('k80 effective')).toBeLessThan(Number(held));
      expect(await page.textContent('[data-testid=total-now]')).toMatch(/Whole cluster now: \d+ of 8 GPUs held, worth [\d.]+ GPUs of each job's best type \(\d+%\); \d+ GPUs queued\./);
      const legend = await page.$$eval('[data-testid=tenant-bob] svg text', (ts) => ts.map((t) => t.textContent));
      expect(legend).toEqual(expect.arrayContaining(['held', 'effective', 'queued']));
      // Running jobs against their best type, slowest first: a K80 job leads, below 100%. (Jobs move between
      // rounds, two seconds apart here, so the first row is read as it is now.)
      await page.waitForFunction(
        () => {
          const r = document.querySelector('[data-testid=het-jobs] tbody tr:first-child');
          return r !== null && Number(r.querySelector('[data-testid=ratio]')?.textContent?.replace('%', '')) < 70;
        },
        undefined,
        { timeout: 60_000 },
      );
      expect(await page.textContent('[data-testid=het-jobs] tbody tr:first-child td[data-label="Runs on"]')).toContain('k80');
      await expectFits(page, where('heterogeneity'));
      for (const id of ['type-k80', 'type-v100', 'tenant-alice', 'tenant-bob']) await expectChartLabelsApart(page, id, where(`heterogeneity ${id}`));
      await expectTimeLabels(page, 'type-k80', where('heterogeneity'));
      await shot(page, `heterogeneity-${size.name}`);

      // The job page: the K80 job's speed against its best type, written out.
      await page.goto(`${s.url}/#/jobs/${onK80.id}`);
      await page.waitForSelector('[data-testid=heterogeneity]');
      const text = (await page.textContent('[data-testid=heterogeneity]'))!;
      // Between rounds it may have moved: either it runs below its best type, or it says what its best type is.
      expect(text).toMatch(/Runs on k80 at [\d.]+ steps\/s \(table\): \d+% of its best type, v100|Runs on v100, its best allowed type|best type is v100/);
      await page.waitForSelector('[data-testid=timeline-chart] svg text');
      await expectTimeLabels(page, 'timeline-chart', where('job timeline'));
      // Finding 8: the agent's log lines number attempts as the attempts table does (with the server's id beside).
      // The job moves between 2 s rounds, and a new attempt's log line can arrive before the table (refreshed every
      // 1.5 s) lists it: such a line keeps the bare id until then. So: some line is numbered, and every line about an
      // attempt the table lists says the table's number and that attempt's id.
      await page.waitForSelector('[data-testid=logs] .log-system');
      await page.waitForFunction(
        () => {
          const noOf = new Map(
            [...document.querySelectorAll('[data-testid=attempts-table] tbody tr td:first-child')].map((e) => [/attempt id (\d+)/.exec(e.getAttribute('title') ?? '')?.[1], e.textContent]),
          );
          const lines = [...document.querySelectorAll('[data-testid=logs] .log-system')].map((e) => e.textContent ?? '').filter((t) => /attempt \d/.test(t));
          const refs = lines.flatMap((t) => [...t.matchAll(/attempt (\d+)(?: \(id (\d+)\))?/g)]);
          return refs.some((m) => m[2] !== undefined) && refs.every((m) => (m[2] === undefined ? !noOf.has(m[1]) : noOf.get(m[2]) === m[1]));
        },
        undefined,
        { timeout: 60_000 },
      ).catch(async (e: unknown) => {
        const state = await page.evaluate(() => ({
          nos: [...document.querySelectorAll('[data-testid=attempts-table] tbody tr td:first-child')].map((x) => x.textContent),
          lines: [...document.querySelectorAll('[data-testid=logs] .log-system')].map((x) => x.textContent),
        }));
        throw new Error(`${String(e)}: ${JSON.stringify(state)}`);
      });
      await expectFits(page, where('job'));

      // The cluster's chart writes times the same way.
      await page.goto(`${s.url}/#/cluster`);
      await expectTimeLabels(page, 'utilisation-chart', where('cluster'));

      // The submit form: estimated start, finish and ρ on each allowed type.
      await page.goto(`${s.url}/#/submit`);
      await page.waitForSelector('[data-testid=shape-check]');
      await page.click('.whatif-box summary');
      // A short job: the estimate is a bounded simulation (rounds of 2 s here), which a long one could outrun.
      await page.fill('input[name=minutes]', '3');
      await page.waitForSelector('[data-testid=whatif] tr[data-type=v100] [data-testid=whatif-rho]');
      const rows = await page.$$eval('[data-testid=whatif] tbody tr', (rs) =>
        rs.map((r) => ({ type: (r as HTMLElement).dataset.type, rho: r.querySelector('[data-testid=whatif-rho]')?.textContent ?? '' })),
      );
      expect(rows.map((r) => r.type)).toEqual(['k80', 'v100']);
      for (const r of rows) expect(r.rho, where(`ρ on ${r.type}`)).toMatch(/^\d+\.\d\d$|^–$/);
      expect(rows.some((r) => /^\d+\.\d\d$/.test(r.rho))).toBe(true);
      expect(await page.textContent('[data-testid=whatif] thead')).toContain('ρ (finish-time fairness)');
      await expectFits(page, where('submit'));
      await shot(page, `heterogeneity-submit-${size.name}`);

      // Dark mode follows the system, also when the setting changes while the page is open: the page and its charts
      // turn dark with light labels, and back.
      await page.goto(`${s.url}/#/heterogeneity`);
      await page.waitForSelector('[data-testid=type-k80] svg text');
      const labelLum = (): Promise<number> =>
        page.evaluate(() => {
          const fill = [...document.querySelectorAll('[data-testid=type-k80] svg text')].map((t) => getComputedStyle(t).fill).find((f) => f.startsWith('rgb')) ?? '';
          const [r, g, b] = (fill.match(/\d+/g) ?? []).map(Number);
          return (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
        });
      expect(await labelLum(), where('light chart labels')).toBeLessThan(0.5);
      await page.emulateMedia({ colorScheme: 'dark' });
      await waitFor('chart labels to turn light', async () => (await labelLum()) > 0.5, 10_000, 100);
      const dark = await page.evaluate(() => {
        const lum = (c: string): number => {
          const [r, g, b] = (c.match(/\d+/g) ?? []).map(Number);
          return (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
        };
        const card = document.querySelector('.card')!;
        return { bg: lum(getComputedStyle(card).backgroundColor), fg: lum(getComputedStyle(card).color) };
      });
      expect(dark.bg, where('dark card')).toBeLessThan(0.2);
      expect(dark.fg, where('dark text')).toBeGreaterThan(0.7);
      await expectFits(page, where('dark heterogeneity'));
      await shot(page, `heterogeneity-dark-${size.name}`);
      await page.emulateMedia({ colorScheme: 'light' });
      await waitFor('chart labels to turn dark again', async () => (await labelLum()) < 0.5, 10_000, 100);
    }
    expect(seen.errors).toEqual([]);
    await ctx.close();
    ctx = undefined;
  }, 240_000);
});
