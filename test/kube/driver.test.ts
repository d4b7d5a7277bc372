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
    expect(job.metadata.annotations!['rondo.dev/job-id']).toMatch(/^job-/);
    // `kubectl describe job` says when Rondo expects it to finish (the server's estimate, ISO 8601).
    const finish = await until('estimated finish annotated', () => env!.api.get('jobs', 'default', 'train-1')?.metadata.annotations?.['rondo.dev/estimated-finish']);
    expect(finish).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(finish)).toBeGreaterThan(Date.now() - 60_000);
    const admitted = await until('Admitted event', () => env!.api.list('events', 'default').find((x) => x.involvedObject.name === 'train-1' && x.reason === 'Admitted'));
    expect(admitted.message).toMatch(/^admitted on v100 \(Tesla-V100-SXM2-16GB\) in round \d+, attempt \d+$/);
    await until('completion', () => env!.api.get('jobs', 'default', 'train-1')?.status?.conditions?.some((c: { type: string }) => c.type === 'Complete'));
    const rondo = await until('rondo job completed', async () => {
      const jobs = env!.srv.store.listJobs({ limit: 10, afterSeq: 0 });
      return jobs.find((j) => j.state === 'completed');
    });
    expect(rondo.tenant).toBe('team-a');
    expect(rondo.stepsDone).toBe(20);
  });
});

/** Requests the fake saw that write to one Job (main resource or /status). */
function writesTo(e: Env, name: string): Array<{ method: string; path: string; status: number; body?: unknown }> {
  return e.api.seen.filter((s) => s.method !== 'GET' && s.path.startsWith(`/apis/batch/v1/namespaces/default/jobs/${name}`));
}

