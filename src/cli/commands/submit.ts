import type { Command } from 'commander';
import { RondoError } from '../../model/errors.js';
import { call, clientFrom, jsonText, positiveInt } from '../../runtime/client/cli-support.js';

interface SubmitFlags {
  server?: string;
  token?: string;
  gpus: string;
  type?: string;
  tenant?: string;
  weight?: string;
  steps?: string;
  name?: string;
  gpuTypes?: string;
  env?: string[];
  cwd?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('submit')
    .description('submit a job to a rondo server: rondo submit [options] -- <command...>')
    .argument('<command...>', 'the program and its arguments (run without a shell)')
    .option('--server <url>', 'server URL (default $RONDO_SERVER or http://127.0.0.1:8470)')
    .option('--token <token>', 'API token (default $RONDO_TOKEN or ./rondo.db.admin-token)')
    .option('--gpus <n>', 'GPUs (scale factor), gang-scheduled on one worker', '1')
    .option('--type <jobType>', 'job type (model name) when known')
    .option('--tenant <name>', 'tenant (admin tokens only; a tenant token implies its tenant)')
    .option('--weight <w>', 'priority weight')
    .option('--steps <n>', 'total steps, when known (the job may also report it)')
    .option('--name <name>', 'a label for the job')
    .option('--gpu-types <list>', 'GPU types the job may use, comma-separated')
    .option('--env <KEY=VALUE...>', 'extra environment variables')
    .option('--cwd <dir>', 'working directory (default: the current directory)')
    .option('--json', 'print the job as JSON')
    .action(async (command: string[], f: SubmitFlags) => {
      const env: Record<string, string> = {};
      for (const kv of f.env ?? []) {
        const i = kv.indexOf('=');
        if (i <= 0) throw new RondoError({ code: 'E_USAGE', problem: 'bad --env', expected: 'KEY=VALUE', found: kv });
        env[kv.slice(0, i)] = kv.slice(i + 1);
      }
      const num = (flag: string, v: string | undefined): number | undefined => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0) throw new RondoError({ code: 'E_USAGE', problem: `bad ${flag}`, expected: 'a number above 0', found: v });
        return n;
      };
      const body = {
        command,
        cwd: f.cwd ?? process.cwd(),
        scaleFactor: Math.max(1, positiveInt('--gpus', f.gpus, 1024)),
        ...(Object.keys(env).length ? { env } : {}),
        ...(f.type ? { jobType: f.type } : {}),
        ...(f.tenant ? { tenant: f.tenant } : {}),
        ...(f.weight ? { priorityWeight: num('--weight', f.weight) } : {}),
        ...(f.steps ? { totalSteps: num('--steps', f.steps) } : {}),
        ...(f.name ? { name: f.name } : {}),
        ...(f.gpuTypes ? { gpuTypes: f.gpuTypes.split(',').map((s) => s.trim().toLowerCase()) } : {}),
      };
      const client = clientFrom(f);
      const job = await call(() => client.post<{ id: string; state: string }>('/api/v1/jobs', body));
      process.stdout.write(f.json ? jsonText(job) + '\n' : `${job.id}\n`);
    });
}
