/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The dashboard at a desktop size (1440x900) and a phone size (390x844) against `rondo serve` with two workers of two
 * GPU types each (v100:2,k80:2), two tenants and real jobs: the cluster grid numbers devices as the jobs use them,
 * a GPU type has one colour everywhere (never a state's colour), nothing overflows the phone's width, chart labels do
 * not overlap, and a job page says without hovering why the job waits. Screenshots: test-artifacts/dashboard-screen-*.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { gpuTypeColor } from '../../src/report/gpu-colors.js';
import { ApiClient } from '../../src/runtime/client/http-client.js';
import { EXAMPLE, rondo, waitFor } from '../runtime/harness.js';
import { browserSuite, CHROMIUM, HAVE_CHROMIUM, launch, login, serve, shot, tenantToken, type Server, watch } from './helpers.js';
import { expectChartLabelsApart, expectFits, rgb } from './page-checks.js';

if (!HAVE_CHROMIUM) console.warn(`screen-size browser test skipped: no Chromium at ${CHROMIUM}`);

const STATE_COLORS = ['#0072B2', '#009E73', '#D55E00', '#6b6b6b', '#8c8c8c', '#E69F00'];
const SIZES = [
  { name: 'desktop', width: 1440, height: 900 },
  { name: 'phone', width: 390, height: 844 },
] as const;

let ctx: BrowserContext | undefined;
const tmp = browserSuite('screens', () => ctx);

async function jobs(c: ApiClient): Promise<Array<{ id: string; state: string }>> {
  return (await c.get<{ jobs: Array<{ id: string; state: string }> }>('/api/v1/jobs')).jobs;
}

describe.skipIf(!HAVE_CHROMIUM)('dashboard at desktop and phone sizes', () => {
  it('numbers devices one way, colours a type one way, fits a phone, and says why a job waits', async () => {
    const dir = join(tmp, 'screens');
    mkdirSync(dir, { recursive: true });
    const s: Server = await serve(dir, ['--local-workers', '2', '--local-gpus', 'v100:2,k80:2', '--round', '2']);
    const alice = new ApiClient({ server: s.url, token: await tenantToken(s, 'alice') });
    const bob = new ApiClient({ server: s.url, token: await tenantToken(s, 'bob') });
    const long = (name: string, extra: Record<string, unknown>): Record<string, unknown> => ({
      command: ['python3', EXAMPLE, '--steps', '100000', '--step-seconds', '0.05'],
      cwd: dir,
      totalSteps: 100000,
      name,
      ...extra,
    });
    // Alice's k80 pair lands on devices 2 and 3 of a worker (its v100s are 0 and 1); Bob holds a v100.
    const k80Job = (await alice.post<{ id: string }>('/api/v1/jobs', long('alice-k80-pair', { gpuTypes: ['k80'], scaleFactor: 2 }))).id;
    const bobJob = (await bob.post<{ id: string }>('/api/v1/jobs', long('bob-v100', { gpuTypes: ['v100'] }))).id;
    await waitFor('both jobs to run', async () => (await jobs(s.admin)).filter((j) => [k80Job, bobJob].includes(j.id)).every((j) => j.state === 'running'), 30_000, 100);
    // Jobs no worker can hold: four v100 on one machine (the largest has two), and a type no worker has.
    const tooBig = (await alice.post<{ id: string }>('/api/v1/jobs', long('alice-4-v100', { gpuTypes: ['v100'], scaleFactor: 4 }))).id;
    const noType = (await alice.post<{ id: string }>('/api/v1/jobs', long('alice-a100', { gpuTypes: ['a100'] }))).id;
    // A job that fails at once, with exit code 3.
    const failing = (await alice.post<{ id: string }>('/api/v1/jobs', { command: ['python3', '-c', 'import sys; sys.exit(3)'], cwd: dir, name: 'alice-fails', gpuTypes: ['v100'] })).id;

    const cluster = await s.admin.get<{ workers: Array<{ id: string; running: Array<{ jobId: string | null; gpuType: string; devices: number[] }> }> }>('/api/v1/cluster');
    const k80Run = cluster.workers.flatMap((w) => w.running.map((r) => ({ ...r, workerId: w.id }))).find((r) => r.jobId === k80Job)!;
    expect(k80Run.devices).toEqual([2, 3]);

    ctx = await launch(join(tmp, 'profile'), { width: 1440, height: 900 });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const seen = watch(page);
    await login(page, s.url, s.token);
    const [k80Colour, ...stateColours] = await rgb(page, [gpuTypeColor('k80'), ...STATE_COLORS]);

    for (const size of SIZES) {
      await page.setViewportSize({ width: size.width, height: size.height });
      const where = (v: string): string => `${v} at ${size.width}x${size.height}`;

      // Cluster: the k80 job's two slots are the busy ones, numbered as the job runs on them (GPU 2 and 3).
      await page.goto(`${s.url}/#/cluster`);
      const card = `.worker[data-worker="${k80Run.workerId}"] .gpu-row[data-type=k80]`;
      await page.waitForSelector(`${card} [data-slot=busy]`);
      const slots = await page.$$eval(`${card} [data-device]`, (es) => es.map((e) => ({ d: Number((e as HTMLElement).dataset.device), state: (e as HTMLElement).dataset.slot, text: e.textContent ?? '', bg: getComputedStyle(e).backgroundColor })));
      expect(slots.map((x) => x.d)).toEqual([2, 3]);
      for (const x of slots) {
        expect(x.state, where('cluster')).toBe('busy');
        expect(x.text).toContain(`GPU ${x.d}`);
        expect(x.text).toContain(k80Job);
        expect(x.bg).toBe(k80Colour);
      }
      expect(stateColours).not.toContain(k80Colour);
      await page.waitForSelector('[data-testid=utilisation-chart] svg');
      await expectFits(page, where('cluster'));
      await expectChartLabelsApart(page, 'utilisation-chart', where('cluster'));
      await shot(page, `screen-cluster-${size.name}`);

      // Queue: the k80 share bar has the same colour; the table fits (cards on a phone).
      await page.goto(`${s.url}/#/queue`);
      await page.waitForSelector(`tr[data-job="${k80Job}"] .share[data-type=k80] rect[data-fill=received]`);
      // Share bars carry their numbers (target/received).
      expect(await page.textContent(`tr[data-job="${k80Job}"] .share[data-type=k80] .share-num`)).toMatch(/^(\d+|–)\/\d+%$/);
      const shareFill = await page.$eval(`tr[data-job="${k80Job}"] .share[data-type=k80] rect[data-fill=received]`, (e) => getComputedStyle(e).fill);
      expect(shareFill).toBe(k80Colour);
      const wrap = await page.$eval('[data-testid=queue-table]', (t) => ({ scroll: t.parentElement!.scrollWidth, client: t.parentElement!.clientWidth }));
      expect(wrap.scroll, where('queue table')).toBeLessThanOrEqual(wrap.client + 1);
      await expectFits(page, where('queue'));
      await shot(page, `screen-queue-${size.name}`);

      // Job page: the same devices and colour, and the reason it waits, written out.
      await page.goto(`${s.url}/#/jobs/${k80Job}`);
      await page.waitForSelector('[data-testid=timeline-chart] svg');
      await page.waitForSelector('[data-testid=attempts-table]');
      expect(await page.textContent('[data-testid=attempts-table] tbody')).toContain('k80 GPU 2, 3');
      // Attempts are numbered from 1 as they ran; times carry their zone.
      expect(await page.textContent('[data-testid=attempts-table] tbody tr:first-child td:first-child')).toBe('1');
      expect(await page.textContent('.facts')).toMatch(/\d\d:\d\d:\d\d [A-Z][A-Za-z0-9+:-]*/);
      // Heterogeneity: the type it runs on against the best one measured.
      await page.waitForSelector('[data-testid=heterogeneity]', { timeout: 60_000 });
      // (between two rounds the job may have no running attempt: then the fastest type measured is named)
      expect(await page.textContent('[data-testid=heterogeneity]')).toMatch(/Runs on k80|best type is k80/);
      const fills = await page.$$eval('[data-testid=timeline-chart] svg path', (ps) => ps.map((p) => getComputedStyle(p).fill));
      expect(fills).toContain(k80Colour);
      await expectFits(page, where('job'));
      await expectChartLabelsApart(page, 'timeline-chart', where('job'));
      await shot(page, `screen-job-${size.name}`);

      // A failed job says "Failed (exit code 3)" once.
      await page.goto(`${s.url}/#/jobs/${failing}`);
      await page.waitForSelector('[data-testid=failure]', { timeout: 60_000 });
      expect((await page.textContent('[data-testid=failure]'))!.trim()).toBe('Failed (exit code 3)');

      // A job that can never run says so on its page, in words, with no queue position; so does the queue row.
      await page.goto(`${s.url}/#/jobs/${tooBig}`);
      await page.waitForSelector('[data-testid=why][data-kind=never]');
      expect(await page.textContent('[data-testid=why]')).toContain('needs 4×v100 on one worker; the largest has 2 v100');
      expect(await page.isVisible('[data-testid=why-text]')).toBe(true);
      expect(await page.$('[data-testid=why-position]')).toBeNull();
      await expectFits(page, where('waiting job'));
      await shot(page, `screen-why-${size.name}`);
      await page.goto(`${s.url}/#/queue`);
      await page.waitForSelector(`tr[data-job="${noType}"] [data-testid=why-inline]`);
      expect(await page.textContent(`tr[data-job="${noType}"] [data-testid=why-inline]`)).toContain('no live worker has a100 GPUs');
      expect(await page.isVisible(`tr[data-job="${noType}"] [data-testid=why-inline]`)).toBe(true);

      // The submit form checks the shape against the live workers and estimates each allowed type.
      await page.goto(`${s.url}/#/submit`);
      await page.waitForSelector('[data-testid=shape-check]');
      await page.fill('input[name=scaleFactor]', '4');
      await page.fill('input[name=gpuTypes]', 'v100');
      await page.waitForSelector('[data-testid=shape-check].error');
      expect(await page.textContent('[data-testid=shape-check]')).toContain('needs 4×v100 on one worker; the largest has 2 v100');
      await page.fill('input[name=gpuTypes]', 'h100');
      await page.waitForFunction(() => /no live worker has h100 GPUs/.test(document.querySelector('[data-testid=shape-check]')?.textContent ?? ''));
      await page.fill('input[name=scaleFactor]', '1');
      await page.fill('input[name=gpuTypes]', '');
      await page.click('.whatif-box summary');
      await page.fill('input[name=minutes]', '30');
      await page.waitForSelector('[data-testid=whatif] tr[data-type=k80]');
      expect(await page.$$eval('[data-testid=whatif] tbody tr', (rs) => rs.map((r) => (r as HTMLElement).dataset.type))).toEqual(['k80', 'v100']);
      await expectFits(page, where('submit'));
      await shot(page, `screen-submit-${size.name}`);

      // The allocation heat map tells a type the job may not use from a 0% share.
      await page.goto(`${s.url}/#/fairness`);
      await page.waitForSelector('[data-testid=allocation-heatmap] svg');
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=allocation-heatmap] svg text')].some((t) => t.textContent === 'not allowed'));
      await expectFits(page, where('fairness'));

      // Dark mode follows the system setting: a dark page with light text, charts included.
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.goto(`${s.url}/#/cluster`);
      await page.waitForSelector('[data-testid=utilisation-chart] svg text');
      const dark = await page.evaluate(() => {
        const lum = (c: string): number => {
          const [r, g, b] = (c.match(/\d+/g) ?? []).map(Number);
          return (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
        };
        const axis = [...document.querySelectorAll('[data-testid=utilisation-chart] svg text')].map((t) => getComputedStyle(t).fill).find((f) => f.startsWith('rgb'));
        return { bg: lum(getComputedStyle(document.body).backgroundColor || getComputedStyle(document.documentElement).backgroundColor), fg: lum(getComputedStyle(document.body).color), axis: axis ? lum(axis) : 0 };
      });
      expect(dark.bg, where('dark background')).toBeLessThan(0.2);
      expect(dark.fg, where('dark text')).toBeGreaterThan(0.7);
      expect(dark.axis, where('dark chart labels')).toBeGreaterThan(0.5);
      await shot(page, `screen-dark-cluster-${size.name}`);
      await page.emulateMedia({ colorScheme: 'light' });

      for (const view of ['fairness', 'reports']) {
        await page.goto(`${s.url}/#/${view}`);
        await page.waitForSelector('main.page > *');
        await page.waitForTimeout(300);
        await expectFits(page, where(view));
        await shot(page, `screen-${view}-${size.name}`);
      }
    }
    expect(seen.errors).toEqual([]);

    // `rondo status JOB` says the same.
    const status = rondo(['status', tooBig, '--server', s.url, '--token', s.token]);
    await waitFor('rondo status', () => status.child.exitCode !== null, 90_000); // a CLI start is slow beside Chromium on a loaded machine (30 s ran out once)
    expect(status.stdout).toMatch(/position\s+none: it cannot start on the current workers/);
    expect(status.stdout).toMatch(/why\s+cannot run on the live workers: needs 4×v100 on one worker; the largest has 2 v100/);

    // `rondo submit` of a shape no worker holds: accepted, with a warning that says why.
    const sub = rondo(['submit', '--gpus', '4', '--gpu-types', 'v100', '--cwd', dir, '--server', s.url, '--token', s.token, '--', 'python3', EXAMPLE]);
    await waitFor('rondo submit', () => sub.child.exitCode !== null, 90_000);
    expect(sub.stdout).toMatch(/^job-\d+$/m);
    expect(sub.stderr).toMatch(/warning: job-\d+ cannot run on the live workers: needs 4×v100 on one worker; the largest has 2 v100/);

    // A tenant opening another tenant's job: one clean "no job" view, one refused request, nothing asked again.
    await page.evaluate(() => sessionStorage.clear());
    await login(page, s.url, await tenantToken(s, 'alice'));
    seen.errors.length = 0;
    await page.goto(`${s.url}/#/jobs/${bobJob}`);
    await page.waitForSelector('[data-testid=job-not-found]');
    expect(await page.textContent('[data-testid=job-not-found]')).toContain(`No job ${bobJob}.`);
    await page.waitForTimeout(3000); // a few change events arrive meanwhile (jobs progress)
    expect(seen.errors.length, seen.errors.join('\n')).toBeLessThanOrEqual(1);
    await shot(page, 'screen-not-found-phone');
    // Alice's cluster grid names Bob's GPUs in full ("other tenant", never cut to "other ten…"), at both sizes.
    for (const size of SIZES) {
      await page.setViewportSize({ width: size.width, height: size.height });
      await page.goto(`${s.url}/#/cluster`);
      await page.waitForSelector('[data-slot=other]');
      const cut = await page.$$eval('[data-slot=other] .slot-job', (es) => es.filter((e) => e.scrollWidth > e.clientWidth + 1 || e.textContent !== 'other tenant').length);
      expect(cut, `other tenant label at ${size.width}`).toBe(0);
      await expectFits(page, `tenant cluster at ${size.width}`);
    }
    await ctx.close();
    ctx = undefined;
  }, 300_000);
});
