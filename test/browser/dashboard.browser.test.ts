/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The web dashboard in Debian's Chromium (playwright-core, never `playwright install`) against a real `rondo serve
 * --local-workers 2` process running real jobs. Chromium comes from scripts/ensure-chromium.sh (run by `npm test`
 * through `pretest`); without it these tests skip. Screenshots go to test-artifacts/dashboard-*.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/runtime/client/http-client.js';
import { loadReportData, writeReport } from '../../src/report/index.js';
import { makeSweepDir } from '../report/helpers.js';
import { EXAMPLE, waitFor } from '../runtime/harness.js';
import { browserSuite, CHROMIUM, HAVE_CHROMIUM, launch, login, serve, shot as shotAt, tenantToken, watch } from './helpers.js';

const have = HAVE_CHROMIUM;
if (!have) console.warn(`dashboard browser test skipped: no Chromium at ${CHROMIUM} (run sh scripts/ensure-chromium.sh, or set RONDO_CHROMIUM)`);

let ctx: BrowserContext | undefined;
const tmp = browserSuite('dashboard', () => ctx);

async function browser(): Promise<BrowserContext> {
  return launch(join(tmp, `profile-${Date.now()}`));
}

const t0 = Date.now();
async function shot(page: Parameters<typeof shotAt>[0], name: string): Promise<void> {
  await shotAt(page, name);
  if (process.env.RONDO_TEST_TIMING) console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${name}`);
}

