import type { Command } from 'commander';
import { DEFAULT_SERVER } from '../../runtime/client/cli-support.js';
import { WorkerAgent, parseGpuSpec } from '../../runtime/agent/worker.js';
import { parseRunAs } from '../../runtime/agent/sandbox.js';
import { readWorkerToken } from '../../runtime/agent/token.js';

interface WorkerFlags {
  server?: string;
  token?: string;
  tokenFile?: string;
  runAs?: string[];
  passEnv?: string[];
  gpus: string;
  tier?: string;
  name?: string;
  jobServer?: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('run a worker agent: register GPUs with a server and run the jobs it leases as child processes')
    .option('--server <url>', 'server URL (default $RONDO_SERVER or http://127.0.0.1:8470)')
    .option('--token-file <file>', 'file holding the worker token (default $RONDO_WORKER_TOKEN, then $RONDO_TOKEN)')
    .option('--token <token>', 'worker token on the command line: visible to every local user, prefer --token-file')
    .option('--run-as <tenant=user...>', 'Unix user per tenant for its jobs (name, UID:GID, auto or self; tenant * for the rest); needs root')
    .option('--pass-env <name...>', 'agent environment variables jobs also get (beyond PATH, LANG, LC_*, TZ, TMPDIR)')
    .requiredOption('--gpus <spec>', 'GPUs of this machine, TYPE:COUNT[:TIER][,...], e.g. v100:4 or v100:2:spot')
    .option('--tier <tier>', 'spot (a preemptible machine: its GPUs register as TYPE-spot, and its loss counts as a revocation) or on-demand (default)')
    .option('--name <name>', 'name shown in the cluster view (default worker-<pid>)')
    .option('--job-server <url>', 'server URL handed to jobs as RONDO_SERVER (default --server)')
    .option('--quiet', 'log nothing but errors')
    .action(async (f: WorkerFlags) => {
      const log = f.quiet ? () => {} : (m: string) => process.stderr.write(`${new Date().toISOString()} ${m}\n`);
      const token = readWorkerToken(f, (m) => process.stderr.write(`${m}\n`));
      const runAs = parseRunAs(f.runAs ?? []);
      const agent = new WorkerAgent({
        server: f.server ?? process.env.RONDO_SERVER ?? DEFAULT_SERVER,
        token,
        gpus: parseGpuSpec(f.gpus, f.tier),
        ...(f.name ? { name: f.name } : {}),
        ...(f.jobServer ? { jobServerUrl: f.jobServer } : {}),
        runAs,
        ...(f.passEnv ? { passEnv: f.passEnv.flatMap((s) => s.split(',')).filter(Boolean) } : {}),
        log,
      });
      let stopping: Promise<void> | undefined;
      const stop = (sig: string): void => {
        log(`${sig}: stopping jobs (SIGTERM, then SIGKILL after the grace period)`);
        stopping ??= agent.stop();
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      await agent.start();
      process.stdout.write(`rondo worker: ${agent.id} ready\n`);
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (stopping) {
            clearInterval(t);
            stopping.then(resolve, resolve);
          }
        }, 100);
      });
    });
}
