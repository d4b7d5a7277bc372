import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { validateAllocation } from '../../src/model/index.js';
import { getPolicy } from '../../src/policies/index.js';
import { parseProgressLine } from '../../src/runtime/protocol.js';
import type { EngineState } from '../../src/engine/index.js';
import { buildCluster, decodeState, encodeState, encodeStateSliced } from '../../src/runtime/server/scheduler.js';
import { ApiError, checkWorkingDir } from '../../src/runtime/server/app.js';
import { MIGRATIONS, SCHEMA_VERSION, Store, type JobSpec } from '../../src/runtime/server/store/index.js';
import { parseGpuSpec } from '../../src/runtime/agent/worker.js';
import { tempDir } from './harness.js';

const spec = (extra: Partial<JobSpec> = {}): JobSpec => ({
  command: ['python3', 'train.py'],
  cwd: '/tmp',
  env: {},
  scaleFactor: 1,
  jobType: null,
  priorityWeight: 1,
  tenant: 'default',
  sloFactor: null,
  deadlineS: null,
  totalSteps: 100,
  gpuTypes: null,
  name: null,
  ...extra,
});

function withStore<T>(fn: (s: Store, path: string) => T, opts: ConstructorParameters<typeof Store>[1] = {}): T {
  const path = join(tempDir('store'), 'r.db');
  const s = new Store(path, opts);
  try {
    return fn(s, path);
  } finally {
    s.close();
  }
}

