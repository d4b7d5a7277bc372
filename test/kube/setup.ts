/**
 * One test cluster: the fake API server, its controllers and kubelets, and a real Rondo server (in this process,
 * fresh SQLite store) with the Kubernetes driver talking to the fake through @kubernetes/client-node.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import { startKube, type RunningKube } from '../../src/kube/serve.js';
import { parseChangeWindow, parseMaxChanges, type KubeOptions } from '../../src/kube/config.js';
import { kubeChangeBudget, type AutoChangeBudget } from '../../src/kube/change-budget.js';
import type { ThroughputTable } from '../../src/model/throughput.js';
import { FakeApiServer, type Obj } from './fake-apiserver.js';
import { FakeCluster, type FakeClusterOptions } from './fake-cluster.js';

export const PRODUCTS: Record<string, string> = { 'Tesla-V100-SXM2-16GB': 'v100', 'Tesla-P100-PCIE-16GB': 'p100', 'Tesla-K80': 'k80' };

export interface Env {
  api: FakeApiServer;
  cluster: FakeCluster;
  srv: RunningServer;
  kube: RunningKube;
  dir: string;
  kubeconfig: string;
  kubeOpts: KubeOptions;
  /** The automatic change budget of this boot (`budget` option with auto). */
  budget: AutoChangeBudget | undefined;
  /** Each read of the automatic budget by the planner: when, and what it answered. */
  budgetReads: Array<{ at: number; budget: number | undefined }>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startEnv(o: {
  name: string;
  throughputs: FakeClusterOptions['throughputs'];
  speedup?: number;
  roundMs?: number;
  nodes?: (c: FakeCluster) => void;
  kube?: Partial<KubeOptions>;
  policy?: string;
  /** The server's worker timeout (ms): how long a stalled driver pass may last before node-workers are lost. */
  workerTimeoutMs?: number;
  /** The server's throughput table (`rondo serve --throughputs`); without one, unmeasured types count as equally fast. */
  serverThroughputs?: ThroughputTable;
  /** Jobs that exist before Rondo starts (its first pass submits them all before any node-worker joins). */
  jobs?: Obj[];
  /** A tenant tree file (`rondo serve --tenants`): queue labels are its tenants. */
  tenants?: string;
  /** Custom resources the fake API server serves (default: JobSet and PyTorchJob both). */
  crds?: readonly string[];
  /** The driver's log lines (besides RONDO_KUBE_DEBUG's stderr). */
  log?: (m: string) => void;
  /**
   * The change budget as `rondo serve --kube` builds it from `--max-changes` and `--change-window` (undefined: the
   * flag left out, i.e. auto). Without this option the server plans with no budget, as before the automatic one.
   */
  budget?: { maxChanges?: string; changeWindow?: string };
}): Promise<Env> {
  const dir = join(tmpdir(), `rondo-kube-${o.name}-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const api = new FakeApiServer(o.crds ? { crds: o.crds } : {});
  await api.start();
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, api.kubeconfig());
  api.create('namespaces', { metadata: { name: 'default' } });
  const cluster = new FakeCluster(api, { throughputs: o.throughputs, speedup: o.speedup ?? 1, tickMs: 20 });
  o.nodes?.(cluster);
  for (const j of o.jobs ?? []) api.create('jobs', j);
  cluster.start();
  const roundMs = o.roundMs ?? 1500;
  // A generous worker timeout: CI machines are shared, and a lost node-worker requeues its jobs.
  const timing = { roundMs, heartbeatMs: 200, graceMs: 500, workerTimeoutMs: o.workerTimeoutMs ?? 5000 };
  const db = join(dir, 'rondo.db');
  const kubeOpts: KubeOptions = { typeLabel: 'nvidia.com/gpu.product', typeMap: PRODUCTS, pendingTimeoutMs: 10_000, shortForMs: 5_000, kubeconfig, tickMs: 100, ...o.kube };
  const env: Env = {
    api,
    cluster,
    dir,
    kubeconfig,
    kubeOpts,
    budget: undefined,
    budgetReads: [],
    srv: undefined as unknown as RunningServer,
    kube: undefined as unknown as RunningKube,
    async restart() {
      await env.kube.close();
      await env.srv.close();
      await boot();
    },
    async close() {
      await env.kube.close();
      await env.srv.close();
      cluster.stop();
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  async function boot(): Promise<void> {
    const debug = process.env.RONDO_KUBE_DEBUG ? (m: string) => process.stderr.write(`${new Date().toISOString()} ${m}\n`) : undefined;
    const log =
      o.log || debug
        ? (m: string): void => {
            o.log?.(m);
            debug?.(m);
          }
        : undefined;
    // As the CLI does (src/cli/commands/serve.ts): parsed flags -> what the server plans with and the driver feeds.
    const setting = o.budget ? parseMaxChanges(o.budget.maxChanges, true) : 'none';
    const budget = kubeChangeBudget(setting, parseChangeWindow(o.budget?.changeWindow, roundMs / 1000, setting));
    env.budget = budget.auto;
    const provider = budget.maxChanges;
    env.srv = await startServer({
      // Every budget the planner reads, with when (tests match them to the plans in the store).
      ...(typeof provider === 'function'
        ? {
            maxChanges: () => {
              const b = provider();
              env.budgetReads.push({ at: Date.now(), budget: b });
              return b;
            },
          }
        : provider !== undefined
          ? { maxChanges: provider }
          : {}),
      db,
      port: 0,
      policy: o.policy ?? 'max_min_fairness_perf',
      timing,
      ...(o.tenants ? { tenants: o.tenants } : {}),
      ...(log ? { log } : {}),
      ...(o.serverThroughputs ? { throughputs: o.serverThroughputs } : {}),
    });
    env.kube = await startKube(env.srv, { ...kubeOpts, jobServerUrl: env.srv.url, ...(budget.auto ? { changeBudget: budget.auto } : {}) }, log);
  }
  await boot();
  return env;
}

/** A Rondo-labelled Job as a user would write it: suspended, GPU limits, the per-job Secret referenced. */
export function trainingJob(name: string, o: { queue?: string; gpus?: number; jobType?: string; steps?: number; gpuTypes?: string; suspend?: boolean; labels?: Record<string, string>; nodeSelector?: Record<string, string> } = {}): Obj {
  return {
    metadata: {
      name,
      namespace: 'default',
      labels: { ...(o.queue !== undefined ? { 'rondo.dev/queue': o.queue } : {}), ...o.labels },
      annotations: { 'rondo.dev/job-type': o.jobType ?? 'resnet', 'rondo.dev/total-steps': String(o.steps ?? 100), ...(o.gpuTypes ? { 'rondo.dev/gpu-types': o.gpuTypes } : {}) },
    },
    spec: {
      suspend: o.suspend ?? true,
      template: {
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 30,
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
          containers: [{ name: 'train', image: 'example/train:1', envFrom: [{ secretRef: { name: `${name}-rondo`, optional: true } }], resources: { limits: { 'nvidia.com/gpu': String(o.gpus ?? 1) } } }],
        },
      },
    },
  };
}

export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
