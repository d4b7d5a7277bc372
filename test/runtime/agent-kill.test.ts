/**
 * Finding 5 of issue 21 must not come back: a job's processes, including background children that ignore SIGTERM
 * and one that left the process group with setsid, are all gone within grace + 1 s after the lease ends, after a
 * cancel, after the main process exits 0, after the agent stops, and at once after `kill -9` of the agent. Real
 * processes; a fake server decides when leases end.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setupCgroups } from '../../src/runtime/agent/cgroup.js';
import { GroupRecord } from '../../src/runtime/agent/leftovers.js';
import { WorkerAgent } from '../../src/runtime/agent/worker.js';
import { CLI, ensureBuilt, killAll, Proc, rondo, tempDir, waitFor } from './harness.js';
import { FakeServer, goneWithin, hostile, KILLED_AT_ONCE_MS, marker, procsWith, removeTree, watchGone } from './procs.js';

const GRACE = 500;

/** `/proc/<pid>/stat` fields after the command name: state, ppid, pgrp, session, ... */
function statOf(pid: number): string[] | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The job's `setsid sleep`: a sleep leading its own session, so out of the job's process group. */
function setsidChild(m: string): number | undefined {
  return procsWith(m).find((p) => statOf(p)?.[3] === String(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep'));
}

/**
 * Starts `rondo worker` inside the cgroup `cg` (it then makes its job cgroups below it). Every agent sweeps the
 * cgroups of dead agents beside its own at start, so an agent started meanwhile by another test file would kill
 * what this test's dead agent left before the agent under test could: a cgroup of the test's own keeps them apart.
 */
function workerIn(cg: string, args: readonly string[], env: Record<string, string>): Proc {
  const child = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg, process.execPath, CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  return new Proc(child);
}

describe('a job is killed whole (worker agent, real processes)', () => {
  const dir = tempDir('agent-kill');
  let fake: FakeServer;
  let agent: WorkerAgent | undefined;

  beforeAll(async () => {
    ensureBuilt();
    fake = new FakeServer(GRACE);
    await fake.start();
  }, 120_000);
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
  });
  afterAll(async () => {
    await killAll();
    await fake.close();
  });

  async function startAgent(): Promise<{ agent: WorkerAgent; cgroups: boolean }> {
    agent = new WorkerAgent({ server: fake.url, token: 'rdo_wrk_test', gpus: [{ type: 'v100', count: 2 }], name: 't' });
    await agent.start();
    const cgroups = agent.isolation().cgroup !== undefined;
    if (!cgroups) console.warn('no writable cgroup v2 here: the setsid child is left out of these tests');
    return { agent, cgroups };
  }

  function lease(attempt: number, command: string[], leaseEnd: number): void {
    fake.leases.set(attempt, { jobId: `job-${attempt}`, command, cwd: dir, checkpointDir: join(dir, 'ckpt', `job-${attempt}`), leaseEnd });
  }

  it('at lease end: SIGTERM, then SIGKILL at lease end + grace; all gone by then + 1 s and only then reported', async () => {
    const { cgroups } = await startAgent();
    const m = marker();
    const leaseEnd = Date.now() + 5000; // time enough to start on a loaded machine
    lease(1, hostile(m, { setsid: cgroups, mainExits: false }), leaseEnd);
    await waitFor('the job and its children', () => procsWith(m).length >= (cgroups ? 4 : 3), 30_000, 20);
    const { ms, lastAliveAt } = await watchGone(m, leaseEnd, GRACE + 1000);
    console.log(`lease end -> all processes gone: ${ms} ms (grace ${GRACE} ms)`);
    expect(ms).toBeGreaterThanOrEqual(GRACE - 50); // they ignore SIGTERM: only the SIGKILL at lease end + grace ends them
    const end = await waitFor('the end report', () => fake.ended.get(1), 20_000, 20);
    expect(end.stoppedByWorker).toBe(true);
    // Reported only once they were gone: not before the last moment the test saw one alive (less a few ms for a
    // process that the kernel has taken out of its cgroup but /proc still lists as exiting). The moment the test saw
    // them gone is no bound: under load it lags the true end by a slow scan (the check failed by 9 ms at load 15).
    expect(end.at).toBeGreaterThanOrEqual(lastAliveAt - 60);
  }, 60_000);

  it('a job that exits 0 leaving background children: the children are killed before the end is reported', async () => {
    const { cgroups } = await startAgent();
    const m = marker();
    lease(2, hostile(m, { setsid: cgroups, mainExits: true }), Date.now() + 60_000);
    const seen = await waitFor('the children', () => (procsWith(m).length >= (cgroups ? 3 : 2) ? Date.now() : false), 30_000, 20);
    const ms = await goneWithin(m, seen, GRACE + 1000);
    console.log(`main process exit 0 -> leftover children gone: ${ms} ms`);
    const end = await waitFor('the end report', () => fake.ended.get(2), 20_000, 20);
    expect(end).toMatchObject({ exitCode: 0, stoppedByWorker: false, spawnError: null });
  }, 60_000);

  it('cancel and agent stop (SIGINT/SIGTERM of the agent) kill the whole job within grace + 1 s', async () => {
    const { agent: a, cgroups } = await startAgent();
    const m1 = marker();
    const m2 = marker();
    lease(3, hostile(m1, { setsid: cgroups, mainExits: false }), Date.now() + 60_000);
    lease(4, hostile(m2, { setsid: cgroups, mainExits: false }), Date.now() + 60_000);
    await waitFor('both jobs', () => procsWith(m1).length >= 3 && procsWith(m2).length >= 3, 30_000, 20);
    const cancelAt = Date.now();
    fake.leases.get(3)!.stop = true;
    const ms = await goneWithin(m1, cancelAt, GRACE + 1000 + 200); // + 2 heartbeats for the cancel to reach the agent
    console.log(`cancel -> all processes gone: ${ms} ms`);
    expect(procsWith(m2).length).toBeGreaterThanOrEqual(3); // the other job is untouched
    const stopAt = Date.now();
    const stopping = a.stop();
    const ms2 = await goneWithin(m2, stopAt, GRACE + 1000);
    await stopping;
    agent = undefined;
    console.log(`agent stop -> all processes gone: ${ms2} ms`);
  }, 60_000);

  it('kill -9 of the agent (rondo worker --token-file): its jobs die at once, with no agent left to act', async () => {
    const m = marker();
    lease(5, hostile(m, { setsid: true, mainExits: false }), Date.now() + 60_000);
    const tokenFile = join(dir, 'worker-token');
    writeFileSync(tokenFile, 'rdo_wrk_secretfromfile\n', { mode: 0o600 });
    const w = rondo(['worker', '--server', fake.url, '--gpus', 'v100:2', '--token-file', tokenFile, '--quiet']);
    // All of them, the setsid child too (the count alone is met early by forked shells that have not exec'd yet).
    await waitFor('the job and its children', () => procsWith(m).length >= 3 && setsidChild(m) !== undefined, 60_000, 20);
    w.kill('SIGKILL');
    const killedAt = Date.now();
    await w.exited;
    const ms = await goneWithin(m, killedAt, KILLED_AT_ONCE_MS);
    fake.leases.delete(5); // nobody will report its end now
    console.log(`kill -9 of the agent -> all processes gone: ${ms} ms`);
  }, 120_000);

  it('kill -9 of agent and warden together: the next agent on the machine kills the jobs they left (cgroups)', async (ctx) => {
    const own = setupCgroups();
    if (!own.ok) ctx.skip(`no writable cgroup v2 here (${own.reason}): only the warden guards against kill -9`);
    const cg = (own as { dir: string }).dir;
    const m = marker();
    lease(6, hostile(m, { setsid: true, mainExits: false }), Date.now() + 60_000);
    const env = { RONDO_WORKER_TOKEN: 'rdo_wrk_x' };
    const w = workerIn(cg, ['worker', '--server', fake.url, '--gpus', 'v100:2', '--quiet'], env);
    let next: Proc | undefined;
    try {
      await waitFor('the job and its children', () => {
        if (w.child.exitCode !== null) throw new Error(`the worker exited: ${w.stderr}`);
        return procsWith(m).length >= 4 ? setsidChild(m) : undefined;
      }, 60_000, 20);
      const warden = procsWith('SIGHUP').find((p) => statOf(p)?.[1] === String(w.pid));
      const cgroupOf = (pid: number): string => readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      if (!procsWith(m).every((p) => /rondo-agent-\d+-\d+\/rondo-agent-\d+-\d+\/job-6/.test(cgroupOf(p)))) {
        ctx.skip('the agent made no job cgroup here: only the warden guards against kill -9');
      }
      expect(warden).toBeDefined();
      process.kill(warden!, 'SIGKILL');
      w.kill('SIGKILL');
      await w.exited;
      fake.leases.delete(6);
      // The setsid child is in no process group any agent recorded: only a sweep of the dead agent's cgroup finds it.
      // It must outlive agent and warden (the main process dies of pdeathsig; the other children may die of another
      // agent's sweep of recorded process groups, when a test file beside this one starts one).
      const orphan = setsidChild(m);
      expect(orphan, 'the setsid child outlives agent and warden').toBeDefined();
      const left = procsWith(m).length;
      // Not quiet: it says what it killed. It sweeps once registered, which takes a node start (many seconds at load
      // 15), so the deadline is generous; nothing else can reach the setsid child in this test's cgroup.
      const nx = workerIn(cg, ['worker', '--server', fake.url, '--gpus', 'v100:2'], env);
      next = nx;
      const startedAt = Date.now();
      await waitFor('the next agent to register', () => {
        if (nx.child.exitCode !== null) throw new Error(`the next worker exited: ${nx.stderr}`);
        return /registered as/.test(nx.stderr);
      }, 90_000, 50);
      await goneWithin(m, startedAt, 90_000);
      expect(nx.stderr).toMatch(/killed 1 job\(s\) left running by an agent that died/);
      // Said only once the dead agent's cgroups were empty and removed: no empty folder is left for a later agent.
      expect(readdirSync(cg).filter((d) => d.startsWith(`rondo-agent-${w.pid}-`))).toEqual([]);
      console.log(`agent and warden killed: ${left} processes left; the next agent killed them ${Date.now() - startedAt} ms after it was started`);
    } finally {
      w.kill('SIGKILL');
      next?.kill('SIGTERM');
      await w.exited;
      await next?.exited;
      for (const p of procsWith(m)) process.kill(p, 'SIGKILL'); // left only when the test failed
      // The agents' folders below it empty once the kernel has reaped their processes.
      await waitFor('the test cgroup to be removed', () => removeTree(cg), 10_000).catch((e: unknown) => console.warn(String(e)));
    }
  }, 300_000);

  it('without cgroups, the record of process groups lets the next agent kill what a dead agent left, and nothing else', async () => {
    const state = join(dir, 'state');
    mkdirSync(state, { recursive: true, mode: 0o700 });
    const m1 = marker();
    const m2 = marker();
    const left = spawn('sh', ['-c', `sleep ${m1} & sleep ${m1}`], { detached: true, stdio: 'ignore' });
    const other = spawn('sh', ['-c', `sleep ${m2} & sleep ${m2}`], { detached: true, stdio: 'ignore' });
    const dead = spawn('true');
    await new Promise((r) => dead.on('exit', r));
    await waitFor('both groups', () => procsWith(m1).length >= 2 && procsWith(m2).length >= 2, 30_000, 20);
    const start = (pid: number): string => { const st = readFileSync(`/proc/${pid}/stat`, 'utf8'); return st.slice(st.lastIndexOf(')') + 2).split(' ')[19]!; };
    // The dead agent recorded `left` truly, and `other` under a start time that is not its own (a reused id).
    writeFileSync(join(state, `agent-${dead.pid}-1.json`), JSON.stringify([[left.pid, start(left.pid!)], [other.pid, '1']]));
    expect(GroupRecord.killLeftovers(state)).toBe(1);
    await goneWithin(m1, Date.now(), 2000);
    expect(procsWith(m2).length).toBeGreaterThanOrEqual(2);
    process.kill(-other.pid!, 'SIGKILL');
    expect(existsSync(join(state, `agent-${dead.pid}-1.json`))).toBe(false);
  }, 60_000);

  it('--token is scrubbed from the agent\'s command line and warned about', async () => {
    const w = rondo(['worker', '--server', fake.url, '--gpus', 'v100:1', '--token', 'rdo_wrk_visibleinargv']);
    await waitFor('the worker to be ready', () => w.stdout.includes('ready'), 60_000);
    expect(readFileSync(`/proc/${w.pid}/cmdline`, 'utf8')).not.toContain('rdo_wrk_visibleinargv');
    expect(w.stderr).toMatch(/--token puts the worker token where every local user can read it/);
    w.kill('SIGTERM');
    await w.exited;
  }, 90_000);
});
