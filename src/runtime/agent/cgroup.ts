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

/** How long an agent waits for a killed cgroup to empty before leaving it (only a process in uninterruptible I/O outlives SIGKILL). */
const CGROUP_EMPTY_TIMEOUT_MS = 5000;

/**
 * Kills every process in a job cgroup, waits until the kernel has emptied it, and removes the folder: SIGKILL is
 * delivered asynchronously, so a folder removed at once after the kill is still busy and would be left behind, empty.
 * The kill is repeated at each poll while processes remain (without `cgroup.kill`, a process forked between reading
 * `cgroup.procs` and the signals escapes one round). True once the folder is gone; false after `timeoutMs`.
 */
export async function killAndRemoveCgroup(dir: string, hasKill: boolean, timeoutMs = CGROUP_EMPTY_TIMEOUT_MS): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (cgroupPopulated(dir)) signalCgroup(dir, 'SIGKILL', hasKill);
    else {
      try {
        rmdirSync(dir);
        return true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return true;
        if (code !== 'EBUSY') return false; // not ours to remove (permissions): waiting will not help
      }
    }
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Empties an agent's folder of job cgroups and removes it: every `job-*` cgroup in it is killed, waited for until
 * empty and removed (all at once, each within `timeoutMs`). Returns how many held processes and the folders left.
 */
export async function clearAgentCgroups(agentDir: string, hasKill: boolean, timeoutMs = CGROUP_EMPTY_TIMEOUT_MS): Promise<{ killed: number; left: string[] }> {
  const jobs = safeReaddir(agentDir).filter((n) => n.startsWith('job-')).map((n) => join(agentDir, n));
  const killed = jobs.filter((jd) => cgroupPopulated(jd)).length;
  const gone = await Promise.all(jobs.map((jd) => killAndRemoveCgroup(jd, hasKill, timeoutMs)));
  const left = jobs.filter((_, i) => !gone[i]);
  if (left.length === 0) {
    try {
      rmdirSync(agentDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left.push(agentDir);
    }
  } else left.push(agentDir);
  return { killed, left };
}

/**
 * Kills the jobs of agents that died without cleaning up (kill -9 of agent and warden together): every
 * `rondo-agent-<pid>-*` folder beside `dir` whose pid is not a live process is emptied and removed. Returns how many
 * job cgroups held processes, and the folders that could not be removed within the wait.
 */
export async function killLeftoverCgroups(dir: string, hasKill: boolean, timeoutMs = CGROUP_EMPTY_TIMEOUT_MS): Promise<{ killed: number; left: string[] }> {
  const parent = join(dir, '..');
  const dead = safeReaddir(parent).filter((name) => {
    const m = /^rondo-agent-(\d+)-\d+$/.exec(name);
    return m !== null && join(parent, name) !== dir && !pidAlive(Number(m[1]));
  });
  const results = await Promise.all(dead.map((name) => clearAgentCgroups(join(parent, name), hasKill, timeoutMs)));
  return { killed: results.reduce((n, r) => n + r.killed, 0), left: results.flatMap((r) => r.left) };
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
