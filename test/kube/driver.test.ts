import { afterEach, describe, expect, it } from 'vitest';
import { startEnv, trainingJob, until, type Env } from './setup.js';

const TPUT = { 'Tesla-V100-SXM2-16GB': { resnet: 10 }, 'Tesla-P100-PCIE-16GB': { resnet: 5 }, 'Tesla-K80': { resnet: 2 } };

let env: Env | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('kubernetes driver against the fake API server', () => {
  it('admits a labelled suspended Job onto a GPU type with one patch, and it completes', async () => {
    env = await startEnv({ name: 'admit', throughputs: TPUT, nodes: (c) => c.addNode('v100-a', 'Tesla-V100-SXM2-16GB', 4) });
    env.api.create('jobs', trainingJob('train-1', { queue: 'team-a', steps: 20 }));
    const job = await until('admission', () => {
      const j = env!.api.get('jobs', 'default', 'train-1');
      return j?.spec.suspend === false ? j : undefined;
    });
    expect(job.spec.template.spec.nodeSelector).toEqual({ 'nvidia.com/gpu.product': 'Tesla-V100-SXM2-16GB' });
    expect(job.metadata.annotations!['rondo.dev/gpu-type']).toBe('v100');
    expect(job.metadata.annotations!['rondo.dev/round']).toMatch(/^\d+$/);
    await until('completion', () => env!.api.get('jobs', 'default', 'train-1')?.status?.conditions?.some((c: { type: string }) => c.type === 'Complete'));
    const rondo = await until('rondo job completed', async () => {
      const jobs = env!.srv.store.listJobs({ limit: 10, afterSeq: 0 });
      return jobs.find((j) => j.state === 'completed');
    });
    expect(rondo.tenant).toBe('team-a');
    expect(rondo.stepsDone).toBe(20);
  });
});
