import { tmpdir } from 'node:os';
import { resolve } from 'node:path';

/**
 * Rules the server and the worker agents agree on about where and how long a job may run.
 */

/**
 * Time the server allows, past an attempt's lease end plus grace, for its worker to have seen every process of it
 * gone (the agent SIGKILLs at lease end + grace by its own clock, which it runs slightly early: worker.ts).
 */
export const KILL_SLACK_MS = 1000;

/**
 * Where a tenant's job may run when the admin gave no `--job-root`: home directories and the temporary directory.
 * So a tenant cannot start a job in `/`, `/root/.ssh` or `/etc` just by asking; admins may set any roots.
 */
export function defaultTenantJobRoots(): string[] {
  return [...new Set(['/home', resolve(tmpdir())])];
}