describe.skipIf(!have)('dashboard in a browser', () => {
  it('a tenant logs in, submits jobs through the form and watches them queue, run and finish live; sees no other tenant', async () => {
    const dir = join(tmp, 'live');
    mkdirSync(dir, { recursive: true });
    const s = await serve(dir, ['--local-workers', '2', '--round', '2']);
    const alice = await tenantToken(s, 'alice');
    const bobClient = new ApiClient({ server: s.url, token: await tenantToken(s, 'bob') });
    // Bob's two jobs hold both GPUs when Alice submits, so hers wait for a round before they run.
    const bobJobs: string[] = [];
    for (const n of [1, 2]) {
      const job = { command: ['python3', EXAMPLE, '--steps', '40', '--step-seconds', '0.1'], cwd: dir, totalSteps: 40, name: `bob-private-${n}` };
      bobJobs.push((await bobClient.post<{ id: string }>('/api/v1/jobs', job)).id);
    }
    await waitFor('bob to run', async () => (await bobClient.get<{ jobs: Array<{ state: string }> }>('/api/v1/jobs')).jobs.every((j) => j.state === 'running'), 20_000, 100);

    ctx = await browser();
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const seen = watch(page);
    let loads = 0;
    page.on('load', () => loads++);

    await page.goto(s.url, { waitUntil: 'load' });
    await page.fill('#token', 'rdo_ten_not-a-real-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('.login-card .error');
    expect(await page.textContent('.login-card .error')).toMatch(/does not know this token/);
    // A 401 answer is logged by Chromium as a failed resource load: expected here, not afterwards.
    seen.errors.length = 0;
    await shot(page, 'login-error');

    await page.fill('#token', alice);
    await page.click('button[type=submit]');
    await page.waitForSelector('header.top');
    expect(await page.textContent('.who')).toBe('tenant alice');
    await page.waitForSelector('.live-live');
    await page.waitForSelector('text=No jobs yet.');
    await shot(page, 'queue-empty');

    // Submit three jobs through the form; the last one has a long name.
    await page.click('text=New job');
    const names = ['alice-small', 'alice-medium', 'alice-with-a-rather-long-descriptive-name-resnet50-lr0.1-batch256-seed7'];
    const ids: string[] = [];
    for (const [i, name] of names.entries()) {
      await page.fill('input[name=name]', name);
      await page.fill('input[name=command]', `python3 ${EXAMPLE} --steps ${20 + 5 * i} --step-seconds 0.05`);
      await page.fill('input[name=cwd]', dir);
      await page.fill('input[name=totalSteps]', String(20 + 5 * i));
      await page.click('button:has-text("Submit job")');
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=submitted]').length === n, i + 1);
    }
    for (const a of await page.$$('[data-testid=submitted]')) ids.unshift((await a.textContent())!);
    expect(ids).toHaveLength(3);
    await shot(page, 'submit');

    // The queue, live: record every state each of Alice's rows shows, from the DOM, as it changes.
    await page.click('header.top nav >> text=Queue');
    await page.waitForSelector('[data-testid=queue-table]');
    await page.evaluate(() => {
      const w = window as unknown as { seen: Record<string, string[]>; marker: number };
      w.marker = 42;
      w.seen = {};
      const record = (): void => {
        for (const tr of document.querySelectorAll<HTMLElement>('tr[data-job]')) {
          const list = (w.seen[tr.dataset.job!] ??= []);
          if (list[list.length - 1] !== tr.dataset.state) list.push(tr.dataset.state!);
        }
      };
      record();
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
    });
    await shot(page, 'queue-live');
    const seenStates = await waitFor(
      "Alice's jobs to finish on screen",
      async () => {
        const r = await page.evaluate(() => (window as unknown as { seen: Record<string, string[]> }).seen);
        return ids.every((id) => r[id]?.at(-1) === 'completed') ? r : undefined;
      },
      45_000,
      250,
    );
    // Every job ended completed; at least one was seen waiting, then running, then done, in that order.
    for (const id of ids) expect(seenStates[id], id).toContain('completed');
    const full = ids.filter((id) => {
      const st = seenStates[id]!;
      const q = st.indexOf('queued');
      const r = st.indexOf('running');
      return q >= 0 && r > q && st.indexOf('completed') > r;
    });
    expect(full.length, JSON.stringify(seenStates)).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42); // never reloaded
    expect(loads).toBe(1);
    await shot(page, 'queue-done');

    // Another tenant's jobs appear nowhere: not in the queue, the cluster or fairness.
    const text = async (): Promise<string> => (await page.textContent('main.page')) ?? '';
    for (const b of bobJobs) expect(await page.$(`tr[data-job="${b}"]`)).toBeNull();
    expect(await text()).not.toMatch(/bob-private/);
    await page.click('header.top nav >> text=Cluster');
    await page.waitForSelector('[data-testid=gpu-summary]');
    await page.waitForSelector('[data-testid=utilisation-chart] svg');
    expect(await text()).not.toMatch(new RegExp(bobJobs.map((b) => `${b}\\b`).join('|')));
    await shot(page, 'cluster');
    await page.click('header.top nav >> text=Fairness');
    await page.waitForSelector('text=Current allocation');
    expect(await text()).not.toMatch(/bob/);
    await shot(page, 'fairness');

    // The job page: timeline, throughput, logs.
    await page.goto(`${s.url}/#/jobs/${ids[2]}`);
    await page.waitForSelector('[data-testid=timeline-chart] svg');
    await page.waitForSelector('[data-testid=throughput-chart] svg');
    // What the scheduler assumes per type, and where it comes from (docs/estimate.md).
    await page.waitForSelector('[data-testid=throughput-sources] tr[data-source=measured]');
    await page.waitForSelector('[data-testid=logs] >> text=done: 30 steps');
    await shot(page, 'job');

    // Cancel from the UI (two clicks: cancel, confirm).
    await page.click('text=New job');
    await page.fill('input[name=name]', 'alice-to-cancel');
    await page.fill('input[name=command]', `python3 ${EXAMPLE} --steps 100000 --step-seconds 0.05`);
    await page.fill('input[name=cwd]', dir);
    await page.click('button:has-text("Submit job")');
    const cancelId = (await (await page.waitForSelector('[data-testid=submitted]')).textContent())!;
    await page.click('[data-testid=submitted]');
    await page.waitForSelector(`.job-page[data-job="${cancelId}"]`);
    await page.click(`button[aria-label="cancel ${cancelId}"]`);
    await page.click(`button[aria-label="confirm cancelling ${cancelId}"]`);
    await page.waitForSelector(`.job-page[data-job="${cancelId}"][data-state=cancelled]`, { timeout: 60_000 });

    // A report from `rondo report`, opened in the same UI.
    const sweep = join(tmp, 'sweep');
    await makeSweepDir(sweep, { base: { generate: true, limit: '8', cluster: 'v100:2,k80:2' }, policies: ['max_min_fairness_perf'], rates: [2], seeds: [0], vary: [], timelineMaxJobs: 20 });
    const reportFile = join(tmp, 'report.html');
    writeReport(loadReportData(sweep), reportFile, 'html');
    await page.click('header.top nav >> text=Reports');
    await page.setInputFiles('[data-testid=report-file]', reportFile);
    const frame = await (await page.waitForSelector('[data-testid=report-frame]')).contentFrame();
    await frame!.waitForSelector('figure.chart svg');
    await shot(page, 'report');

    expect(seen.errors).toEqual([]);

    // Another tenant's job by its address: the same clean "No job" view as a job that does not exist (its id is not
    // confirmed), asked once, not at every change.
    const asked: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes(`/api/v1/jobs/${bobJobs[0]}`)) asked.push(r.url());
    });
    await page.goto(`${s.url}/#/jobs/${bobJobs[0]}`);
    await page.waitForSelector('[data-testid=job-not-found]');
    expect(await page.textContent('[data-testid=job-not-found]')).toMatch(/No job job-\d+\./);
    await page.waitForTimeout(2500);
    expect(asked).toHaveLength(1);
    await page.goto(`${s.url}/#/queue`);
    await page.waitForSelector('[data-testid=queue-table]');
    // A revoked token sends the user back to the login screen with the reason.
    const tokens = await s.admin.get<{ tokens: Array<{ id: number; tenant: string | null }> }>('/api/v1/tokens');
    await s.admin.request('DELETE', `/api/v1/tokens/${tokens.tokens.find((t) => t.tenant === 'alice')!.id}`);
    // (the revocation is a change: the open page hears of it, refetches, gets 401)
    await page.waitForSelector('.login-card .error');
    expect(await page.textContent('.login-card .error')).toMatch(/Signed out: the server rejected the token/);
    await page.reload(); // the reason survives a reload of the tab
    await page.waitForSelector('.login-card .error');
    expect(await page.textContent('.login-card .error')).toMatch(/Signed out: the server rejected the token/);
    await shot(page, 'signed-out');
    await ctx.close();
    ctx = undefined;
  }, 300_000);

  it('stays usable with 1,000 jobs in the queue', async () => {
    const dir = join(tmp, 'many');
    mkdirSync(dir, { recursive: true });
    const s = await serve(dir, ['--local-workers', '2', '--round', '5']);
    const tenants = ['alice', 'bob', 'carol-from-the-department-of-very-long-tenant-names'];
    const jobs = Array.from({ length: 1000 }, (_, i) => ({
      command: ['sleep', '600'],
      cwd: dir,
      tenant: tenants[i % 3],
      totalSteps: 100 + (i % 50) * 20,
      scaleFactor: i % 10 === 0 ? 2 : 1,
      name: i % 7 === 0 ? `sweep point ${i}: transformer-xl with a very long run description lr=3e-4 warmup=4000` : `run-${i}`,
    }));
    // Eight submitters at a time: the store commits each submit with an fsync.
    for (let k = 0; k < jobs.length; k += 8) await Promise.all(jobs.slice(k, k + 8).map((j) => s.admin.post('/api/v1/jobs', j)));

    ctx = await browser();
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const seen = watch(page);
    await login(page, s.url, s.token);
    const t0 = Date.now();
    await page.waitForSelector('[data-testid=queue-table] tbody tr');
    const firstPaintMs = Date.now() - t0;
    expect(await page.$$eval('[data-testid=queue-table] tbody tr', (r) => r.length)).toBe(50);
    expect(await page.textContent('.pager')).toMatch(/1–50 of 1,000 jobs/);
    await shot(page, 'queue-1000');
    await page.click('button:has-text("Next ›")');
    await page.waitForFunction(() => /51–100 of 1,000/.test(document.querySelector('.pager')?.textContent ?? ''));
    await page.selectOption('[data-testid=tenant-filter]', 'bob');
    await page.waitForFunction(() => /of 333 jobs/.test(document.querySelector('.pager')?.textContent ?? ''));
    expect(await page.$$eval('[data-testid=queue-table] tbody tr td:nth-child(2)', (tds) => [...new Set(tds.map((t) => t.textContent))])).toEqual(['bob']);
    await page.click('[data-testid=chip-running]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=queue-table] tbody tr').length <= 2 || /No jobs match/.test(document.body.textContent ?? ''));
    await page.click('header.top nav >> text=Fairness');
    await page.waitForSelector('[data-testid=allocation-heatmap] svg');
    await shot(page, 'fairness-1000');
    await page.click('header.top nav >> text=Cluster');
    await page.waitForSelector('[data-testid=utilisation-chart] svg');
    await shot(page, 'cluster-1000');
    expect(seen.errors).toEqual([]);
    expect(firstPaintMs).toBeLessThan(10_000);
    await ctx.close();
    ctx = undefined;
  }, 300_000);
});
