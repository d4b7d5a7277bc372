import type { Command } from 'commander';
import { call, clientFrom } from '../../runtime/client/cli-support.js';

export function register(program: Command): void {
  program
    .command('cancel')
    .description('cancel jobs on a rondo server (a running job gets SIGTERM, then SIGKILL after the grace period)')
    .argument('<jobs...>', 'job ids')
    .option('--server <url>', 'server URL (default $RONDO_SERVER or http://127.0.0.1:8470)')
    .option('--token <token>', 'API token (default $RONDO_TOKEN or ./rondo.db.admin-token)')
    .action(async (ids: string[], f: { server?: string; token?: string }) => {
      const client = clientFrom(f);
      for (const id of ids) {
        const job = await call(() => client.post<{ id: string; state: string; cancelRequested: boolean }>(`/api/v1/jobs/${encodeURIComponent(id)}/cancel`));
        process.stdout.write(`${job.id}: ${job.state === 'cancelled' ? 'cancelled' : 'cancelling (process is being stopped)'}\n`);
      }
    });
}