describe('store', () => {
  it('migrates a new file to the current schema, reopens without change, and refuses a newer schema', () => {
    const path = join(tempDir('mig'), 'r.db');
    new Store(path).close();
    const db = new Database(path);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    const s = new Store(path);
    s.submitJob(spec());
    s.close();
    const again = new Store(path);
    expect(again.listJobs().map((j) => j.id)).toEqual(['job-1']);
    again.close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => new Store(path)).toThrow(/newer than this rondo understands/);
  });

  it('upgrades a version-1 store in place, keeping its jobs', () => {
    const path = join(tempDir('mig1'), 'r.db');
    const raw = new Database(path);
    raw.exec(MIGRATIONS[0]!);
    raw.pragma('user_version = 1');
    raw.prepare(
      "INSERT INTO jobs(seq, id, tenant, command, cwd, env, scale_factor, priority_weight, state, submitted_at) VALUES (1, 'job-1', 't', '[\"x\"]', '/tmp', '{}', 1, 1, 'queued', 0)",
    ).run();
    raw.close();
    const s = new Store(path);
    try {
      expect(s.schemaVersion()).toBe(SCHEMA_VERSION);
      expect(s.getJob('job-1')).toMatchObject({ tenant: 't', command: ['x'], state: 'queued' });
      const w = s.registerWorker('w', [{ type: 'v100', count: 1 }], null);
      expect(s.createAttempt({ jobId: 'job-1', workerId: w.id, round: 1, gpuType: 'v100', gpus: [0], notBefore: 0, leaseEnd: 1 }).deliveredAt).toBeNull();
    } finally {
      s.close();
    }
  });

  it('open attempts and workers read from memory stay exact: every write and every rollback is seen', async () => {
    withStore((s) => {
      const j = s.submitJob(spec());
      const w = s.registerWorker('w', [{ type: 'v100', count: 2 }], null);
      expect(s.listWorkers().map((x) => x.state)).toEqual(['alive']);
      expect(s.openAttempts()).toEqual([]);
      const a = s.createAttempt({ jobId: j.id, workerId: w.id, round: 1, gpuType: 'v100', gpus: [1], notBefore: 0, leaseEnd: 10 });
      expect(s.openAttempts().map((x) => [x.id, x.state])).toEqual([[a.id, 'leased']]);
      s.markAttemptRunning(a.id, 5);
      expect(s.openAttempts()[0]!.state).toBe('running');
      s.extendLease(a.id, 20, 2);
      expect(s.openAttempts()[0]!.leaseEnd).toBe(20);
      // A caller may change the array it got (not the rows): the next read is unchanged.
      s.openAttempts().pop();
      expect(s.openAttempts()).toHaveLength(1);
      // Written, read, then rolled back: the read inside the transaction must not outlive it.
      expect(() =>
        s.tx(() => {
          s.endAttempt(a.id, 'preempted');
          s.setWorkerState(w.id, 'gone');
          expect(s.openAttempts()).toEqual([]);
          expect(s.listWorkers()[0]!.state).toBe('gone');
          throw new Error('roll back');
        }),
      ).toThrow('roll back');
      expect(s.openAttempts().map((x) => x.id)).toEqual([a.id]);
      expect(s.listWorkers()[0]!.state).toBe('alive');
      s.endAttempt(a.id, 'completed');
      expect(s.openAttempts()).toEqual([]);
    });
    // The same through a group commit whose one write fails after reading.
    const path = join(tempDir('store'), 'g.db');
    const s = new Store(path);
    try {
      const w = s.registerWorker('w', [{ type: 'v100', count: 1 }], null);
      await expect(
        s.commit(() => {
          s.setWorkerState(w.id, 'gone');
          expect(s.listWorkers()[0]!.state).toBe('gone');
          throw new Error('refused');
        }),
      ).rejects.toThrow('refused');
      expect(s.listWorkers()[0]!.state).toBe('alive');
    } finally {
      s.close();
    }
  });

  it('walks a job through lease, run, preemption and completion; ends are idempotent', () => {
    withStore((s) => {
      const w = s.registerWorker('w', [{ type: 'v100', count: 2 }], null);
      const j = s.submitJob(spec());
      expect(j.state).toBe('queued');
      const a1 = s.createAttempt({ jobId: j.id, workerId: w.id, round: 1, gpuType: 'v100', gpus: [1], notBefore: 0, leaseEnd: 10 });
      expect(s.getJob(j.id)!.state).toBe('queued');
      s.markAttemptRunning(a1.id, 5);
      expect(s.getJob(j.id)!.state).toBe('running');
      s.recordProgress(a1.id, { steps: 40, total: 100, throughput: 4 });
      s.endAttempt(a1.id, 'preempted', { exitCode: 0 });
      s.endAttempt(a1.id, 'completed', { exitCode: 0 }); // a resent report changes nothing
      expect(s.getJob(j.id)).toMatchObject({ state: 'queued', stepsDone: 40, attempts: 1 });
      // Progress from an ended attempt is ignored.
      expect(s.recordProgress(a1.id, { steps: 99 })).toBeUndefined();
      const a2 = s.createAttempt({ jobId: j.id, workerId: w.id, round: 2, gpuType: 'v100', gpus: [0], notBefore: 0, leaseEnd: 20 });
      s.markAttemptRunning(a2.id, 11);
      s.recordProgress(a2.id, { steps: 100 });
      s.endAttempt(a2.id, 'completed', { exitCode: 0 });
      expect(s.getJob(j.id)).toMatchObject({ state: 'completed', stepsDone: 100, attempts: 2, exitCode: 0 });
      expect(s.throughputsOf(j.id)).toEqual({ v100: 4 });
      expect(s.checkInvariants()).toEqual([]);
      expect(s.events({ jobId: j.id }).map((e) => e.kind)).toEqual([
        'job.submitted',
        'attempt.leased',
        'attempt.started',
        'attempt.preempted',
        'attempt.leased',
        'attempt.started',
        'attempt.completed',
        'job.completed',
      ]);
    });
  });

  it('cancels a queued job at once and a running one when its attempt ends', () => {
    withStore((s) => {
      const w = s.registerWorker('w', [{ type: 'v100', count: 1 }], null);
      const q = s.submitJob(spec());
      expect(s.cancelJob(q.id, 'admin').state).toBe('cancelled');
      const r = s.submitJob(spec());
      const a = s.createAttempt({ jobId: r.id, workerId: w.id, round: 1, gpuType: 'v100', gpus: [0], notBefore: 0, leaseEnd: 10 });
      s.markAttemptRunning(a.id, 1);
      expect(s.cancelJob(r.id, 'admin')).toMatchObject({ state: 'running', cancelRequested: true });
      s.endAttempt(a.id, 'preempted', { exitCode: null });
      expect(s.getJob(r.id)!.state).toBe('cancelled');
      expect(s.activeJobs()).toEqual([]);
    });
  });

  it('sums the time received per job and type over ended and running attempts, for active or named jobs', () => {
    withStore((s) => {
      const w = s.registerWorker('w', [{ type: 'v100', count: 2 }, { type: 'p100', count: 1 }], null);
      const a = s.submitJob(spec());
      const done = s.submitJob(spec());
      s.submitJob(spec()); // never ran
      const a1 = s.createAttempt({ jobId: a.id, workerId: w.id, round: 1, gpuType: 'v100', gpus: [0], notBefore: 0, leaseEnd: 10 });
      s.markAttemptRunning(a1.id, 1_000);
      s.endAttempt(a1.id, 'preempted', { at: 4_000 });
      const a2 = s.createAttempt({ jobId: a.id, workerId: w.id, round: 2, gpuType: 'p100', gpus: [0], notBefore: 0, leaseEnd: 10 });
      s.markAttemptRunning(a2.id, 5_000);
      const d1 = s.createAttempt({ jobId: done.id, workerId: w.id, round: 1, gpuType: 'v100', gpus: [1], notBefore: 0, leaseEnd: 10 });
      s.markAttemptRunning(d1.id, 1_000);
      s.endAttempt(d1.id, 'completed', { at: 3_000 });
      expect(s.getJob(done.id)!.state).toBe('completed');
      expect([...s.timeReceived(6_500, 'active')]).toEqual([[a.id, { v100: 3, p100: 1.5 }]]);
      expect(s.timeReceived(6_500, [done.id, a.id])).toEqual(
        new Map([
          [a.id, { v100: 3, p100: 1.5 }],
          [done.id, { v100: 2 }],
        ]),
      );
    });
  });

  it('withdraws undelivered leases on cancel at once, but waits for a delivered one to be stopped', () => {
    withStore((s) => {
      const w = s.registerWorker('w', [{ type: 'v100', count: 2 }], null);
      const a = s.submitJob(spec());
      s.createAttempt({ jobId: a.id, workerId: w.id, round: 1, gpuType: 'v100', gpus: [0], notBefore: 0, leaseEnd: 10 });
      expect(s.cancelJob(a.id, 'admin').state).toBe('cancelled');
      expect(s.openAttemptsOfJob(a.id)).toEqual([]);
      const b = s.submitJob(spec());
      const lease = s.createAttempt({ jobId: b.id, workerId: w.id, round: 1, gpuType: 'v100', gpus: [1], notBefore: 0, leaseEnd: 10 });
      s.mintLeaseToken(lease.id); // handed to the worker: it may be starting the process right now
      expect(s.cancelJob(b.id, 'admin')).toMatchObject({ state: 'queued', cancelRequested: true });
      s.endAttempt(lease.id, 'preempted', { exitCode: null });
      expect(s.getJob(b.id)!.state).toBe('cancelled');
      expect(s.checkInvariants()).toEqual([]);
    });
  });

  it('stores only token hashes; a lease token dies with its attempt', () => {
    withStore((s) => {
      const { token } = s.createToken('tenant', { tenant: 'alice' });
      expect(s.authenticate(token)).toMatchObject({ kind: 'tenant', tenant: 'alice' });
      expect(s.authenticate(token + 'x')).toBeUndefined();
      const w = s.registerWorker('w', [{ type: 'k80', count: 1 }], null);
      const j = s.submitJob(spec());
      const a = s.createAttempt({ jobId: j.id, workerId: w.id, round: 1, gpuType: 'k80', gpus: [0], notBefore: 0, leaseEnd: 10 });
      const lease = s.mintLeaseToken(a.id);
      expect(s.authenticate(lease)).toMatchObject({ kind: 'lease', attemptId: a.id, jobId: j.id });
      s.endAttempt(a.id, 'preempted');
      expect(s.authenticate(lease)).toBeUndefined();
      // Read the file as an attacker with a copy of it would, not through the store.
      const raw = new Database(s.path, { readonly: true });
      const dump = JSON.stringify(raw.prepare('SELECT * FROM tokens').all());
      raw.close();
      expect(dump).not.toContain(token);
      expect(dump).not.toContain(lease);
    });
  });

  it('keeps each job log under its byte cap, dropping the oldest lines', () => {
    withStore(
      (s) => {
        const j = s.submitJob(spec());
        for (let i = 0; i < 50; i++) s.appendLogs(j.id, null, [{ stream: 'stdout', text: `line ${i} `.padEnd(100, '.') }]);
        const lines = s.logs(j.id);
        expect(lines.reduce((n, l) => n + l.text.length, 0)).toBeLessThanOrEqual(1000);
        expect(lines.at(-1)!.text).toMatch(/^line 49 /);
        expect(lines[0]!.text).toMatch(/^line 4[0-9] /);
      },
      { maxLogBytes: 1000 },
    );
  });
});

