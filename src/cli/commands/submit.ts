import type { Command } from 'commander';
import { RondoError } from '../../model/errors.js';
import { call, clientFrom, jsonText, plain, positiveInt } from '../../runtime/client/cli-support.js';

interface SubmitFlags {
  server?: string;
  token?: string;
  gpus: string;
  type?: string;
  jobType?: string;
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
    .option('--job-type <jobType>', "job type (model name, e.g. 'ResNet-50 (batch size 64)'): a type the server's throughput table knows gets its throughputs from there, any other is estimated")
    .option('--type <jobType>', 'the same as --job-type')
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
        ...((f.jobType ?? f.type) ? { jobType: f.jobType ?? f.type } : {}),
        ...(f.tenant ? { tenant: f.tenant } : {}),
        ...(f.weight ? { priorityWeight: num('--weight', f.weight) } : {}),
        ...(f.steps ? { totalSteps: num('--steps', f.steps) } : {}),
        ...(f.name ? { name: f.name } : {}),
        ...(f.gpuTypes ? { gpuTypes: f.gpuTypes.split(',').map((s) => s.trim().toLowerCase()) } : {}),
      };
      const client = clientFrom(f);
      const job = await call(() => client.post<{ id: string; state: string }>('/api/v1/jobs', body));
      process.stdout.write(f.json ? jsonText(job) + '\n' : `${job.id}\n`);
      // A shape no live worker can hold is accepted (a bigger worker may join) but said at once, on stderr.
      const why = await client.get<{ why: { kind: string; text: string } | null }>(`/api/v1/jobs/${encodeURIComponent(job.id)}/why`).catch(() => undefined);
      if (why?.why?.kind === 'never') process.stderr.write(`rondo: warning: ${job.id} ${plain(why.why.text)}\n`);
    });
}