describe('kubernetes driver: rounds', () => {
  it('preempts between rounds: suspend, pods gone, startTime cleared, selector restored; then admits again', async () => {
    // Stopped Jobs are restored at once here (by default only after a round, in case they come back sooner).
    env = await startEnv({ name: 'preempt', throughputs: TPUT, roundMs: 1500, kube: { tidyAfterMs: 0 }, nodes: (c) => c.addNode('v100-a', 'Tesla-V100-SXM2-16GB', 1, { 'example.com/zone': 'z1' }) });
    // The user's own selector must come back after each stop.
    env.api.create('jobs', trainingJob('a', { queue: 'q', steps: 1e6, nodeSelector: { 'example.com/zone': 'z1' } }));
    env.api.create('jobs', trainingJob('b', { queue: 'q', steps: 1e6 }));
    const e = env;
    // Both run in turn: each gets admitted at least twice (so each was stopped at least once in between).
    await until('alternation', () => {
      const admitted = (n: string) => e.api.seen.filter((s) => s.method === 'PATCH' && s.path === `/apis/batch/v1/namespaces/default/jobs/${n}` && (s.body as { spec?: { suspend?: boolean } })?.spec?.suspend === false).length;
      return admitted('a') >= 2 && admitted('b') >= 2;
    }, 45_000);
    // The writes that took effect: a patch guarded by resourceVersion can meet a 409 when the cluster updated the
    // Job meanwhile (more often on a loaded machine), and is then computed again and sent after.
    const w = writesTo(e, 'a').filter((s) => s.status < 300);
    const firstStop = w.findIndex((s) => (s.body as { spec?: { suspend?: boolean } })?.spec?.suspend === true);
    expect(firstStop).toBeGreaterThan(0);
    // After the suspend (the stop ends once its pods are gone), in the background: the /status patch clearing
    // startTime, then the restore of the selector, in that order, each guarded by the version it was computed on.
    expect(w[firstStop + 1]!.path.endsWith('/status')).toBe(true);
    expect(w[firstStop + 1]!.body).toMatchObject({ metadata: { resourceVersion: expect.any(String) }, status: { startTime: null } });
    const restore = w[firstStop + 2]!.body as { spec: { template: { spec: { nodeSelector: Record<string, unknown> } } } };
    expect(restore.spec.template.spec.nodeSelector).toEqual({ 'nvidia.com/gpu.product': null });
    // No 422: every template change happened while suspended and never started.
    expect(e.api.seen.filter((s) => s.status === 422)).toEqual([]);
    // While admitted, the user's own selector stays beside Rondo's.
    const admittedA = await until('a admitted', () => {
      const j = e.api.get('jobs', 'default', 'a');
      return j?.spec.suspend === false ? j : undefined;
    }, 20_000);
    expect(admittedA.spec.template.spec.nodeSelector).toEqual({ 'example.com/zone': 'z1', 'nvidia.com/gpu.product': 'Tesla-V100-SXM2-16GB' });
    // SIGTERM reached the pods (the kubelet saw deletion), and never two pods of one Job at once, nor over capacity.
    expect(e.cluster.sigterms.length).toBeGreaterThan(0);
    expect(e.cluster.violations).toEqual([]);
    const events = await until('events of a', () => {
      const ev = e.api.list('events', 'default').filter((x) => x.involvedObject.name === 'a');
      return ev.some((x) => x.reason === 'Admitted') && ev.some((x) => x.reason === 'Preempted') ? ev : undefined;
    });
    // The Preempted Event gives the planner's reason (the server's why record), not only "its lease ended".
    const preempted = events.find((x) => x.reason === 'Preempted')!;
    expect(preempted.message).toMatch(/^suspended on v100 after round \d+ \(attempt \d+\): preempted in round \d+: /);
    // A stopped Job carries no admission and no estimated finish until it is admitted again.
    const stopped = w.slice(firstStop + 2)[0]!.body as { metadata: { annotations: Record<string, unknown> } };
    expect(stopped.metadata.annotations['rondo.dev/estimated-finish']).toBeNull();
  }, 90_000);

  it('extends a lease without any write to the Job', async () => {
    env = await startEnv({ name: 'extend', throughputs: TPUT, roundMs: 1000, nodes: (c) => c.addNode('v100-a', 'Tesla-V100-SXM2-16GB', 1) });
    env.api.create('jobs', trainingJob('solo', { queue: 'q', steps: 1e6 }));
    const e = env;
    // Admitted, running, and the one-time bookkeeping (the job-id annotation) written.
    // (Its finish is beyond the server's estimate horizon, so no estimated-finish annotation is due either.)
    await until('admitted and running', () => {
      const j = e.api.get('jobs', 'default', 'solo');
      return j?.spec.suspend === false && j.metadata.annotations?.['rondo.dev/job-id'] !== undefined && e.api.list('pods').some((p) => p.status.phase === 'Running');
    });
    await new Promise((r) => setTimeout(r, 300)); // a write in flight lands
    const before = writesTo(e, 'solo').length;
    const round0 = e.srv.scheduler.stats.rounds;
    await until('three more rounds', () => e.srv.scheduler.stats.rounds >= round0 + 3, 30_000);
    expect(writesTo(e, 'solo').length).toBe(before);
    expect(e.api.get('jobs', 'default', 'solo')!.spec.suspend).toBe(false);
  }, 60_000);

  it('leaves unlabelled and Kueue-labelled Jobs alone, and suspends a labelled Job running without admission', async () => {
    env = await startEnv({ name: 'coexist', throughputs: TPUT, nodes: (c) => c.addNode('v100-a', 'Tesla-V100-SXM2-16GB', 4) });
    const e = env;
    e.api.create('jobs', trainingJob('plain', { suspend: false, steps: 1e6 }));
    e.api.create('jobs', trainingJob('kueue', { queue: 'q', labels: { 'kueue.x-k8s.io/queue-name': 'lq' }, suspend: true, steps: 1e6 }));
    e.api.create('jobs', trainingJob('rogue', { queue: 'q', suspend: false, steps: 1e6 }));
    // The rogue Job is suspended first, then admitted by Rondo (with its admission annotations).
    await until('rogue admitted by Rondo', () => {
      const j = e.api.get('jobs', 'default', 'rogue');
      return j?.spec.suspend === false && j.metadata.annotations?.['rondo.dev/attempt'] !== undefined;
    }, 30_000);
    expect(writesTo(e, 'rogue').some((w) => (w.body as { spec?: { suspend?: boolean } })?.spec?.suspend === true)).toBe(true);
    const round0 = e.srv.scheduler.stats.rounds;
    await until('two more rounds', () => e.srv.scheduler.stats.rounds >= round0 + 2, 30_000);
    expect(writesTo(e, 'plain')).toEqual([]);
    expect(writesTo(e, 'kueue')).toEqual([]);
    expect(e.api.get('jobs', 'default', 'kueue')!.spec.suspend).toBe(true);
    // The unlabelled Job's pod holds a GPU: Rondo offers only the other three of the node.
    expect(e.srv.store.listWorkers().map((w) => w.gpus)).toEqual([[{ type: 'v100', count: 3 }]]);
    expect(e.srv.store.listJobs({ limit: 10, afterSeq: 0 }).map((j) => j.name)).toEqual([expect.stringMatching(/^k8s\/default\/rogue\//)]);
  }, 60_000);
});

describe('kubernetes driver: faults', () => {
  it('suspends a Job whose pod stays Pending, marks its type short, and says why', async () => {
    // The node carries the product, but a taint-like mismatch (a zone the node lacks) keeps the pod Pending.
    env = await startEnv({ name: 'pending', throughputs: TPUT, kube: { pendingTimeoutMs: 1500, shortForMs: 60_000 }, nodes: (c) => c.addNode('v100-a', 'Tesla-V100-SXM2-16GB', 2) });
    const e = env;
    e.api.create('jobs', trainingJob('stuck', { queue: 'q', steps: 1e6, nodeSelector: { 'example.com/zone': 'nowhere' } }));
    await until('suspended after the timeout', () => {
      const j = e.api.get('jobs', 'default', 'stuck');
      return writesTo(e, 'stuck').some((w) => (w.body as { spec?: { suspend?: boolean } })?.spec?.suspend === true) && j?.spec.suspend === true;
    }, 30_000);
    const ev = await until('Preempted event with the reason', () => e.api.list('events', 'default').find((x) => x.involvedObject.name === 'stuck' && x.reason === 'Preempted'));
    expect(ev.message).toMatch(/pending longer than 2 s/);
    // The type is short by the Job's GPU: the node-worker now offers one GPU instead of two.
    await until('offer cut', () => e.srv.store.listWorkers().some((w) => w.gpus[0]?.count === 1), 20_000);
    // The user's selector came back intact.
    await until('selector restored', () => {
      const j = e.api.get('jobs', 'default', 'stuck');
      return JSON.stringify(j?.spec.template.spec.nodeSelector) === JSON.stringify({ 'example.com/zone': 'nowhere' });
    }, 20_000);
  }, 60_000);

  it('refuses a labelled Job it cannot schedule with a Warning Event, and never writes it', async () => {
    env = await startEnv({ name: 'refuse', throughputs: TPUT, nodes: (c) => c.addNode('v100-a', 'Tesla-V100-SXM2-16GB', 1) });
    const e = env;
    const bad = trainingJob('nogpu', { queue: 'q' });
    delete bad.spec.template.spec.containers[0].resources;
    e.api.create('jobs', bad);
    const ev = await until('NotAdmitted', () => e.api.list('events', 'default').find((x) => x.involvedObject.name === 'nogpu' && x.reason === 'NotAdmitted'));
    expect(ev.type).toBe('Warning');
    expect(ev.message).toMatch(/nvidia\.com\/gpu/);
    expect(writesTo(e, 'nogpu')).toEqual([]);
    expect(e.srv.store.listJobs({ limit: 10, afterSeq: 0 })).toEqual([]);
  }, 60_000);
});
