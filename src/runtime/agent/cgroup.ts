import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * cgroup v2 per job, where the machine offers a writable (delegated) subtree: a job's processes cannot leave it
 * (not even with setsid), so "kill the job" is one write to `cgroup.kill` and "the job is gone" is `populated 0`.
 * The agent makes `rondo-agent-<pid>-<n>/` under its own cgroup and one `job-<attempt>/` inside per attempt.
 */

export interface CgroupSupport {
  readonly ok: true;
  /** The agent's folder of job cgroups. */
  readonly dir: string;
  /** The kernel offers `cgroup.kill` (Linux 5.14+). */
  readonly hasKill: boolean;
}

let seq = 0;

/** Finds the cgroup v2 mount and the agent's own cgroup; makes the agent's folder, or says why it cannot. */
export function setupCgroups(): CgroupSupport | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'not Linux' };
  let mount: string | undefined;
  let own: string | undefined;
  try {
    // mountinfo: "... <mount point> <options> - <fstype> <source> <super options>"
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [pre, post] = line.split(' - ');
      if (post?.startsWith('cgroup2 ')) {
        mount = pre!.split(' ')[4];
        break;
      }
    }
    own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))?.slice(3);
  } catch (e) {
    return { ok: false, reason: `cannot read /proc: ${(e as Error).message}` };
  }
  if (!mount) return { ok: false, reason: 'no cgroup v2 file system mounted' };
  if (own === undefined) return { ok: false, reason: 'this process is in no cgroup v2 group' };
  if (/\s|\\/.test(mount + own)) return { ok: false, reason: 'cgroup path with spaces or escapes' };
  const base = join(mount, own);
  try {
    accessSync(join(base, 'cgroup.procs'), constants.W_OK);
    const dir = join(base, `rondo-agent-${process.pid}-${++seq}`);
    mkdirSync(dir, { recursive: true });
    return { ok: true, dir, hasKill: existsSync(join(dir, 'cgroup.kill')) };
  } catch (e) {
    return { ok: false, reason: `cgroup ${base} is not writable by this user (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
}

/** Processes in a cgroup (empty when it is gone). */
export function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function cgroupPopulated(dir: string): boolean {
  try {
    return /^populated 1$/m.test(readFileSync(join(dir, 'cgroup.events'), 'utf8'));
  } catch {
    return false;
  }
}

/** Signals every process in the cgroup; SIGKILL goes through `cgroup.kill` where the kernel has it (no fork race). */
export function signalCgroup(dir: string, sig: NodeJS.Signals, hasKill: boolean): void {
  if (sig === 'SIGKILL' && hasKill) {
    try {
      writeFileSync(join(dir, 'cgroup.kill'), '1');
      return;
    } catch {
      // fall back to one signal per process
    }
  }
  for (const pid of cgroupPids(dir)) {
    try {
      process.kill(pid, sig);
    } catch {
      // exited meanwhile
    }
  }
}

/** Removes an empty job cgroup (best effort: a cgroup with processes cannot be removed). */
export function removeCgroup(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // still populated or already gone
  }
}

/**
 * Kills the jobs of agents that died without cleaning up (kill -9 of agent and warden together): every
 * `rondo-agent-<pid>-*` folder beside `dir` whose pid is not a live process. Returns how many job cgroups it killed.
 */
export function killLeftoverCgroups(dir: string, hasKill: boolean): number {
  const parent = join(dir, '..');
  let killed = 0;
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const m = /^rondo-agent-(\d+)-\d+$/.exec(name);
    if (!m || join(parent, name) === dir || pidAlive(Number(m[1]))) continue;
    const agentDir = join(parent, name);
    for (const job of safeReaddir(agentDir).filter((n) => n.startsWith('job-'))) {
      const jd = join(agentDir, job);
      if (cgroupPopulated(jd)) {
        signalCgroup(jd, 'SIGKILL', hasKill);
        killed++;
      }
      removeCgroup(jd);
    }
    removeCgroup(agentDir);
  }
  return killed;
}

function safeReaddir(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