describe('runtime helpers', () => {
  it('parses the documented progress line and ignores anything else', () => {
    expect(parseProgressLine('RONDO_PROGRESS steps=12 total=100 throughput=3.5 checkpoint=/c/x')).toEqual({ steps: 12, total: 100, throughput: 3.5, checkpoint: '/c/x' });
    expect(parseProgressLine('  RONDO_PROGRESS steps=1')).toEqual({ steps: 1 });
    for (const bad of ['RONDO_PROGRESS', 'RONDO_PROGRESSsteps=1', 'rondo_progress steps=1', 'RONDO_PROGRESS steps=-1', 'RONDO_PROGRESS steps=NaN total=0', 'progress steps=3']) {
      expect(parseProgressLine(bad), bad).toBeUndefined();
    }
  });

  it('parses --gpus specs and rejects bad ones', () => {
    expect(parseGpuSpec('V100:4,k80:2')).toEqual([
      { type: 'v100', count: 4 },
      { type: 'k80', count: 2 },
    ]);
    for (const bad of ['', 'v100', 'v100:0', 'v100:-1', 'v100:4,v100:2', 'v 100:1', 'v100:99999']) expect(() => parseGpuSpec(bad), bad).toThrow(/--gpus/);
  });

  it('accepts only absolute, normalised working directories inside the job roots', () => {
    expect(() => checkWorkingDir('/data/runs/a', undefined)).not.toThrow();
    expect(() => checkWorkingDir('/data/runs/a/', ['/data'])).not.toThrow();
    for (const bad of ['data', '/data/../etc', '/data/./x', '//data', '/data/x/..', '/data\0x']) {
      expect(() => checkWorkingDir(bad, undefined), bad).toThrow(ApiError);
    }
    expect(() => checkWorkingDir('/database', ['/data'])).toThrow(/inside/);
  });

  it('maps live workers to mechanism servers, one per (worker, GPU type), devices numbered per worker', () => {
    const { cluster, servers } = buildCluster([
      { id: 'w-1', name: 'a', gpus: [{ type: 'v100', count: 2 }, { type: 'k80', count: 1 }], registeredAt: 0, state: 'alive', machine: null, replacedBy: null },
      { id: 'w-2', name: 'b', gpus: [{ type: 'v100', count: 4 }], registeredAt: 0, state: 'alive', machine: null, replacedBy: null },
    ]);
    expect(cluster.gpuTypes).toEqual(['k80', 'v100']);
    expect(cluster.gpus).toEqual({ k80: 1, v100: 6 });
    expect(cluster.totalGpus).toBe(7);
    expect(servers.map((s) => [s.workerId, s.gpuType, s.firstDevice, s.server.firstGpu, s.server.gpus])).toEqual([
      ['w-1', 'k80', 2, 0, 1],
      ['w-1', 'v100', 0, 1, 2],
      ['w-2', 'v100', 0, 3, 4],
    ]);
  });

  it('equal-share (isolated) allocations on a live cluster satisfy the allocation constraints', () => {
    const { cluster } = buildCluster([{ id: 'w-1', name: 'a', gpus: [{ type: 'v100', count: 3 }, { type: 'k80', count: 1 }], registeredAt: 0, state: 'alive', machine: null, replacedBy: null }]);
    const jobs = [1, 2, 1, 4].map((scale, i) => ({
      id: `j${i}`,
      jobType: 'x',
      scaleFactor: scale,
      priorityWeight: 1,
      throughput: i === 0 ? [0, 1] : [1, 1],
      totalSteps: 10,
      remainingSteps: 10,
      arrivalTime: 0,
    }));
    const alloc = getPolicy('equal-share').allocate({ now: 0, cluster, jobs }).allocation;
    const scale = new Map(jobs.map((j) => [j.id, j.scaleFactor]));
    expect(() => validateAllocation(alloc, cluster, (id) => scale.get(id)!)).not.toThrow();
    expect(alloc.shares.get('j0')![0]).toBe(0);
  });
});

