import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The agent's record of its jobs' process groups, for machines without cgroups: if agent and warden die together,
 * the next agent started on the machine (by the same user) kills the groups they left. A group id is killed only
 * while it provably still names the job's group: Linux does not reuse a process id while a process group of that
 * id has members, so either the leader is the recorded one (same start time) or the leader is gone and the members
 * found are the job's own.
 */

/** Where records live: under /run (cleared at boot, as the processes are) for root, else the runtime directory. */
export function defaultStateDir(): string {
  if (process.getuid?.() === 0) return '/run/rondo';
  return join(process.env.XDG_RUNTIME_DIR || tmpdir(), `rondo-${process.getuid?.() ?? 'user'}`);
}

let seq = 0;

export class GroupRecord {
  private readonly file: string;
  private readonly groups = new Map<number, string>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = join(dir, `agent-${process.pid}-${++seq}.json`);
  }

  add(pgid: number): void {
    const start = startTime(pgid);
    if (start === undefined) return;
    this.groups.set(pgid, start);
    this.save();
  }

  remove(pgid: number): void {
    if (this.groups.delete(pgid)) this.save();
  }

  /** A clean stop: nothing is left to kill. */
  close(): void {
    rmSync(this.file, { force: true });
  }

  private save(): void {
    // Atomic, so a crash mid-write never leaves a record the next agent cannot read.
    // Best effort: the warden covers a dead agent; this record only helps when the warden died too.
    try {
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, JSON.stringify([...this.groups]), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch {
      // full or read-only disk: keep running jobs rather than fail them
    }
  }

  /** Kills the groups recorded by agents that are gone; returns how many groups it killed. */
  static killLeftovers(dir: string): number {
    let killed = 0;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return 0;
    }
    for (const name of names) {
      const m = /^agent-(\d+)-\d+\.json$/.exec(name);
      if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
      const file = join(dir, name);
      let groups: Array<[number, string]> = [];
      try {
        if (statSync(file).uid !== process.getuid?.()) continue; // only our own user's records
        const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
        if (Array.isArray(parsed)) groups = parsed as Array<[number, string]>;
      } catch {
        // unreadable: nothing to go on
      }
      for (const entry of groups) {
        const [pgid, start] = Array.isArray(entry) ? entry : [];
        // Never 0, 1 or a negative id: kill(-0) is our own group, kill(-1) every process.
        if (!Number.isInteger(pgid) || (pgid as number) <= 1 || typeof start !== 'string') continue;
        const now = startTime(pgid as number);
        if (now !== undefined && now !== start) continue; // the id is another process's now
        if (now === undefined && groupMembers(pgid as number).length === 0) continue;
        try {
          process.kill(-(pgid as number), 'SIGKILL');
          killed++;
        } catch {
          // gone meanwhile
        }
      }
      rmSync(file, { force: true });
    }
    return killed;
  }
}

/** Live (non-zombie) members of a process group, from /proc. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out; // no /proc (not Linux)
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') out.push(Number(name));
    } catch {
      // exited while listing
    }
  }
  return out;
}

/** A process's start time (clock ticks since boot, field 22 of /proc/<pid>/stat), or undefined when it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
