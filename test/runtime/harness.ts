/**
 * Real processes for the runtime tests: the CLI (`node bin/rondo.js`) as server and workers, talking over loopback.
 * Nothing here mocks the server, the store or the workers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../src/runtime/client/http-client.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'bin', 'rondo.js');
export const EXAMPLE = join(ROOT, 'examples', 'train_counter.py');

/** Latest modification time (ms) of any file under `dir`. */
export function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * The spawned CLI runs from dist/. CI builds it (`npm ci` runs `prepare`); in a working tree, rebuild when any
 * source is newer than the compiled CLI. A lock directory keeps parallel test files from building at once.
 */
export function ensureBuilt(): void {
  const main = join(ROOT, 'dist', 'cli', 'main.js');
  const lock = join(ROOT, 'dist', '.runtime-test-build.lock');
  const stale = (): boolean => {
    const built = statSync(join(ROOT, 'dist', 'runtime', 'server', 'app.js'), { throwIfNoEntry: false });
    return !existsSync(main) || !built || newest(join(ROOT, 'src')) > built.mtimeMs;
  };
  if (!stale()) return;
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  for (let i = 0; i < 600; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      spawnSync('sleep', ['0.2']);
      if (!stale()) return;
    }
  }
  try {
    if (stale()) spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'ignore' });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  if (!existsSync(main)) throw new Error('could not build dist/ for the runtime tests (run npm run build)');
}

export function tempDir(name: string): string {
  const d = join(tmpdir(), `rondo-rt-${name}-${process.pid}-${Date.now()}`);
  mkdirSync(d, { recursive: true });
  return d;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

export class Proc {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  }
  get pid(): number {
    return this.child.pid!;
  }
  kill(sig: NodeJS.Signals = 'SIGTERM'): void {
    try {
      this.child.kill(sig);
    } catch {
      // gone
    }
  }
}

const live = new Set<Proc>();

export function rondo(args: readonly string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const p = new Proc(child);
  live.add(p);
  void p.exited.then(() => live.delete(p));
  return p;
}

/** SIGKILL whatever a test left running (servers, workers). Jobs die with their worker (pdeathsig). */
export async function killAll(): Promise<void> {
  const ps = [...live];
  for (const p of ps) p.kill('SIGKILL');
  await Promise.all(ps.map((p) => p.exited));
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastErr = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
}

/** Short rounds for tests: 1 s rounds, 0.1 s heartbeats, 0.5 s grace, a worker is lost after 0.8 s of silence. */
export const FAST = ['--round', '1', '--grace', '0.5', '--heartbeat', '0.1', '--worker-timeout', '0.8'];

export interface ServerHandle {
  proc: Proc;
  url: string;
  admin: ApiClient;
  token: string;
}

export async function startServer(db: string, port: number, extra: readonly string[] = []): Promise<ServerHandle> {
  const proc = rondo(['serve', '--db', db, '--port', String(port), '--quiet', ...FAST, ...extra]);
  const url = await waitFor(
    'server to listen',
    () => {
      if (proc.child.exitCode !== null) throw new Error(`server exited: ${proc.stderr}`);
      return /listening on (http:\/\/\S+)/.exec(proc.stdout)?.[1];
    },
    // Loading the policy and the solver takes seconds on a loaded 2-core machine (20 s was exceeded at load 27).
    60_000,
  );
  const token = readFileSync(`${db}.admin-token`, 'utf8').trim();
  return { proc, url, admin: new ApiClient({ server: url, token }), token };
}

export async function startWorker(url: string, admin: ApiClient, gpus: string, name: string): Promise<Proc> {
  const { token } = await admin.post<{ token: string }>('/api/v1/tokens', { kind: 'worker', label: name });
  const w = rondo(['worker', '--server', url, '--gpus', gpus, '--name', name, '--quiet'], { RONDO_TOKEN: token });
  await waitFor('worker to register', () => w.stdout.includes('ready') || (w.child.exitCode !== null ? Promise.reject(new Error(w.stderr)) : false), 60_000);
  return w;
}

export interface JobView {
  id: string;
  state: string;
  stepsDone: number;
  attempts: number;
  exitCode: number | null;
  failure: string | null;
}

export function counterJob(cwd: string, steps: number, stepSeconds = 0.02): Record<string, unknown> {
  return { command: ['python3', EXAMPLE, '--steps', String(steps), '--step-seconds', String(stepSeconds)], cwd, totalSteps: steps };
}

/** Steps logged by the example job: each line is "step pid". */
export function stepLog(checkpointRoot: string, jobId: string): number[] {
  const p = join(checkpointRoot, jobId, 'steps.log');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(l.split(' ')[0]));
}

export function checkpointStep(checkpointRoot: string, jobId: string): number | undefined {
  const p = join(checkpointRoot, jobId, 'state.json');
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as { step: number }).step : undefined;
}
