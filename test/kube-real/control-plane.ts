/**
 * A real Kubernetes control plane on loopback for tests and the bench: etcd, kube-apiserver, kube-controller-manager
 * (Job controller, garbage collector, service accounts, node lifecycle), kube-scheduler and kwok (fake nodes and pod
 * life cycles), built by scripts/kube-real/build.sh. Per run: a CA, serving and client certificates, a service-account
 * key and a kubeconfig, in a fresh directory; every port free and on 127.0.0.1.
 *
 * Every process runs in its own process group and is stopped by stop(); an exit handler and a watchdog process (which
 * outlives a SIGKILLed test runner) kill whatever is left, so no etcd or API server outlives its test.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kwokConfig } from './kwok-stages.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The bin directory of a complete cached build, or why there is none (the tests skip with that reason). `root`: the
 * checkout (a compiled copy of this file, as the bench runs, lives elsewhere).
 */
export function findBinaries(root = ROOT): { bin: string } | { skip: string } {
  if (process.env.RONDO_KUBE_REAL_BIN) return { bin: process.env.RONDO_KUBE_REAL_BIN };
  const r = spawnSync('sh', [join(root, 'scripts', 'kube-real', 'build.sh'), '--check'], { encoding: 'utf8' });
  if (r.status === 0) return { bin: r.stdout.trim().split('\n').pop()! };
  const hasGo = spawnSync('sh', ['-c', 'command -v go || test -x /usr/local/go/bin/go'], { encoding: 'utf8' }).status === 0;
  return {
    skip: hasGo
      ? 'real control plane not built: run `sh scripts/kube-real/build.sh` (npm test does it in pretest)'
      : 'Go not found: the real-control-plane tests need Go to build kube-apiserver, etcd and kwok (scripts/kube-real/build.sh)',
  };
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export interface ControlPlaneOptions {
  readonly bin: string;
  /** Where certificates, data and logs go (default: a fresh temp directory, removed by stop() unless keep). */
  readonly dir?: string;
  readonly keep?: boolean;
  readonly log?: (m: string) => void;
  /** kube-apiserver's --max-requests-inflight etc. are left at their defaults; extra flags per component. */
  readonly extraFlags?: Partial<Record<Component, string[]>>;
}

export type Component = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok';

interface Proc {
  readonly name: Component;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

const live = new Set<ControlPlane>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const cp of live) cp.killNow();
  });
}

