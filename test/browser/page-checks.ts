/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Checks of a dashboard page shared by the browser tests: colours as the browser computes them, nothing wider than
 * the window, no overlapping chart labels, and times on chart axes in the dashboard's one format (with the zone).
 */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/** A CSS colour as the browser computes it (rgb(...)), so hex and rgb spellings compare equal. */
export async function rgb(page: Page, colours: readonly string[]): Promise<string[]> {
  return page.evaluate((cs) => {
    const e = document.createElement('i');
    document.body.append(e);
    const out = cs.map((c) => {
      e.style.color = '';
      e.style.color = c;
      return getComputedStyle(e).color;
    });
    e.remove();
    return out;
  }, colours);
}

/**
 * Charts re-measure on a ResizeObserver after the viewport changes, a frame or more later on a loaded machine: wait
 * (up to 15 s) for the page to fit before a width check, which still fails for a page that never fits.
 */
export async function settleWidth(page: Page): Promise<void> {
  await page.waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth, undefined, { timeout: 15_000 }).catch(() => undefined);
}

/** The page does not scroll sideways (once its layout has settled). */
export async function expectNoSideScroll(page: Page, where: string): Promise<void> {
  await settleWidth(page);
  const r = await page.evaluate(() => ({ w: window.innerWidth, scroll: document.documentElement.scrollWidth }));
  expect(r.scroll, `${where}: page is ${r.scroll} px wide in a ${r.w} px window`).toBeLessThanOrEqual(r.w);
}

/** Nothing wider than the window: the page does not scroll sideways and the header's controls are on screen. */
export async function expectFits(page: Page, where: string): Promise<void> {
  await expectNoSideScroll(page, where);
  const off = await page.evaluate(() => {
    const w = window.innerWidth;
    return [...document.querySelectorAll<HTMLElement>('header.top > *, header.top nav a')]
      .map((e) => ({ e, b: e.getBoundingClientRect() }))
      .filter(({ e, b }) => (e.closest('nav') ? b.left < 0 || b.right > w + 1 : b.right > w + 1 || b.left < 0))
      .map(({ e }) => e.textContent);
  });
  expect(off, `${where}: header items off screen`).toEqual([]);
}

/** No two text labels of a chart overlap (axis labels, legend, axis names). */
export async function expectChartLabelsApart(page: Page, testId: string, where: string): Promise<void> {
  await page.waitForSelector(`[data-testid=${testId}] svg text`);
  const clashes = await page.evaluate((id) => {
    const boxes = [...document.querySelectorAll(`[data-testid=${id}] svg text`)]
      .map((t) => ({ s: t.textContent ?? '', b: t.getBoundingClientRect() }))
      .filter((x) => x.s.trim() !== '' && x.b.width > 0);
    const out: string[] = [];
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!.b;
        const b = boxes[j]!.b;
        const ox = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const oy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (ox > 1 && oy > 1) out.push(`${boxes[i]!.s} / ${boxes[j]!.s}`);
      }
    return out;
  }, testId);
  expect(clashes, `${where}: overlapping labels in ${testId}`).toEqual([]);
}

/** The labels of a chart's time axis: each one the dashboard's time format ("14:05:09 UTC" or "Dec 6, 14:05 UTC"). */
export async function expectTimeLabels(page: Page, testId: string, where: string): Promise<string[]> {
  await page.waitForSelector(`[data-testid=${testId}] svg text`);
  const labels = await page.$$eval(`[data-testid=${testId}] svg text`, (ts) => ts.map((t) => t.textContent ?? '').filter((s) => /\d:\d\d/.test(s)));
  expect(labels.length, `${where}: time labels on ${testId}`).toBeGreaterThan(0);
  for (const l of labels) expect(l, `${where}: ${testId} label`).toMatch(/^(\d\d:\d\d:\d\d|[A-Z][a-z]{2} \d{1,2}, \d\d:\d\d) [A-Z][A-Za-z0-9+:-]*$/);
  return labels;
}
