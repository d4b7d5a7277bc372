/// <reference lib="dom" />
/**
 * Issue 24, findings 5 and 6 in a browser at 1440x900 and 390x844: a sweep report written by `rondo report` prints
 * its setup in the page and in every chart, names policies readably (Gavel's names), marks ρ = 1 on its ρ CDF,
 * holds no local path, and fits a phone's width (wide tables scroll inside the page). The charts themselves are
 * checked in test/report. Screenshots: test-artifacts/report-*.png.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { loadReportData, writeReport } from '../../src/report/index.js';
import { makeSweepDir } from '../report/helpers.js';
import { browserSuite, CHROMIUM, HAVE_CHROMIUM, launch } from './helpers.js';

if (!HAVE_CHROMIUM) console.warn(`report screen-size browser test skipped: no Chromium at ${CHROMIUM}`);

let ctx: BrowserContext | undefined;
const tmp = browserSuite('report-screens', () => ctx);

describe.skipIf(!HAVE_CHROMIUM)('a report at desktop and phone sizes', () => {
  it('says its setup, reads well and fits the screen', async () => {
    const dir = join(tmp, 'sweep');
    await makeSweepDir(dir);
    const artifacts = resolve('test-artifacts');
    mkdirSync(artifacts, { recursive: true });
    const html = join(artifacts, 'report-screens.html');
    writeReport(loadReportData(dir), html, 'html');
    const text = readFileSync(html, 'utf8');
    // No local path of the machine that wrote it.
    expect(text).not.toContain(tmp);
    expect(text).not.toContain(dir);

    ctx = await launch(join(tmp, 'profile'));
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    for (const size of [{ width: 1440, height: 900 }, { width: 390, height: 844 }]) {
      await page.setViewportSize(size);
      await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
      const r = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        body: document.body.innerText,
        charts: [...document.querySelectorAll('figure.chart svg')].map((s) => ({ right: s.getBoundingClientRect().right, text: s.textContent ?? '' })),
      }));
      expect(r.scroll, `report at ${size.width}: ${r.scroll} px wide`).toBeLessThanOrEqual(size.width);
      for (const c of r.charts) expect(c.right, `a chart sticks out at ${size.width}`).toBeLessThanOrEqual(size.width + 1);
      expect(r.charts.length).toBeGreaterThanOrEqual(7);
      // Every chart carries the setup, so a PNG or SVG alone still says what it shows.
      for (const c of r.charts) expect(c.text).toMatch(/seeds?/i);
      expect(r.body).toMatch(/seeds?/i);
      // Readable policy names (Gavel's), with the id beside; the ρ CDF marks ρ = 1.
      expect(r.body).toContain('LAS');
      expect(r.charts.some((c) => c.text.includes('ρ = 1'))).toBe(true);
      await page.screenshot({ path: join(artifacts, `report-${size.width}.png`), fullPage: true });
    }
    await ctx.close();
    ctx = undefined;
  }, 120_000);
});
