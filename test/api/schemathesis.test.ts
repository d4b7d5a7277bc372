/**
 * schemathesis (a property-based API fuzzer from PyPI, pinned in scripts/schemathesis-requirements.txt) against a real
 * `rondo serve` from dist/, reading only the server's own OpenAPI document: an independent hostile-input test beside
 * test/runtime/api.test.ts and hardening.test.ts, whose cases this project wrote itself. Three runs, one per kind of
 * token, so admin-only, tenant-scoped and worker endpoints are each reached with a token they accept (and with ones
 * they must refuse). Any 5xx, answer outside the documented status codes, content types or response schemas,
 * schema-invalid request accepted, or auth ignored fails the test with schemathesis' own report.
 *
 * The first run makes the venv (about a minute: scripts/ensure-schemathesis.sh); where python3 or PyPI is missing,
 * the file is skipped with one line saying why. How to run it by hand: docs/testing.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, freePort, killAll, ROOT, startServer, tempDir, type ServerHandle } from '../runtime/harness.js';

const found = spawnSync('sh', [join(ROOT, 'scripts', 'ensure-schemathesis.sh')], { encoding: 'utf8', timeout: 15 * 60_000 });
const SCHEMATHESIS = found.status === 0 ? found.stdout.trim().split('\n').pop() : undefined;
if (!SCHEMATHESIS) {
  const why = (found.stderr || found.error?.message || `exit ${String(found.status)}`).trim().split('\n').pop();
  console.warn(`schemathesis API tests skipped: ${why}`);
}

/**
 * Every check schemathesis has, but two: `unsupported_method` wants 405 for a method no route has, where fastify
 * (like most routers) answers a documented 404; `positive_data_acceptance` wants every schema-valid body accepted,
 * but a job's working directory must also be normalised and inside the job roots, and reserved environment names
 * are refused, rules a JSON schema cannot state (the 4XX answer names the rule).
 */
const CHECKS = ['--checks', 'all', '--exclude-checks', 'unsupported_method,positive_data_acceptance'];
/**
 * Examples per operation and a fixed seed: the same requests every run, under a minute a run on 2 loaded cores. The
 * health checks are off: they judge the speed of data generation (too slow on a loaded machine), not the API.
 */
const BOUNDS = ['--max-examples', '25', '--seed', '20261206', '--workers', '1', '--request-timeout', '30', '--suppress-health-check', 'all', '--no-color'];

let srv: ServerHandle;
let dir: string;
let schemaFile: string;

/** A fresh token per run: the admin run revokes tokens (any id it guesses), so one made before it may be gone. */
async function newToken(body: object): Promise<string> {
  return (await srv.admin.post<{ token: string }>('/api/v1/tokens', body)).token;
}

async function schemathesis(token: string, filter: readonly string[]): Promise<{ code: number | null; out: string }> {
  const args = ['--config-file', join(ROOT, 'test', 'api', 'schemathesis.toml'), 'run', schemaFile, '--url', srv.url, '-H', `Authorization: Bearer ${token}`, ...CHECKS, ...BOUNDS, ...filter];
  const child = spawn(SCHEMATHESIS!, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', COLUMNS: '120' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  return { code, out };
}

/** Passes when schemathesis exits 0; otherwise fails with its report (from its FAILURES section on). */
function expectClean(r: { code: number | null; out: string }): void {
  if (r.code === 0) return;
  const at = r.out.search(/=+ (FAILURES|ERRORS) =+/);
  // Fuzzed bodies can be megabytes long: each line is cut, `st replay <id>` in the report shows a case whole.
  const report = (at >= 0 ? r.out.slice(at) : r.out)
    .split('\n')
    .map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l))
    .join('\n');
  expect.fail(`schemathesis exited ${String(r.code)}:\n${report}`);
}

describe.skipIf(!SCHEMATHESIS)('schemathesis against rondo serve', () => {
  beforeAll(async () => {
    ensureBuilt();
    dir = tempDir('schemathesis');
    // No rate limit: the fuzzer's thousands of requests would otherwise mostly test the 429 path.
    // Jobs under the temporary directory are accepted from tenants too (the document's example cwd is /tmp).
    srv = await startServer(join(dir, 'r.db'), await freePort(), ['--rate-limit', '0', '--job-root', tmpdir()]);
    // From a file: a worker token may not read the document, and all three runs must see the same one.
    schemaFile = join(dir, 'openapi.json');
    writeFileSync(schemaFile, JSON.stringify(await srv.admin.get('/api/v1/openapi.json')));
    // dist/ may need a rebuild first, and a server takes a while to start on a loaded machine.
  }, 300_000);

  afterAll(async () => {
    await killAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // /api/v1/stream is an endless server-sent-event stream (no answer to check ever ends); the worker and lease
  // routes have their own run or need a running job's token.
  const userRoutes = ['--exclude-path', '/api/v1/stream', '--exclude-path-regex', '^/api/v1/(workers|progress|lease)'];

  it('as admin: every route an admin may call', async () => {
    expectClean(await schemathesis(srv.token, userRoutes));
  }, 600_000);

  it('as a tenant: its own routes, and the admin-only ones it must be refused', async () => {
    expectClean(await schemathesis(await newToken({ kind: 'tenant', tenant: 'acme' }), userRoutes));
  }, 600_000);

  it('as a worker: registration and sync', async () => {
    expectClean(await schemathesis(await newToken({ kind: 'worker' }), ['--include-path-regex', '^/api/v1/workers']));
  }, 600_000);
});
