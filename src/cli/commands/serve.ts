import type { Command } from 'commander';
import { positiveInt, seconds } from '../../runtime/client/cli-support.js';
import { startServer } from '../../runtime/serve.js';
import { parseGpuSpec } from '../../runtime/agent/worker.js';
import { parseRunAs } from '../../runtime/agent/sandbox.js';
import { readThroughputs } from '../../io/index.js';
import { DEFAULT_THROUGHPUTS } from '../../sim/index.js';

interface ServeFlags {
  db: string;
  host: string;
  port: string;
  policy: string;
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
  rateLimit: string;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the scheduler server (REST API, SQLite store); with --local-workers, also run jobs on this machine')
    .option('--db <file>', 'SQLite store (created on first start)', 'rondo.db')
    .option('--host <addr>', 'address to bind (loopback unless told otherwise)', '127.0.0.1')
    .option('--port <n>', 'TCP port (0 = any free port)', '8470')
    .option('--policy <name>', 'scheduling policy from the registry (e.g. max_min_fairness_perf, fifo)', 'max_min_fairness_perf')
    .option('--round <s>', 'round length in seconds', '360')
    .option('--grace <s>', 'seconds between SIGTERM and SIGKILL when a lease ends', '30')
    .option('--heartbeat <s>', 'seconds between worker syncs', '2')
    .option('--worker-timeout <s>', 'seconds of silence after which a worker is lost', '15')
    .option('--local-workers <n>', 'worker agents to run inside this process', '0')
    .option('--local-gpus <spec>', 'GPUs of each local worker, TYPE:COUNT[,...]', 'local:1')
    .option('--checkpoint-dir <dir>', 'root of per-job checkpoint directories (default /var/lib/rondo/checkpoints/<id> as root, else ~/.local/share/rondo/checkpoints/<id>)')
    .option('--job-root <dir...>', 'only accept jobs whose working directory is inside one of these (default for tenants: /home and the temporary directory)')
    .option('--run-as <tenant=user...>', 'Unix user per tenant for the local workers\' jobs (name, UID:GID, auto or self; * for the rest); needs root')
    .option('--pass-env <name...>', 'environment variables of this process the local workers\' jobs also get')
    .option('--throughputs <file>', "throughput table (Gavel JSON): jobs naming a job type it knows get its throughputs, others estimates from it (docs/estimate.md)", DEFAULT_THROUGHPUTS)
    .option('--no-estimate', 'no table and no estimates: a job counts as equally fast on every type it has not run on')
    .option('--rate-limit <n>', 'requests a minute per tenant or job token, 429 beyond (0 = no limit)', '1200')
    .option('--quiet', 'do not log scheduler and worker events')
    .action(async (f: ServeFlags) => {
      const log = f.quiet ? () => {} : (m: string) => process.stderr.write(`${new Date().toISOString()} ${m}\n`);
      const srv = await startServer({
        db: f.db,
        host: f.host,
        port: positiveInt('--port', f.port, 65535),
        policy: f.policy,
        timing: {
          roundMs: seconds('--round', f.round) * 1000,
          graceMs: seconds('--grace', f.grace) * 1000,
          heartbeatMs: seconds('--heartbeat', f.heartbeat) * 1000,
          workerTimeoutMs: seconds('--worker-timeout', f.workerTimeout) * 1000,
        },
        localWorkers: positiveInt('--local-workers', f.localWorkers, 64),
        localGpus: parseGpuSpec(f.localGpus),
        runAs: parseRunAs(f.runAs ?? []),
        ...(f.passEnv ? { passEnv: f.passEnv.flatMap((s) => s.split(',')).filter(Boolean) } : {}),
        ...(f.estimate ? { throughputs: readThroughputs(f.throughputs) } : {}),
        ...(f.checkpointDir ? { checkpointRoot: f.checkpointDir } : {}),
        ...(f.jobRoot ? { jobRoots: f.jobRoot } : {}),
        limits: { ratePerMinute: positiveInt('--rate-limit', f.rateLimit) },
        log,
      });
      // One write: a reader that sees the URL also sees the token line.
      process.stdout.write(
        `rondo serve: listening on ${srv.url} (policy ${srv.scheduler.policyName}, store ${srv.store.path})\n` +
          (srv.adminToken ? `admin token (shown once; also in ${srv.adminTokenFile}, mode 0600):\n${srv.adminToken}\n` : `admin token: see ${srv.adminTokenFile}\n`),
      );
      await new Promise<void>((resolve) => {
        const stop = (sig: string): void => {
          process.stderr.write(`rondo serve: ${sig}, stopping\n`);
          srv.close().then(resolve, resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}
