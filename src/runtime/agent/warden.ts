import { spawn, type ChildProcess } from 'node:child_process';

/**
 * The warden: one small process per agent process (shared by the local workers of `rondo serve`) that kills the
 * agents' jobs when their process dies, even by `kill -9` (which no handler in the agent can catch). The agent holds
 * the write end of the warden's stdin and tells it each job's process group and cgroup as the job starts (before
 * the job may run: see launch.ts) and as it ends. The kernel closes that pipe whenever the agent's process exits,
 * however it exits; at end of file the warden SIGKILLs every job still listed and exits. It runs in its own session
 * and ignores SIGINT, SIGTERM and SIGHUP, so the signals that stop the agent's terminal or process group do not take
 * it down first.
 */
const WARDEN_SOURCE = `
const fs = require('node:fs');
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
const jobs = new Map();
const dirs = new Set();
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const [op, pg, cg] = buf.slice(0, i).split(' ');
    buf = buf.slice(i + 1);
    if (op === 'd') { dirs.add(pg); continue; }
    if (!/^[0-9]+$/.test(pg || '') || Number(pg) <= 1) continue; // never kill(-0) or kill(-1)
    if (op === '+') jobs.set(pg, cg === '-' ? '' : cg);
    else if (op === '-') jobs.delete(pg);
  }
});
process.stdin.on('end', () => {
  for (const [pg, cg] of jobs) {
    try { process.kill(-Number(pg), 'SIGKILL'); } catch {}
    if (cg) {
      try { fs.writeFileSync(cg + '/cgroup.kill', '1'); } catch {
        try { for (const p of fs.readFileSync(cg + '/cgroup.procs', 'utf8').split('\\n').filter(Boolean)) process.kill(Number(p), 'SIGKILL'); } catch {}
      }
    }
  }
  // Remove the emptied cgroups (the kernel needs a moment to empty them).
  const until = Date.now() + 2000;
  const sweep = () => {
    let left = 0;
    for (const cg of jobs.values()) if (cg) { try { fs.rmdirSync(cg); } catch (e) { if (e.code !== 'ENOENT') left++; } }
    if (left > 0 && Date.now() < until) setTimeout(sweep, 50);
    else { for (const d of dirs) { try { fs.rmdirSync(d); } catch {} } process.exit(0); }
  };
  sweep();
});
`;

let shared: { warden: Warden; users: number } | undefined;

export class Warden {
  private readonly child: ChildProcess;

  private constructor() {
    this.child = spawn(process.execPath, ['-e', WARDEN_SOURCE], { stdio: ['pipe', 'ignore', 'ignore'], detached: true, env: {} });
    this.child.stdin!.on('error', () => {}); // a dead warden must not take the agent down
    // Neither the process nor its pipe keeps the agent's event loop alive.
    this.child.unref();
    (this.child.stdin as unknown as { unref?: () => void }).unref?.();
  }

  /**
   * The process's warden, started on first use; `cgroupDir`, the agent's folder of job cgroups, is removed by the
   * warden at the end when empty. Each agent calls `close()` once when it stops.
   */
  static acquire(cgroupDir: string | undefined): Warden {
    if (!shared) shared = { warden: new Warden(), users: 0 };
    shared.users++;
    if (cgroupDir) shared.warden.child.stdin!.write(`d ${cgroupDir}\n`);
    return shared.warden;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Lists a job. The pipe write is queued before the job is released (launch.ts). */
  add(pgid: number, cgroup: string | undefined): void {
    this.child.stdin!.write(`+ ${pgid} ${cgroup ?? '-'}\n`);
  }

  /** Forgets a job whose processes are all gone (so a reused process group id is never killed). */
  remove(pgid: number): void {
    this.child.stdin!.write(`- ${pgid}\n`);
  }

  /** An agent is done; after the last one the warden kills what is still listed (nothing, after clean stops) and exits. */
  close(): void {
    if (!shared || shared.warden !== this || --shared.users > 0) return;
    shared = undefined;
    this.child.stdin!.end();
  }
}
