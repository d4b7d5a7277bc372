/**
 * Opens a generated report in Debian's Chromium (playwright-core, never `playwright install`): every chart must be
 * drawn with a visible size, the page must log no console error, and a screenshot goes to test-artifacts/.
 * Chromium comes from scripts/ensure-chromium.sh (run by `npm test` through `pretest`); without it the test skips.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadReportData, writeReport } from '../../src/report/index.js';
import { makeSweepDir } from '../report/helpers.js';

const CHROMIUM = process.env.RONDO_CHROMIUM ?? '/usr/bin/chromium';
const have = existsSync(CHROMIUM);
if (!have) console.warn(`browser test skipped: no Chromium at ${CHROMIUM} (run sh scripts/ensure-chromium.sh, or set RONDO_CHROMIUM)`);

const tmp = mkdtempSync(join(tmpdir(), 'rondo-browser-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!have)('report in a browser', () => {
  it('renders every chart, logs no console error, and is screenshotted', async () => {
    const dir = join(tmp, 'sweep');
    await makeSweepDir(dir);
    const artifacts = resolve('test-artifacts');
    mkdirSync(artifacts, { recursive: true });
    const html = join(artifacts, 'report.html');
    writeReport(loadReportData(dir), html, 'html');

    const { chromium } = await import('playwright-core');
    const ctx = await chromium.launchPersistentContext(join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1000, height: 800 },
    });
    try {
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      const failed: string[] = [];
      page.on('requestfailed', (r) => failed.push(r.url()));
      await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
      const charts = await page.$$eval('figure.chart', (figs) =>
        figs.map((f) => {
          const svg = f.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          return { id: f.id, w: box?.width ?? 0, h: box?.height ?? 0, shapes: svg ? svg.querySelectorAll('path, rect, text').length : 0 };
        }),
      );
      expect(charts.length).toBeGreaterThanOrEqual(7);
      for (const c of charts) {
        expect(c.w, c.id).toBeGreaterThan(300);
        expect(c.h, c.id).toBeGreaterThan(200);
        expect(c.shapes, c.id).toBeGreaterThan(20);
      }
      expect(errors).toEqual([]);
      expect(failed).toEqual([]);
      await page.screenshot({ path: join(artifacts, 'report.png'), fullPage: true });
      expect(existsSync(join(artifacts, 'report.png'))).toBe(true);
    } finally {
      await ctx.close();
    }
  }, 180_000);
});
