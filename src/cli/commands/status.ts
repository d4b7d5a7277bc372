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

interface WhyView {
  position: number | null;
  queued: number;
  estimatedStart: string | null;
  estimatedFinish: string | null;
  why: { kind: string; text: string; round: number | null } | null;
  preemption: { kind: string; text: string; round: number } | null;
  preemptions: number;
}

const at = (iso: string | null): string => (iso ? new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '–');

/** One job for a person: its facts, then where it stands in the queue and the planner's reason. */
function jobText(j: JobView & Record<string, unknown>, w: WhyView | undefined): string {
  const lines = [
    `${j.id}  ${j.state}  tenant ${j.tenant}  ${j.scaleFactor} GPU${j.scaleFactor > 1 ? 's' : ''}${Array.isArray(j.gpuTypes) ? ` of ${(j.gpuTypes as string[]).join(' or ')}` : ''}`,
    `steps     ${j.stepsDone}${j.totalSteps !== null ? ` / ${j.totalSteps}` : ''}`,
    `command   ${j.command.join(' ')}`,
  ];
  if (w && j.state === 'queued') {
    if (w.why?.kind === 'never') lines.push('position  none: it cannot start on the current workers');
    else lines.push(`position  ${w.position ?? '–'} of ${w.queued} queued`, `start     ${w.estimatedStart ? `about ${at(w.estimatedStart)}` : 'not estimated yet'}`);
    lines.push(`why       ${w.why ? w.why.text : 'no round has been planned since it arrived'}`);
  }
  if (w?.preemption) lines.push(`last ${w.preemption.kind === 'moved' ? 'move' : 'preemption'}  ${w.preemption.text}`);
  if (typeof j.failure === 'string') lines.push(`failure   ${j.failure}`);
  return lines.join('\n') + '\n';
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
        const job = await call(() => client.get<Record<string, unknown> & JobView>(`/api/v1/jobs/${encodeURIComponent(jobId)}`));
        // Where it stands and why (a server without the endpoint simply has no answer).
        const why = job.state === 'queued' || job.state === 'running' ? await client.get<WhyView>(`/api/v1/jobs/${encodeURIComponent(jobId)}/why`).catch(() => undefined) : undefined;
        if (f.json) {
          process.stdout.write(jsonText({ ...job, ...(why ? { why } : {}) }) + '\n');
          return;
        }
        process.stdout.write(plain(jobText(job, why)));
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
