import { readFileSync, statSync } from 'node:fs';
import { RondoError } from '../../model/errors.js';

/**
 * The worker token, from where other local users cannot read it: a file (`--token-file`) or the environment
 * (`RONDO_WORKER_TOKEN`, or `RONDO_TOKEN` as before). `--token` on the command line still works but warns: argv is
 * world-readable (`ps -eo args`, /proc/<pid>/cmdline). After reading, the variables are removed from this
 * process's environment (nothing started later inherits them) and the command line is overwritten; the kernel
 * still shows the original environment in /proc/<pid>/environ to the same user and root, which is why jobs must
 * run as another user (`--run-as`) for the token to be out of their reach.
 */
export function readWorkerToken(flags: { token?: string; tokenFile?: string }, warn: (m: string) => void): string {
  let token: string | undefined;
  let from: string;
  if (flags.tokenFile !== undefined) {
    from = `--token-file ${flags.tokenFile}`;
    try {
      token = readFileSync(flags.tokenFile, 'utf8').trim();
      const mode = statSync(flags.tokenFile).mode & 0o777;
      if (mode & 0o077) warn(`warning: ${flags.tokenFile} is readable by other users (mode ${mode.toString(8)}); chmod 600 it`);
    } catch (e) {
      throw new RondoError({ code: 'E_IO', problem: `cannot read ${flags.tokenFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, hint: 'pass a readable file holding the worker token' });
    }
  } else if (flags.token !== undefined) {
    from = '--token';
    token = flags.token;
    warn('warning: --token puts the worker token where every local user can read it (ps); use --token-file FILE or RONDO_WORKER_TOKEN');
  } else {
    from = process.env.RONDO_WORKER_TOKEN !== undefined ? 'RONDO_WORKER_TOKEN' : 'RONDO_TOKEN';
    token = process.env.RONDO_WORKER_TOKEN ?? process.env.RONDO_TOKEN;
  }
  delete process.env.RONDO_WORKER_TOKEN;
  delete process.env.RONDO_TOKEN;
  // Overwrites argv in place (libuv), so the token leaves `ps` output once the agent runs.
  process.title = 'rondo worker';
  if (!token) {
    throw new RondoError({
      code: 'E_USAGE',
      problem: from === 'RONDO_TOKEN' ? 'no worker token' : `empty worker token in ${from}`,
      hint: 'pass --token-file FILE or set RONDO_WORKER_TOKEN (create one with POST /api/v1/tokens {"kind":"worker"})',
    });
  }
  if (/\s/.test(token)) throw new RondoError({ code: 'E_USAGE', problem: `the worker token from ${from} contains whitespace`, hint: 'the file must hold the token alone' });
  return token;
}