describe("the scheduler's saved engine state", () => {
  const state: EngineState = {
    round: 7,
    stale: false,
    jobs: [
      { id: 'job-1', stepsDone: 10, totalSteps: 100, roundsRun: 2, preemptions: 1, failures: 0 },
      { id: 'job-2', stepsDone: 0, totalSteps: 50.5, roundsRun: 0, preemptions: 0, failures: 3 },
    ],
    ledger: {
      gpuTypes: ['k80', 'v100'],
      jobTime: new Map([
        ['job-1', [5, 15.25]],
        ['job-2', [5, 5]],
      ]),
      workerTime: [10, 20.25],
      deficits: new Map([
        ['job-1', [0.1, -0.2]],
        ['job-2', [0, 0]],
      ]),
      lastReset: 3,
    },
    allocation: { gpuTypes: ['k80', 'v100'], shares: new Map([['job-1', [0.25, 0.75]]]) },
    policyState: { kind: 'x', m: new Map([['a', 1]]) },
  };

  it('decodes what it encodes, whole or a field per event-loop turn, and states saved with jobs as objects', async () => {
    const whole = encodeState('fifo', state);
    expect(await encodeStateSliced('fifo', state)).toBe(whole);
    expect(decodeState(whole)).toEqual({ policy: 'fifo', state });
    const old = JSON.parse(whole) as Record<string, unknown>;
    old.jobs = state.jobs;
    expect(decodeState(JSON.stringify(old))).toEqual({ policy: 'fifo', state });
  });
});

describe("the scheduler's saved engine state, large", () => {
  it('is the JSON of one object when written in pieces (maps of more rows than a piece holds)', async () => {
    const ids = Array.from({ length: 6000 }, (_, i) => `job-${i + 1}`);
    const state: EngineState = {
      round: 1,
      stale: true,
      jobs: ids.map((id, i) => ({ id, stepsDone: i, totalSteps: 2 * i + 0.5, roundsRun: i % 3, preemptions: 0, failures: 0 })),
      ledger: {
        gpuTypes: ['v100'],
        jobTime: new Map(ids.map((id, i) => [id, [i / 7]])),
        workerTime: [1],
        deficits: new Map(ids.map((id, i) => [id, [-(i + 1) / 3]])),
        lastReset: 0,
      },
      allocation: undefined,
      policyState: { kind: 'k', n: 6000 },
    };
    const whole = encodeState('x', state);
    expect(await encodeStateSliced('x', state)).toBe(whole);
    expect(decodeState(whole).state).toEqual(state);
  });
});
