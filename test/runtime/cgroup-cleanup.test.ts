/**
 * A job cgroup is removed only once its processes are gone, so no empty folder outlives the agent that cleans it:
 * a new agent kills the jobs a dead agent left, waits until their cgroups are empty, then removes them and the dead
 * agent's folder; an agent that stops does the same for its own. Real processes, in a cgroup of the test's own (an
 * agent sweeps the dead agents' folders beside its own, so nothing of other tests is in reach). Skipped, saying
 * why, where cgroup v2 is not delegated to this user.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroupPids, killLeftoverCgroups, setupCgroups, type CgroupSupport } from '../../src/runtime/agent/cgroup.js';
import { WorkerAgent } from '../../src/runtime/agent/worker.js';
import { tempDir, waitFor } from './harness.js';
import { FakeServer, goneWithin, hostile, marker, procsWith, removeTree } from './procs.js';

const own = setupCgroups();
const skipWhy = own.ok ? undefined : `no writable cgroup v2 here (${own.reason}): jobs run without cgroups, nothing to clean`;

/**
 * A hostile job started in cgroup `dir`: its main process forks children that ignore SIGTERM (one in a session of
 * its own, so out of the job's process group) and exits at once, so the children outlive it.
 */
function orphaningJob(dir: string, m: string): void {
  const script = hostile(m, { setsid: true, mainExits: true })[2]!;
  const child = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec /bin/sh -c "$1"', dir, script], { detached: true, stdio: 'ignore' });
  child.unref();
}

/** A process id that named a process a moment ago and names none now: a dead agent's. */
async function deadPid(): Promise<number> {
  const p = spawn('true');
  await new Promise((r) => p.on('exit', r));
  return p.pid!;
}

describe('job cgroups are emptied before they are removed (real processes)', () => {
  const cg = own as CgroupSupport;
  const markers: string[] = [];
  afterAll(async () => {
    for (const m of markers) for (const p of procsWith(m)) process.kill(p, 'SIGKILL'); // left only when a test failed
    if (own.ok) await waitFor('the test cgroup to be removed', () => removeTree(cg.dir), 10_000).catch((e: unknown) => console.warn(String(e)));
  });

  for (const hasKill of [true, false]) {
    it(`a new agent kills what a dead agent left, waits, and removes the folders (${hasKill ? 'cgroup.kill' : 'SIGKILL per process'})`, async (ctx) => {
      if (skipWhy) ctx.skip(skipWhy);
      // The per-process path runs on every kernel; cgroup.kill needs Linux 5.14.
      if (hasKill && !cg.hasKill) ctx.skip('this kernel has no cgroup.kill');
      const box = join(cg.dir, `box-${hasKill ? 'kill' : 'pids'}`);
      const deadDir = join(box, `rondo-agent-${await deadPid()}-1`);
      const jobDir = join(deadDir, 'job-7');
      mkdirSync(jobDir, { recursive: true });
      const m = marker();
      markers.push(m);
      orphaningJob(jobDir, m);
      await waitFor('the orphaned children in the dead agent\'s job cgroup', () => procsWith(m).length >= 3 && cgroupPids(jobDir).length >= 3, 30_000, 20);
      const ourDir = join(box, `rondo-agent-${process.pid}-99`);
      mkdirSync(ourDir);
      const { killed, left } = await killLeftoverCgroups(ourDir, hasKill);
      expect(killed).toBe(1);
      expect(left).toEqual([]);
      // Gone when the call returns: no empty folder is left for a later agent, and no process of the job survives.
      expect(existsSync(jobDir)).toBe(false);
      expect(existsSync(deadDir)).toBe(false);
      await goneWithin(m, Date.now(), 2000);
      expect(existsSync(ourDir)).toBe(true); // its own folder is not a dead agent's
    }, 60_000);
  }

  it('an agent that stops leaves no process of its jobs and no cgroup folder, without a warden to do it', async (ctx) => {
    if (skipWhy) ctx.skip(skipWhy);
    const fake = new FakeServer(500);
    await fake.start();
    const dir = tempDir('cg-stop');
    // No warden (the warden would remove the folders at its end): the agent's own exit path must.
    const agent = new WorkerAgent({ server: fake.url, token: 'rdo_wrk_test', gpus: [{ type: 'v100', count: 1 }], name: 't', killOnAgentDeath: false });
    try {
      await agent.start();
      const agentDir = agent.isolation().cgroup;
      if (agentDir === undefined) ctx.skip('the agent made no cgroup folder for its jobs');
      const m = marker();
      markers.push(m);
      fake.leases.set(1, { jobId: 'job-1', command: hostile(m, { setsid: true, mainExits: false }), cwd: dir, checkpointDir: join(dir, 'ckpt'), leaseEnd: Date.now() + 60_000 });
      await waitFor('the job and its children', () => procsWith(m).length >= 4 && existsSync(join(agentDir!, 'job-1')), 30_000, 20);
      expect(readFileSync(join(agentDir!, 'job-1', 'cgroup.procs'), 'utf8').trim()).not.toBe('');
      await agent.stop();
      await goneWithin(m, Date.now(), 2000);
      expect(existsSync(join(agentDir!, 'job-1'))).toBe(false);
      expect(existsSync(agentDir!)).toBe(false);
    } finally {
      await agent.stop();
      await fake.close();
    }
  }, 60_000);
});

