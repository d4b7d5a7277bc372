import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupPopulated, clearAgentCgroups, killLeftoverCgroups, removeCgroup, setupCgroups, signalCgroup, type CgroupSupport } from './cgroup.js';
import { defaultStateDir, GroupRecord, groupMembers } from './leftovers.js';
import type { JobIdentity } from './sandbox.js';
import { Warden } from './warden.js';

/**
 * Starts one job attempt as its own process group (a new session) and, where available, its own cgroup, under
 * the job's Unix user. The process starts as a tiny `sh` that waits for one line on stdin: the agent first moves
 * it into the job's cgroup and lists it with the warden, then releases it. So no process of the job exists that
 * the agent could lose track of, even if the agent is killed in between (then the line never comes, and the
 * shell exits). The shell then enters the working directory as the job's user (a directory that user may not
 * enter is refused, exit 126) and execs the command (under `setpriv --pdeathsig KILL` where it exists, so the
 * main process also dies with the agent without waiting for the warden).
 */

export const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

const TRAMPOLINE =
  'read -r go || exit 125; [ "$go" = go ] || exit 125; ' +
  'cd -- "$1" 2>/dev/null || { echo "rondo: cannot enter the working directory $1 as uid $(id -u)" >&2; exit 126; }; ' +
  'shift; exec "$@"';

export interface LaunchSpec {
  readonly attempt: number;
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly identity: JobIdentity | undefined;
  readonly pdeathsig: boolean;
}

export interface JobGroup {
  readonly child: ChildProcess;
  readonly pgid: number;
  readonly cgroup: string | undefined;
}

/** Launches a job; throws (with the child already killed) when it cannot be placed in its cgroup. */
export function launchJob(spec: LaunchSpec, cg: CgroupSupport | undefined, warden: Warden | undefined): JobGroup {
  const cmd = spec.pdeathsig && SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', '--', spec.file, ...spec.args] : [spec.file, ...spec.args];
  const child = spawn('/bin/sh', ['-c', TRAMPOLINE, 'rondo-job', spec.cwd, ...cmd], {
    cwd: '/',
    env: spec.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true, // setsid(): its own session and process group, out of reach of the agent's terminal
    shell: false,
    ...(spec.identity ? { uid: spec.identity.uid, gid: spec.identity.gid } : {}),
  });
  child.stdin!.on('error', () => {}); // the shell may be gone before it reads
  const pid = child.pid;
  if (pid === undefined) return { child, pgid: -1, cgroup: undefined }; // spawn failed: 'error' follows
  let cgroup: string | undefined;
  if (cg) {
    cgroup = join(cg.dir, `job-${spec.attempt}`);
    try {
      mkdirSync(cgroup, { recursive: true });
      writeFileSync(join(cgroup, 'cgroup.procs'), String(pid));
    } catch (e) {
      child.kill('SIGKILL');
      removeCgroup(cgroup);
      throw new Error(`cannot place the job in cgroup ${cgroup}: ${(e as Error).message}`, { cause: e });
    }
  }
  warden?.add(pid, cgroup);
  child.stdin!.end('go\n');
  return { child, pgid: pid, cgroup };
}

/** Signals all of a job: its process group and, if it has one, every process in its cgroup. */
export function signalJob(g: JobGroup, sig: NodeJS.Signals, cg: CgroupSupport | undefined): void {
  if (g.pgid <= 1) return; // kill(-1) would reach every process
  try {
    process.kill(-g.pgid, sig);
  } catch {
    // no process left in the group
  }
  if (g.cgroup) signalCgroup(g.cgroup, sig, cg?.hasKill ?? false);
}

/** Whether any process of the job is left (zombies do not count: they hold nothing). */
export function jobAlive(g: JobGroup): boolean {
  if (g.pgid <= 0) return false;
  if (g.cgroup && cgroupPopulated(g.cgroup)) return true;
  return groupAlive(g.pgid);
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // kill(2) also finds zombies, which wait for a parent that may never reap them: look closer.
  return process.platform === 'linux' ? groupMembers(pgid).length > 0 : true;
}

/** Forgets a job whose processes are all gone: removes its cgroup and tells the warden. */
export function releaseJob(g: JobGroup, warden: Warden | undefined): void {
  if (g.pgid <= 0) return;
  if (g.cgroup) removeCgroup(g.cgroup);
  warden?.remove(g.pgid);
}

/**
 * An agent's confinement, set up once before its first job: its cgroup folder (killing what dead agents left in
 * theirs), its warden, and its record of process groups (killing the groups dead agents recorded).
 */
export async function setupIsolation(
  opts: { readonly cgroups?: boolean; readonly killOnAgentDeath?: boolean; readonly stateDir?: string },
  log: (m: string) => void,
): Promise<{ cgroups: CgroupSupport | undefined; warden: Warden | undefined; record: GroupRecord | undefined }> {
  let cgroups: CgroupSupport | undefined;
  let warden: Warden | undefined;
  let record: GroupRecord | undefined;
  if (opts.cgroups ?? true) {
    const cg = setupCgroups();
    if (cg.ok) {
      cgroups = cg;
      const { killed, left } = await killLeftoverCgroups(cg.dir, cg.hasKill);
      if (killed > 0) log(`killed ${killed} job(s) left running by an agent that died`);
      if (left.length > 0) log(`warning: cgroups of a dead agent still busy after SIGKILL, left in place: ${left.join(', ')}`);
    } else log(`jobs run without a cgroup of their own (${cg.reason}); a job's processes are tracked by process group`);
  }
  if (opts.killOnAgentDeath ?? true) {
    warden = Warden.acquire(cgroups?.dir);
    const dir = opts.stateDir ?? defaultStateDir();
    try {
      const killed = GroupRecord.killLeftovers(dir);
      if (killed > 0) log(`killed ${killed} process group(s) left running by an agent that died`);
      record = new GroupRecord(dir);
    } catch (e) {
      log(`no record of job process groups in ${dir} (${(e as Error).message}): jobs left by a killed agent and warden are not found later`);
    }
  }
  return { cgroups, warden, record };
}

/**
 * The agent's last step: kills whatever is left of its jobs (a process that outlived the stop's wait), waits until
 * their cgroups are empty, and removes them and the agent's folder, so no process and no empty folder outlives it.
 */
export async function teardownCgroups(cg: CgroupSupport | undefined, log: (m: string) => void): Promise<void> {
  if (!cg) return;
  const { killed, left } = await clearAgentCgroups(cg.dir, cg.hasKill);
  if (killed > 0) log(`killed ${killed} job(s) still running at shutdown`);
  if (left.length > 0) log(`warning: job cgroups still busy after SIGKILL, left in place: ${left.join(', ')}`);
}
