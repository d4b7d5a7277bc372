import type { Command } from 'commander';
import { call, clientFrom, jsonText, plain, positiveInt, table } from '../../runtime/client/cli-support.js';

interface StatusFlags {
  server?: string;
  token?: string;
  json?: boolean;
  state?: string;
  limit?: string;
  after?: string;
}

interface JobView {
  id: string;
  tenant: string;
  state: string;
  scaleFactor: number;
  stepsDone: number;
  totalSteps: number | null;
  attempts: number;
  command: string[];
}

export function register(program: Command): void {
  program
    .command('status')
    .description('show the cluster and jobs of a rondo server, or one job in detail')
    .argument('[job]', 'a job id')
    .option('--server <url>', 'server URL (default $RONDO_SERVER or http://127.0.0.1:8470)')
    .option('--token <token>', 'API token (default $RONDO_TOKEN or ./rondo.db.admin-token)')
    .option('--state <list>', 'only jobs in these states, e.g. queued,running')
    .option('--limit <n>', 'jobs per page, 1 to 1000 (default 100, the server\'s page)')
    .option('--after <cursor>', 'the page after this cursor (printed under a full page)')
    .option('--json', 'print JSON')
    .action(async (jobId: string | undefined, f: StatusFlags) => {
      const client = clientFrom(f);
      if (jobId) {
        const job = await call(() => client.get<Record<string, unknown>>(`/api/v1/jobs/${encodeURIComponent(jobId)}`));
        process.stdout.write(jsonText(job) + '\n');
        return;
      }
      const params = new URLSearchParams();
      if (f.state) params.set('state', f.state);
      if (f.limit) params.set('limit', String(positiveInt('--limit', f.limit, 1000)));
      if (f.after) params.set('after', String(positiveInt('--after', f.after, Number.MAX_SAFE_INTEGER)));
      const q = params.size > 0 ? `?${params.toString()}` : '';
      const [jobs, cluster] = await Promise.all([
        call(() => client.get<{ jobs: JobView[]; next: string | null }>(`/api/v1/jobs${q}`)),
        call(() => client.get<{ policy: string; workers: Array<{ id: string; name: string; state: string; gpus: Array<{ type: string; count: number }>; running: unknown[] }>; gpus: Record<string, { total: number; busy: number }> }>('/api/v1/cluster').catch(() => undefined)),
      ]);
      if (f.json) {
        process.stdout.write(jsonText({ cluster, jobs: jobs.jobs, next: jobs.next }) + '\n');
        return;
      }
      if (cluster) {
        const gpus = Object.entries(cluster.gpus).map(([t, g]) => `${t} ${g.busy}/${g.total} busy`).join(', ') || 'no GPUs';
        process.stdout.write(plain(`policy ${cluster.policy}; ${cluster.workers.filter((w) => w.state === 'alive').length} live workers; ${gpus}`) + '\n');
      }
      const rows = [['JOB', 'TENANT', 'STATE', 'GPUS', 'STEPS', 'ATTEMPTS', 'COMMAND']];
      for (const j of jobs.jobs) {
        rows.push([j.id, j.tenant, j.state, String(j.scaleFactor), `${j.stepsDone}${j.totalSteps !== null ? `/${j.totalSteps}` : ''}`, String(j.attempts), j.command.join(' ').slice(0, 60)]);
      }
      process.stdout.write(table(rows));
      if (jobs.next !== null) process.stdout.write(`more jobs: rondo status --after ${jobs.next}${f.state ? ` --state ${f.state}` : ''}\n`);
    });
}