function sh(cmd: string, args: string[], cwd: string): void {
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export class ControlPlane {
  readonly dir: string;
  readonly kubeconfig: string;
  private readonly procs = new Map<Component, Proc>();
  private readonly pidFile: string;
  private watchdog: ChildProcess | undefined;
  private ports = { etcd: 0, etcdPeer: 0, api: 0 };
  private stopped = false;

  private constructor(private readonly o: ControlPlaneOptions) {
    this.dir = o.dir ?? join(tmpdir(), `rondo-kube-real-${process.pid}-${Date.now()}`);
    mkdirSync(join(this.dir, 'pki'), { recursive: true });
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    this.kubeconfig = join(this.dir, 'kubeconfig');
    this.pidFile = join(this.dir, 'pids');
  }

  static async start(o: ControlPlaneOptions): Promise<ControlPlane> {
    for (const b of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']) {
      if (!existsSync(join(o.bin, b))) throw new Error(`control plane: ${join(o.bin, b)} missing; run sh scripts/kube-real/build.sh`);
    }
    const cp = new ControlPlane(o);
    live.add(cp);
    installExitHook();
    try {
      await cp.boot();
    } catch (e) {
      await cp.stop();
      throw e;
    }
    return cp;
  }

  /** The API server's URL. */
  get server(): string {
    return `https://127.0.0.1:${this.ports.api}`;
  }

  private log(m: string): void {
    this.o.log?.(`control plane: ${m}`);
  }

  private async boot(): Promise<void> {
    const t0 = Date.now();
    this.ports = { etcd: await freePort(), etcdPeer: await freePort(), api: await freePort() };
    this.pki();
    this.startWatchdog();
    this.spawn('etcd', [
      '--name=rondo-test', `--data-dir=${join(this.dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${this.ports.etcd}`, `--advertise-client-urls=http://127.0.0.1:${this.ports.etcd}`,
      `--listen-peer-urls=http://127.0.0.1:${this.ports.etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${this.ports.etcdPeer}`,
      `--initial-cluster=rondo-test=http://127.0.0.1:${this.ports.etcdPeer}`,
      // A test cluster: durability across power loss does not matter, and fsync is slow on shared disks.
      '--unsafe-no-fsync', '--log-level=warn', '--quota-backend-bytes=2147483648',
    ]);
    await this.until('etcd healthy', async () => (await httpGet(`http://127.0.0.1:${this.ports.etcd}/health`)).includes('"true"'), 60_000);
    await this.startApiServer();
    const pki = join(this.dir, 'pki');
    this.spawn('kube-controller-manager', [
      `--kubeconfig=${this.kubeconfig}`, '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=0',
      '--controllers=job-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,node-lifecycle-controller,pod-garbage-collector-controller',
      `--service-account-private-key-file=${join(pki, 'sa.key')}`, `--root-ca-file=${join(pki, 'ca.crt')}`,
      // Node lifecycle as a real cluster has it, on a test's time scale.
      '--node-monitor-period=2s', '--node-monitor-grace-period=20s',
      '--concurrent-job-syncs=10', '--kube-api-qps=200', '--kube-api-burst=400', '-v=1',
    ]);
    this.spawn('kube-scheduler', [
      `--kubeconfig=${this.kubeconfig}`, '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=0',
      '--kube-api-qps=200', '--kube-api-burst=400', '-v=1',
    ]);
    writeFileSync(join(this.dir, 'kwok.yaml'), kwokConfig());
    this.spawn('kwok', [`--kubeconfig=${this.kubeconfig}`, `--config=${join(this.dir, 'kwok.yaml')}`, '-v=INFO']);
    // The default ServiceAccount exists once the controller manager runs; pods are rejected before.
    await this.until('the default ServiceAccount', async () => (await this.api('GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200, 120_000);
    this.log(`up in ${Date.now() - t0} ms at ${this.server} (${this.dir})`);
  }

  private async startApiServer(): Promise<void> {
    const pki = join(this.dir, 'pki');
    this.spawn('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${this.ports.etcd}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${this.ports.api}`,
      `--tls-cert-file=${join(pki, 'apiserver.crt')}`, `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
      `--client-ca-file=${join(pki, 'ca.crt')}`,
      `--service-account-key-file=${join(pki, 'sa.pub')}`, `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc', '--api-audiences=https://kubernetes.default.svc',
      '--authorization-mode=Node,RBAC', '--service-cluster-ip-range=10.96.0.0/24',
      '--allow-privileged=true', '--profiling=false', '--event-ttl=30m', '--max-requests-inflight=800', '-v=1',
      ...(this.o.extraFlags?.['kube-apiserver'] ?? []),
    ]);
    await this.until('kube-apiserver ready', async () => (await this.api('GET', '/readyz')).status === 200, 180_000);
  }

  /** Stops the API server (SIGTERM, as a rolling upgrade does) and starts it again on the same port and etcd. */
  async restartApiServer(): Promise<void> {
    await this.stopProc('kube-apiserver');
    await this.startApiServer();
  }

  /** One request with the admin client certificate; for the harness's own checks. */
  async api(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: string }> {
    const pki = join(this.dir, 'pki');
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((res) => {
      const req = request(`${this.server}${path}`, {
        method,
        ca: readFileSync(join(pki, 'ca.crt')),
        cert: readFileSync(join(pki, 'admin.crt')),
        key: readFileSync(join(pki, 'admin.key')),
        headers: data === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(data) },
        timeout: 10_000,
      }, (r) => {
        let b = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (b += c));
        r.on('end', () => res({ status: r.statusCode ?? 0, body: b }));
        r.on('error', () => res({ status: 0, body: '' }));
      });
      req.on('error', (e) => res({ status: 0, body: String(e) }));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end(data);
    });
  }

  private pki(): void {
    const d = join(this.dir, 'pki');
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    sh('openssl', ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=rondo-test-ca'], d);
    const issue = (name: string, subj: string, ext: string): void => {
      sh('openssl', ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], d);
      writeFileSync(join(d, `${name}.ext`), ext);
      sh('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], d);
    };
    issue('apiserver', '/CN=kube-apiserver', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n');
    // system:masters: the whole cluster, for the controllers, kwok, Rondo and the tests alike.
    issue('admin', '/O=system:masters/CN=rondo-test-admin', 'extendedKeyUsage=clientAuth\n');
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(d, 'sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(d, 'sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
    const b64 = (f: string): string => readFileSync(join(d, f)).toString('base64');
    writeFileSync(this.kubeconfig, `apiVersion: v1
kind: Config
clusters:
- name: rondo-test
  cluster:
    server: https://127.0.0.1:${this.ports.api}
    certificate-authority-data: ${b64('ca.crt')}
users:
- name: admin
  user:
    client-certificate-data: ${b64('admin.crt')}
    client-key-data: ${b64('admin.key')}
contexts:
- name: rondo-test
  context: { cluster: rondo-test, user: admin }
current-context: rondo-test
`, { mode: 0o600 });
  }

  /** A shell that kills every process group listed in the pid file once this process is gone (even by SIGKILL). */
  private startWatchdog(): void {
    writeFileSync(this.pidFile, '');
    const script = `while kill -0 ${process.pid} 2>/dev/null && [ -f "$1" ]; do sleep 1; done; [ -f "$1" ] && for p in $(cat "$1"); do kill -KILL -$p 2>/dev/null; done; exit 0`;
    this.watchdog = spawn('sh', ['-c', script, 'rondo-kube-real-watchdog', this.pidFile], { detached: true, stdio: 'ignore' });
    this.watchdog.unref();
  }

  private writePids(): void {
    if (existsSync(this.pidFile)) writeFileSync(this.pidFile, [...this.procs.values()].map((p) => String(p.child.pid)).join('\n'));
  }

  private spawn(name: Component, args: string[]): void {
    const fd = openSync(join(this.dir, 'logs', `${name}.log`), 'a');
    const child = spawn(join(this.o.bin, name), [...args, ...(name === 'kube-apiserver' ? [] : this.o.extraFlags?.[name] ?? [])], {
      cwd: this.dir,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    const exited = new Promise<void>((res) => child.once('exit', (code, sig) => {
      if (!this.stopped && this.procs.get(name)?.child === child) this.log(`${name} exited (${code ?? sig}); see ${join(this.dir, 'logs', `${name}.log`)}`);
      res();
    }));
    this.procs.set(name, { name, child, exited });
    this.writePids();
  }

  private async stopProc(name: Component, graceMs = 10_000): Promise<void> {
    const p = this.procs.get(name);
    if (!p) return;
    this.procs.delete(name);
    this.writePids();
    if (p.child.exitCode === null && p.child.signalCode === null) {
      try {
        process.kill(-p.child.pid!, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(-p.child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, graceMs);
      await p.exited;
      clearTimeout(t);
    }
  }

  /** Stops everything, clients first, etcd last; removes the directory unless asked to keep it. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const n of ['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'] as const) await this.stopProc(n);
    rmSync(this.pidFile, { force: true });
    live.delete(this);
    if (!this.o.keep) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort (process exit): SIGKILL every group still running. */
  killNow(): void {
    for (const p of this.procs.values()) {
      try {
        process.kill(-p.child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    this.procs.clear();
    rmSync(this.pidFile, { force: true });
  }

  /** The tail of one component's log, for failure messages. */
  logTail(name: Component, lines = 20): string {
    const f = join(this.dir, 'logs', `${name}.log`);
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-lines).join('\n') : '';
  }

  private async until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const t0 = Date.now();
    for (;;) {
      for (const p of this.procs.values()) {
        if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`control plane: ${p.name} exited while waiting for ${what}:\n${this.logTail(p.name)}`);
      }
      if (await fn().catch(() => false)) return;
      if (Date.now() - t0 > timeoutMs) throw new Error(`control plane: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function httpGet(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return r.text();
}
