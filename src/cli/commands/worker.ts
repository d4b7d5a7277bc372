import type { Command } from 'commander';
import { RondoError } from '../../model/errors.js';
import { DEFAULT_SERVER } from '../../runtime/client/cli-support.js';
import { WorkerAgent, parseGpuSpec } from '../../runtime/agent/worker.js';

interface WorkerFlags {
  server?: string;
  token?: string;
  gpus: string;
  name?: string;
  jobServer?: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('run a worker agent: register GPUs with a server and run the jobs it leases as child processes')
    .option('--server <url>', 'server URL (default $RONDO_SERVER or http://127.0.0.1:8470)')
    .option('--token <token>', 'worker token from the admin (default $RONDO_TOKEN)')
    .requiredOption('--gpus <spec>', 'GPUs of this machine, TYPE:COUNT[,...], e.g. v100:4')
    .option('--name <name>', 'name shown in the cluster view (default worker-<pid>)')
    .option('--job-server <url>', 'server URL handed to jobs as RONDO_SERVER (default --server)')
    .option('--quiet', 'log nothing but errors')
    .action(async (f: WorkerFlags) => {
      const token = f.token ?? process.env.RONDO_TOKEN;
      if (!token) throw new RondoError({ code: 'E_USAGE', problem: 'no worker token', hint: 'pass --token or set RONDO_TOKEN (create one with POST /api/v1/tokens {"kind":"worker"})' });
      const log = f.quiet ? () => {} : (m: string) => process.stderr.write(`${new Date().toISOString()} ${m}\n`);
      const agent = new WorkerAgent({
        server: f.server ?? process.env.RONDO_SERVER ?? DEFAULT_SERVER,
        token,
        gpus: parseGpuSpec(f.gpus),
        ...(f.name ? { name: f.name } : {}),
        ...(f.jobServer ? { jobServerUrl: f.jobServer } : {}),
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
