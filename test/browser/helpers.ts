/// <reference lib="dom" />
/**
 * Shared by the dashboard browser tests: Debian's Chromium through playwright-core (never `playwright install`), a
 * real `rondo serve` with local workers, sign-in, console-error watching and screenshots in test-artifacts/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ApiClient } from '../../src/runtime/client/http-client.js';
import { afterAll, beforeAll } from 'vitest';
import { ROOT, RUN_AS, ensureBuilt, freePort, killAll, newest, rondo, tempDir, waitFor } from '../runtime/harness.js';

export const CHROMIUM = process.env.RONDO_CHROMIUM ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const ARTIFACTS = resolve('test-artifacts');

/**
 * The set-up every dashboard browser test file shares: the CLI and the dashboard built before its first test; after
 * its last, the browser context it holds (`openContext()`) closed, every spawned server killed and its temporary
 * folder removed. Returns that folder.
 */
export function browserSuite(name: string, openContext: () => BrowserContext | undefined): string {
  const tmp = tempDir(name);
  beforeAll(() => {
    if (!HAVE_CHROMIUM) return;
    ensureBuilt();
    ensureWebBuilt();
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 180_000);
  afterAll(async () => {
    await openContext()?.close();
    await killAll();
    rmSync(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  });
  return tmp;
}

/** The UI is built by `npm run build` (so by `npm ci`); in a working tree, rebuild it when web/ is newer. */
export function ensureWebBuilt(): void {
  const index = join(ROOT, 'dist', 'web', 'index.html');
  const newestSource = Math.max(newest(join(ROOT, 'web')), statSync(join(ROOT, 'src', 'report', 'gpu-colors.ts')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= newestSource) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(ROOT, 'web', 'vite.config.ts')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(index)) throw new Error(`could not build the dashboard (npm run build): ${r.stderr}`);
}

export interface Server {
  url: string;
  token: string;
  admin: ApiClient;
  proc: ReturnType<typeof rondo>;
}

/** `again`: the port and admin token of an earlier start on the same store (a restart prints no token). */
export async function serve(dir: string, extra: readonly string[], again?: { port: number; token: string }): Promise<Server> {
  const db = join(dir, 'r.db');
  const port = again?.port ?? (await freePort());
  const proc = rondo(['serve', '--db', db, '--port', String(port), '--quiet', '--checkpoint-dir', `${db}.checkpoints`, ...RUN_AS, '--heartbeat', '0.1', '--grace', '0.5', '--worker-timeout', '2', ...extra]);
  const url = await waitFor('server to listen', () => {
    if (proc.child.exitCode !== null) throw new Error(`server exited: ${proc.stderr}`);
    return /listening on (http:\/\/\S+)/.exec(proc.stdout)?.[1];
  }, 60_000);
  const token = again?.token ?? /^(rdo_adm_\S+)$/m.exec(proc.stdout)?.[1] ?? (await waitFor('admin token', () => /^(rdo_adm_\S+)$/m.exec(proc.stdout)?.[1]));
  return { url, token, admin: new ApiClient({ server: url, token }), proc };
}

export async function tenantToken(s: Server, tenant: string): Promise<string> {
  return (await s.admin.post<{ token: string }>('/api/v1/tokens', { kind: 'tenant', tenant })).token;
}

export async function launch(profileDir: string, viewport = { width: 1360, height: 900 }): Promise<BrowserContext> {
  const { chromium } = await import('playwright-core');
  const ctx = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport,
  });
  // Waits are for things that do come; Playwright's 30 s default was tight for a page on a loaded 2-core machine.
  ctx.setDefaultTimeout(60_000);
  return ctx;
}

/** Console errors and uncaught exceptions of a page, plus failed requests. */
export function watch(page: Page): { errors: string[] } {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${m.text()}${m.location()?.url ? ` (${m.location().url})` : ''}`);
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => {
    // The change stream is aborted when the page goes away; anything else failing is a bug.
    if (!r.url().endsWith('/api/v1/stream')) errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
  });
  return { errors };
}

export async function login(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url, { waitUntil: 'load' });
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top');
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
}
