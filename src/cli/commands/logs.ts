import type { Command } from 'commander';
import { call, clientFrom, plain } from '../../runtime/client/cli-support.js';

interface LogsFlags {
  server?: string;
  token?: string;
  follow?: boolean;
  raw?: boolean;
}

interface LogLine {
  id: number;
  at: number;
  stream: string;
  text: string;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export function register(program: Command): void {
  program
    .command('logs')
    .description("print a job's captured output (the last 256 KiB are kept)")
    .argument('<job>', 'job id')
    .option('--server <url>', 'server URL (default $RONDO_SERVER or http://127.0.0.1:8470)')
    .option('--token <token>', 'API token (default $RONDO_TOKEN or ./rondo.db.admin-token)')
    .option('-f, --follow', 'keep printing new lines until the job ends')
    .option('--raw', 'print terminal escape sequences in the output as they are (colours; also anything else the job printed)')
    .action(async (id: string, f: LogsFlags) => {
      const client = clientFrom(f);
      // A job's output is the tenant's: escape sequences in it reach the reader's terminal only when asked (--raw).
      const print = (l: LogLine): void => {
        const text = f.raw ? l.text : plain(l.text);
        process.stdout.write(l.stream === 'stdout' ? `${text}\n` : `[${l.stream}] ${text}\n`);
      };
      let after = 0;
      for (;;) {
        const page = await call(() => client.get<{ lines: LogLine[] }>(`/api/v1/jobs/${encodeURIComponent(id)}/logs?after=${after}&limit=5000`));
        for (const l of page.lines) {
          print(l);
          after = l.id;
        }
        if (page.lines.length === 5000) continue;
        if (!f.follow) return;
        const job = await call(() => client.get<{ state: string }>(`/api/v1/jobs/${encodeURIComponent(id)}`));
        if (TERMINAL.has(job.state)) {
          const rest = await call(() => client.get<{ lines: LogLine[] }>(`/api/v1/jobs/${encodeURIComponent(id)}/logs?after=${after}&limit=5000`));
          for (const l of rest.lines) print(l);
          return;
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    });
}
