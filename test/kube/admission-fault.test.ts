/**
 * An admission cut short by the API server (unreachable or 5xx, as during a restart; the real control plane in
 * test/kube-real showed it) is undone as a preemption, and the job runs later: it is not failed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startEnv, trainingJob, until, type Env } from './setup.js';

let env: Env | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('kubernetes driver: an admission the API server did not take', () => {
  it('requeues the job after a 503 during its admission, and it completes', async () => {
    env = await startEnv({ name: 'admit-503', throughputs: { 'Tesla-V100-SXM2-16GB': { resnet: 10 } }, nodes: (c) => c.addNode('v100-a', 'Tesla-V100-SXM2-16GB', 1) });
    const e = env;
    // The first write of an admission is the job's Secret (only admissions write it; created the first time).
    e.api.inject((m, p) => m === 'POST' && p === '/api/v1/namespaces/default/secrets', 503, 1);
    e.api.create('jobs', trainingJob('t', { queue: 'q', steps: 10 }));
    await until('completion', () => e.api.get('jobs', 'default', 't')?.status?.conditions?.some((c: { type: string }) => c.type === 'Complete'), 60_000);
    expect(e.api.seen.filter((s) => s.status === 503)).toHaveLength(1);
    const rows = await until('rondo job completed', () => {
      const r = e.srv.store.listJobs({ limit: 10, afterSeq: 0 });
      return r.length === 1 && r[0]!.state === 'completed' ? r : undefined;
    }, 30_000);
    // Two attempts: the interrupted one ended as a stop (no spawn error), then the one that ran.
    const attempts = e.srv.store.attemptsOfJob(rows[0]!.id);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(e.cluster.completions.get(e.api.get('jobs', 'default', 't')!.metadata.uid!)).toBe(1);
  }, 90_000);
});
