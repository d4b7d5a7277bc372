import type { Command } from 'commander';
import { positiveInt, seconds } from '../../runtime/client/cli-support.js';
import { startServer } from '../../runtime/serve.js';
import { parseGpuSpec } from '../../runtime/agent/worker.js';
import { parseRunAs } from '../../runtime/agent/sandbox.js';
import { readThroughputs } from '../../io/index.js';
import { DEFAULT_THROUGHPUTS } from '../../sim/index.js';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { RondoError } from '../../model/errors.js';
import { DEFAULT_KUBE, parseChangeWindow, parseMaxChanges, parseTypeMap, parseTypeMapFile, type KubeOptions } from '../../kube/config.js';
import { kubeChangeBudget } from '../../kube/change-budget.js';
import { startKube } from '../../kube/serve.js';
import { parseSpotLabels } from '../../kube/spot.js';
import { parseKinds } from '../../kube/kinds/index.js';
import type { PriceSource } from '../../runtime/server/prices.js';
import { checkKeepPlans, DEFAULT_KEEP_PLANS } from '../../runtime/server/store/index.js';

interface ServeFlags {
  db: string;
  host: string;
  port: string;
  policy?: string;
  round: string;
  grace: string;
  heartbeat: string;
  workerTimeout: string;
  localWorkers: string;
  localGpus: string;
  checkpointDir?: string;
  jobRoot?: string[];
  runAs?: string[];
  passEnv?: string[];
  quiet?: boolean;
  throughputs: string;
  estimate: boolean;
  backfill: boolean;
  rateLimit: string;
  prices?: string;
  pricesUrl?: string;
  pricesInterval: string;
  repriceThreshold: string;
  tenants?: string;
  keepPlans: string;
  maxChanges?: string;
  changeWindow?: string;
  // Kubernetes driver (src/kube)
  kube?: boolean;
  kubeTypes?: string;
  kubeTypesFile?: string;
  kubeKinds: string;
  kubeLabel: string;
  kubeNamespace?: string;
  kubeconfig?: string;
  kubePendingTimeout: string;
  kubeJobServer?: string;
  kubeLeaderLease?: string;
  kubeSpotLabels?: string;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the scheduler server (REST API, SQLite store); with --local-workers, also run jobs on this machine')
    .option('--db <file>', 'SQLite store (created on first start)', 'rondo.db')
    .option('--host <addr>', 'address to bind (loopback unless told otherwise)', '127.0.0.1')
    .option('--port <n>', 'TCP port (0 = any free port)', '8470')
    .option('--policy <name>', 'scheduling policy from the registry (default max_min_fairness_perf; tenant_quota with --tenants)')
    .option('--round <s>', 'round length in seconds', '360')
    .option('--grace <s>', 'seconds between SIGTERM and SIGKILL when a lease ends', '30')
    .option('--heartbeat <s>', 'seconds between worker syncs', '2')
    .option('--worker-timeout <s>', 'seconds of silence after which a worker is lost', '15')
    .option('--local-workers <n>', 'worker agents to run inside this process', '0')
    .option('--local-gpus <spec>', 'GPUs of each local worker, TYPE:COUNT[:TIER][,...] (e.g. v100:2:spot)', 'local:1')
    .option('--checkpoint-dir <dir>', 'root of per-job checkpoint directories (default /var/lib/rondo/checkpoints/<id> as root, else ~/.local/share/rondo/checkpoints/<id>)')
    .option('--job-root <dir...>', 'only accept jobs whose working directory is inside one of these (default for tenants: /home and the temporary directory)')
    .option('--run-as <tenant=user...>', 'Unix user per tenant for the local workers\' jobs (name, UID:GID, auto or self; * for the rest); needs root')
    .option('--pass-env <name...>', 'environment variables of this process the local workers\' jobs also get')
    .option('--throughputs <file>', "throughput table (Gavel JSON): jobs naming a job type it knows get its throughputs, others estimates from it (docs/estimate.md)", DEFAULT_THROUGHPUTS)
    .option('--no-estimate', 'no table and no estimates: a job counts as equally fast on every type it has not run on')
    .option('--max-changes <n|auto|none>', 'change budget: at most n jobs whose placement a round changes (starts, stops, moves); auto (the default with --kube): as many as the API server\'s measured write rate completes in --change-window; none: no limit (the default without --kube); docs/kubernetes.md, Scale')
    .option('--change-window <s>', 'with --kube and --max-changes auto: seconds a round\'s admissions and stops should take to reach the API server (default: a tenth of --round)')
    .option('--no-backfill', 'keep idle GPUs idle until the next round (default: a job that arrives, or a GPU freed early, is used at once)')
    .option('--keep-plans <n>', `rounds whose whole plan and allocation the store keeps; older rounds keep a summary row (~740 KB a round at 10,000 jobs; docs/runtime.md, Store)`, String(DEFAULT_KEEP_PLANS))
    .option('--rate-limit <n>', 'requests a minute per tenant or job token, 429 beyond (0 = no limit)', '1200')
    .option('--quiet', 'do not log scheduler and worker events')
    .option('--prices <file>', 'GPU prices, a price file (docs/formats.md; each type\'s last row is its price now; tier spot prices v100-spot): re-read every --prices-interval; cost so far in the API and dashboard')
    .option('--prices-url <url>', 'the same from an HTTP endpoint, polled every --prices-interval; a failed read keeps the last good prices')
    .option('--prices-interval <s>', 'seconds between reads of --prices / --prices-url', '60')
    .option('--reprice-threshold <fraction>', 're-solve the allocation when a price moves more than this fraction', '0.1')
    .option('--tenants <file>', 'tenant tree (YAML or JSON, docs/tenants.md): guarantees, borrowing and lending; tenant tokens name its tenants; SIGHUP reloads it')
    // Kubernetes driver (src/kube, docs/kubernetes.md)
    .option('--kube', 'schedule labelled batch/v1 Jobs (rondo.dev/queue) on this Kubernetes cluster\'s GPU nodes')
    .option('--kube-types <map>', 'node label value -> GPU type, PRODUCT=type[,...] (e.g. Tesla-T4=t4)')
    .option('--kube-types-file <file>', 'the same map, one PRODUCT=type per line (a mounted ConfigMap)')
    .option('--kube-kinds <list>', 'workload kinds to schedule: job (batch/v1), jobset (JobSet), pytorchjob (Kubeflow PyTorchJob); a kind whose CRD is missing is reported and skipped', 'job')
    .option('--kube-label <label>', 'node label holding the GPU product', DEFAULT_KUBE.typeLabel)
    .option('--kube-namespace <ns>', 'only Jobs of this namespace (default: all)')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--kube-pending-timeout <s>', 'suspend a Job whose pod stays Pending this long', String(DEFAULT_KUBE.pendingTimeoutMs / 1000))
    .option('--kube-job-server <url>', 'URL jobs use to reach this server (written into each Job\'s <job>-rondo Secret)')
    .option('--kube-spot-labels <list>', 'node labels that mark spot nodes, LABEL=VALUE[,...] (default: GKE, EKS, Karpenter and AKS spot labels; docs/spot.md)')
    .option('--kube-leader-lease <ns/name>', 'leader election through this coordination.k8s.io Lease (for two replicas)')
    .action(async (f: ServeFlags) => {
      const log = f.quiet ? () => {} : (m: string) => process.stderr.write(`${new Date().toISOString()} ${m}\n`);
      const roundS = seconds('--round', f.round);
      // The change budget: fixed, none, or (the default with --kube) measured by the driver and read at each plan.
      const setting = parseMaxChanges(f.maxChanges, !!f.kube);
      const budget = kubeChangeBudget(setting, parseChangeWindow(f.changeWindow, roundS, setting));
      const kubeOpts = f.kube ? kubeOptions(f) : undefined;
      const srv = await startServer({
        db: f.db,
        host: f.host,
        port: positiveInt('--port', f.port, 65535),
        ...(f.policy ? { policy: f.policy } : {}),
        ...(f.tenants ? { tenants: f.tenants } : {}),
        timing: {
          roundMs: roundS * 1000,
          graceMs: seconds('--grace', f.grace) * 1000,
          heartbeatMs: seconds('--heartbeat', f.heartbeat) * 1000,
          workerTimeoutMs: seconds('--worker-timeout', f.workerTimeout) * 1000,
        },
        backfill: f.backfill,
        ...(budget.maxChanges !== undefined ? { maxChanges: budget.maxChanges } : {}),
        localWorkers: positiveInt('--local-workers', f.localWorkers, 64),
        localGpus: parseGpuSpec(f.localGpus),
        runAs: parseRunAs(f.runAs ?? []),
        ...(f.passEnv ? { passEnv: f.passEnv.flatMap((s) => s.split(',')).filter(Boolean) } : {}),
        ...(f.estimate ? { throughputs: readThroughputs(f.throughputs) } : {}),
        ...(f.checkpointDir ? { checkpointRoot: f.checkpointDir } : {}),
        ...(f.jobRoot ? { jobRoots: f.jobRoot } : {}),
        limits: { ratePerMinute: positiveInt('--rate-limit', f.rateLimit) },
        keepPlans: keepPlansFlag(f.keepPlans),
        ...priceOptions(f),
        log,
      });
      const kube = kubeOpts ? await startKube(srv, { ...kubeOpts, ...(budget.auto ? { changeBudget: budget.auto } : {}) }, log) : undefined;
      // One write: a reader that sees the URL also sees the token line.
      process.stdout.write(
        `rondo serve: listening on ${srv.url} (policy ${srv.scheduler.policyName}, store ${srv.store.path})\n` +
          (srv.adminToken ? `admin token (shown once; also in ${srv.adminTokenFile}, mode 0600):\n${srv.adminToken}\n` : `admin token: see ${srv.adminTokenFile}\n`),
      );
      await new Promise<void>((resolve) => {
        const stop = (sig: string): void => {
          process.stderr.write(`rondo serve: ${sig}, stopping\n`);
          (kube ? kube.close() : Promise.resolve()).then(() => srv.close()).then(resolve, resolve);
        };
        // SIGHUP reloads the tenant tree; a bad file is reported with its line and the tree in force stays.
        process.on('SIGHUP', () => {
          if (!srv.tenants) {
            process.stderr.write('rondo serve: SIGHUP: no --tenants file to reload\n');
            return;
          }
          try {
            srv.tenants.reload();
          } catch (e) {
            // Not quiet: reload() has logged it already.
            if (f.quiet) process.stderr.write(`rondo serve: SIGHUP: ${(e as Error).message}\n`);
          }
        });
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}

/** `--keep-plans`: a whole number of rounds, 1 (the live plan is the last round's) to the summaries kept. */
export function keepPlansFlag(v: string): number {
  return checkKeepPlans(/^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN, JSON.stringify(v));
}

function priceOptions(f: ServeFlags): { prices?: PriceSource } {
  if (f.prices === undefined && f.pricesUrl === undefined) return {};
  if (f.prices !== undefined && f.pricesUrl !== undefined) throw new RondoError({ code: 'E_USAGE', problem: 'give --prices or --prices-url, not both' });
  const threshold = Number(f.repriceThreshold);
  if (f.repriceThreshold.trim() === '' || !(threshold >= 0)) throw new RondoError({ code: 'E_USAGE', problem: 'bad --reprice-threshold', expected: 'a fraction >= 0, e.g. 0.1', found: JSON.stringify(f.repriceThreshold) });
  return {
    prices: {
      ...(f.prices !== undefined ? { file: f.prices } : { url: f.pricesUrl! }),
      intervalMs: seconds('--prices-interval', f.pricesInterval) * 1000,
      threshold,
    },
  };
}

function kubeOptions(f: ServeFlags): KubeOptions {
  let typeMap: Record<string, string>;
  if (f.kubeTypes) typeMap = parseTypeMap(f.kubeTypes);
  else if (f.kubeTypesFile) {
    let text: string;
    try {
      text = readFileSync(f.kubeTypesFile, 'utf8');
    } catch (e) {
      throw new RondoError({ code: 'E_IO', problem: `cannot read --kube-types-file: ${(e as Error).message}`, file: f.kubeTypesFile });
    }
    typeMap = parseTypeMapFile(text, f.kubeTypesFile);
  } else throw new RondoError({ code: 'E_USAGE', problem: '--kube needs --kube-types or --kube-types-file', hint: 'map node label values to GPU types, e.g. --kube-types Tesla-V100-SXM2-16GB=v100' });
  let leader: KubeOptions['leader'];
  if (f.kubeLeaderLease) {
    const [namespace, name, extra] = f.kubeLeaderLease.split('/');
    if (!namespace || !name || extra !== undefined) throw new RondoError({ code: 'E_USAGE', problem: `bad --kube-leader-lease ${JSON.stringify(f.kubeLeaderLease)}`, expected: 'NAMESPACE/NAME' });
    leader = { namespace, name, identity: process.env.POD_NAME ?? `${hostname()}-${process.pid}`, leaseSeconds: 15 };
  }
  return {
    ...DEFAULT_KUBE,
    typeLabel: f.kubeLabel,
    typeMap,
    kinds: parseKinds(f.kubeKinds),
    pendingTimeoutMs: seconds('--kube-pending-timeout', f.kubePendingTimeout) * 1000,
    ...(f.kubeNamespace ? { namespace: f.kubeNamespace } : {}),
    ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}),
    ...(f.kubeJobServer ? { jobServerUrl: f.kubeJobServer } : {}),
    ...(leader ? { leader } : {}),
    ...(f.kubeSpotLabels !== undefined ? { spotLabels: parseSpotLabels(f.kubeSpotLabels) } : {}),
  };
}
