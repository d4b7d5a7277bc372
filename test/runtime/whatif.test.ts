import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/runtime/client/http-client.js';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import { tempDir } from './harness.js';

interface Est {
  id: string;
  estimatedStart: string | null;
  estimatedFinish: string | null;
  remainingSteps: number;
}
interface WhatIf {
  now: string;
  jobs: Est[];
  hypothetical?: Est & { rho: number | null; fairSeconds: number | null };
  simulatedRounds: number;
}

let srv: RunningServer;
let admin: ApiClient;

beforeAll(async () => {
  const dir = tempDir('whatif');
  srv = await startServer({ db: join(dir, 'r.db'), port: 0, timing: { roundMs: 10_000, heartbeatMs: 1000, workerTimeoutMs: 600_000, graceMs: 1000 } });
  admin = new ApiClient({ server: srv.url, token: srv.adminToken! });
  // A registered worker with 2 GPUs (no agent process: nothing runs, the server only plans).
  const { token } = await admin.post<{ token: string }>('/api/v1/tokens', { kind: 'worker' });
  await new ApiClient({ server: srv.url, token }).post('/api/v1/workers', { name: 'w', gpus: [{ type: 'v100', count: 2 }] });
  for (let i = 0; i < 2; i++) await admin.post('/api/v1/jobs', { command: ['true'], cwd: dir, totalSteps: 100 });
});

afterAll(async () => {
  await srv?.close();
});

const secondsFrom = (now: string, t: string | null): number => (Date.parse(t!) - Date.parse(now)) / 1000;

describe('whatif (the engine and simulator run forward from the live state)', () => {
  it('estimates finish times of the active jobs', async () => {
    const r = await admin.post<WhatIf>('/api/v1/whatif', {});
    expect(r.jobs.map((j) => j.id)).toEqual(['job-1', 'job-2']);
    for (const j of r.jobs) {
      // 100 steps at the default 1 step/s, one GPU each: 100 s after the next round starts (at most a round away).
      const f = secondsFrom(r.now, j.estimatedFinish);
      expect(f).toBeGreaterThanOrEqual(99);
      expect(f).toBeLessThanOrEqual(111);
    }
    expect(r.hypothetical).toBeUndefined();
  });

  it('places a hypothetical job: it shares the GPUs, so it and the others finish later than alone', async () => {
    const r = await admin.post<WhatIf>('/api/v1/whatif', { scaleFactor: 1, totalSteps: 50, stepsPerSecond: 1 });
    const h = r.hypothetical!;
    expect(secondsFrom(r.now, h.estimatedStart)).toBeGreaterThanOrEqual(0);
    expect(secondsFrom(r.now, h.estimatedFinish)).toBeGreaterThan(50);
    const latest = Math.max(...r.jobs.map((j) => secondsFrom(r.now, j.estimatedFinish)));
    expect(latest).toBeGreaterThan(110);
    // 250 GPU-seconds of work on 2 GPUs cannot end before 125 s.
    expect(Math.max(latest, secondsFrom(r.now, h.estimatedFinish))).toBeGreaterThanOrEqual(124);
    // Finish-time fairness: on an equal 1/3 share of 2 GPUs (2/3 GPU), its 50 steps at 1 step/s take 75 s.
    expect(h.fairSeconds).toBeCloseTo(75, 6);
    expect(h.rho).toBeCloseTo(secondsFrom(r.now, h.estimatedFinish) / 75, 2);
  });

  it('a job larger than any worker never starts', async () => {
    const r = await admin.post<WhatIf>('/api/v1/whatif', { scaleFactor: 4, totalSteps: 10 });
    expect(r.hypothetical!.estimatedStart).toBeNull();
    expect(r.hypothetical!.estimatedFinish).toBeNull();
    expect(r.hypothetical!.rho).toBeNull();
    await expect(admin.post('/api/v1/whatif', { scaleFactor: 0 })).rejects.toThrow(/scaleFactor/);
  });
});

describe('scheduler loop', () => {
  it('does not spin when waiting work cannot be placed (idle rounds are cut short only after a change)', async () => {
    const dir = tempDir('spin');
    const s2 = await startServer({ db: join(dir, 'r.db'), port: 0, policy: 'fifo', timing: { roundMs: 5000, heartbeatMs: 1000, workerTimeoutMs: 600_000, graceMs: 1000 } });
    try {
      const a = new ApiClient({ server: s2.url, token: s2.adminToken! });
      const { token } = await a.post<{ token: string }>('/api/v1/tokens', { kind: 'worker' });
      await new ApiClient({ server: s2.url, token }).post('/api/v1/workers', { name: 'w', gpus: [{ type: 'v100', count: 1 }] });
      await a.post('/api/v1/jobs', { command: ['true'], cwd: dir, scaleFactor: 4 });
      const before = s2.scheduler.stats.rounds;
      await new Promise((r) => setTimeout(r, 1000));
      expect(s2.scheduler.stats.rounds - before).toBeLessThanOrEqual(1);
    } finally {
      await s2.close();
    }
  });
});
