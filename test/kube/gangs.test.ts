/**
 * JobSet and Kubeflow PyTorchJob through the driver (`--kube-kinds job,jobset,pytorchjob`): multi-pod gangs queued
 * with `rondo.dev/queue`, admitted with the product pinned on every pod template, preempted (suspended) and admitted
 * again as Rondo time-slices one node between them, each completing exactly once; an unlabelled JobSet untouched; a
 * kind whose CRD is not installed reported at start and skipped.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startEnv, trainingJob, until, type Env } from './setup.js';
import type { Obj } from './fake-apiserver.js';

const V100 = 'Tesla-V100-SXM2-16GB';
const LABEL = 'nvidia.com/gpu.product';
const ZONE = 'topology.kubernetes.io/zone';
const TPUT = { [V100]: { resnet: 10 }, 'Tesla-K80': { resnet: 4 } };

let env: Env | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

function podTemplate(gpus: number, nodeSelector?: Record<string, string>): Obj['spec'] {
  return {
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 30,
      ...(nodeSelector ? { nodeSelector } : {}),
      containers: [{ name: 'train', image: 'example/train:1', resources: { limits: { 'nvidia.com/gpu': String(gpus) } } }],
    },
  };
}

/** A training Job's metadata (setup.ts): queue label, job type and length. */
function meta(name: string, queue: string | undefined, steps: number): Obj['metadata'] {
  return trainingJob(name, { ...(queue !== undefined ? { queue } : {}), steps }).metadata;
}

/** A JobSet of a leader and two workers (3 pods, 1 GPU each); the workers keep a zone selector of their own. */
function jobSet(name: string, queue: string | undefined, steps: number, suspend = true): Obj {
  return {
    metadata: meta(name, queue, steps),
    spec: {
      suspend,
      replicatedJobs: [
        { name: 'leader', replicas: 1, template: { spec: { parallelism: 1, completions: 1, template: podTemplate(1) } } },
        { name: 'workers', replicas: 2, template: { spec: { parallelism: 1, completions: 1, template: podTemplate(1, { [ZONE]: 'z1' }) } } },
      ],
    },
  };
}

/** A PyTorchJob of a Master and two Workers (3 pods, 1 GPU each). */
function pyTorchJob(name: string, queue: string, steps: number): Obj {
  return {
    metadata: meta(name, queue, steps),
    spec: {
      runPolicy: { suspend: true },
      pytorchReplicaSpecs: { Master: { replicas: 1, restartPolicy: 'OnFailure', template: podTemplate(1) }, Worker: { replicas: 2, restartPolicy: 'OnFailure', template: podTemplate(1) } },
    },
  };
}

type Body = { spec?: { suspend?: boolean; runPolicy?: { suspend?: boolean }; replicatedJobs?: unknown; pytorchReplicaSpecs?: unknown } };
/** The suspend value a patch body sets (JobSet: spec.suspend; PyTorchJob: spec.runPolicy.suspend). */
const suspendOf = (b: Body | undefined): unknown => b?.spec?.suspend ?? b?.spec?.runPolicy?.suspend;

describe('kubernetes gangs: JobSet and PyTorchJob', () => {
  it('time-slices a JobSet and a PyTorchJob on one node: pinned on every template, preempted, admitted again, each completing once', async () => {
    env = await startEnv({
      name: 'gangs',
      throughputs: TPUT,
      roundMs: 2000,
      speedup: 2,
      workerTimeoutMs: 30_000,
      kube: { kinds: ['job', 'jobset', 'pytorchjob'] },
      nodes: (c) => {
        // One V100 node of 4 GPUs: the two 3-GPU gangs cannot run together, so Rondo alternates them by round.
        c.addNode('v100-a', V100, 4, { [ZONE]: 'z1' });
        // A K80 node too small for either gang: the unlabelled JobSet runs there on its own.
        c.addNode('k80-plain', 'Tesla-K80', 2, { [ZONE]: 'z1' });
      },
    });
    const e = env;
    // Each gang needs about three rounds of running at 20 steps/s (10 steps per simulated second, clock x2).
    e.api.create('jobsets', jobSet('js', 'vision', 120));
    e.api.create('pytorchjobs', pyTorchJob('pt', 'nlp', 120));
    const plain = jobSet('plain-js', undefined, 5, false);
    for (const rj of plain.spec.replicatedJobs) rj.template.spec.template.spec.nodeSelector = { [LABEL]: 'Tesla-K80' };
    plain.spec.replicatedJobs[1].replicas = 1;
    e.api.create('jobsets', plain);

    const finished = (plural: string, name: string, cond: string): boolean => (e.api.get(plural, 'default', name)?.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === cond && c.status === 'True');
    await until('both gangs complete', () => finished('jobsets', 'js', 'Completed') && finished('pytorchjobs', 'pt', 'Succeeded'), 240_000);
    await until('Rondo agrees', () => e.srv.store.listJobs({ limit: 100, afterSeq: 0 }).filter((r) => r.state === 'completed').length === 2, 30_000);

    // Exactly once, never over a node's GPUs.
    expect(e.cluster.violations).toEqual([]);
    for (const [plural, name] of [['jobsets', 'js'], ['pytorchjobs', 'pt']] as const) expect(e.cluster.completions.get(e.api.get(plural, 'default', name)!.metadata.uid!), name).toBe(1);
    // One Rondo job each, its scale factor the gang's GPUs, its tenant the queue.
    const rondo = e.srv.store.listJobs({ limit: 100, afterSeq: 0 });
    expect(rondo.map((r) => [r.tenant, r.scaleFactor]).sort()).toEqual([['nlp', 3], ['vision', 3]]);

    const patches = (path: RegExp): Body[] => e.api.seen.filter((s) => s.method === 'PATCH' && path.test(s.path) && s.status === 200).map((s) => s.body as Body);
    for (const [path, templates] of [
      [/\/jobsets\/js$/, (b: Body) => (b.spec!.replicatedJobs as Array<{ template: { spec: { template: { spec: { nodeSelector: Record<string, string> } } } } }>).map((r) => r.template.spec.template.spec.nodeSelector)],
      [/\/pytorchjobs\/pt$/, (b: Body) => Object.values(b.spec!.pytorchReplicaSpecs as Record<string, { template: { spec: { nodeSelector: Record<string, string> } } }>).map((r) => r.template.spec.nodeSelector)],
    ] as const) {
      const admissions = patches(path).filter((b) => suspendOf(b) === false);
      const stops = patches(path).filter((b) => suspendOf(b) === true);
      // Preempted at least once and admitted again: the two gangs share one node.
      expect(admissions.length, String(path)).toBeGreaterThanOrEqual(2);
      expect(stops.length, String(path)).toBeGreaterThanOrEqual(1);
      for (const b of admissions) {
        const sels = templates(b);
        expect(sels.length).toBeGreaterThanOrEqual(2);
        // The product on every pod template, the user's own selector kept.
        for (const s of sels) expect(s[LABEL]).toBe(V100);
      }
    }
    const jsAdmission = patches(/\/jobsets\/js$/).find((b) => suspendOf(b) === false)!;
    expect((jsAdmission.spec!.replicatedJobs as Array<{ name: string; template: { spec: { template: { spec: { nodeSelector: Record<string, string> } } } } }>).find((r) => r.name === 'workers')!.template.spec.template.spec.nodeSelector).toEqual({ [ZONE]: 'z1', [LABEL]: V100 });
    // Every pod Rondo's gangs ran was on the V100 node; the unlabelled JobSet ran by itself and was never written.
    for (const s of e.cluster.starts) expect(s.product, s.job).toBe(s.job === 'plain-js' ? 'Tesla-K80' : V100);
    expect(e.cluster.starts.filter((s) => s.job === 'js').length).toBeGreaterThanOrEqual(6);
    expect(e.api.seen.filter((s) => s.method !== 'GET' && /\/jobsets\/plain-js/.test(s.path))).toEqual([]);
    // Events name the workload by its own kind.
    const events = e.api.list('events', 'default');
    expect(events.some((ev) => ev.involvedObject?.kind === 'JobSet' && ev.involvedObject?.name === 'js' && ev.reason === 'Admitted')).toBe(true);
    const pt = events.filter((ev) => ev.involvedObject?.kind === 'PyTorchJob' && ev.involvedObject?.name === 'pt').map((ev) => `${ev.reason}: ${ev.message}`);
    // A stop is Preempted (the planner's choice) or Cancelled (the server ended the lease early); both suspend it.
    expect(pt.some((x) => /^(Preempted|Cancelled): suspended on v100/.test(x)), JSON.stringify(pt)).toBe(true);
    expect(pt.some((x) => x.startsWith('Completed: ')), JSON.stringify(pt)).toBe(true);
  }, 400_000);

  it('reports a kind whose CRD is missing at start, skips it, and schedules the others', async () => {
    const lines: string[] = [];
    env = await startEnv({
      name: 'gangs-missing-crd',
      throughputs: TPUT,
      roundMs: 1000,
      crds: ['jobsets'],
      kube: { kinds: ['job', 'jobset', 'pytorchjob'] },
      log: (m) => lines.push(m),
      nodes: (c) => c.addNode('v100-a', V100, 4, { [ZONE]: 'z1' }),
    });
    const e = env;
    expect(e.kube.controller.jobs.status).toEqual([{ id: 'job' }, { id: 'jobset' }, { id: 'pytorchjob', skipped: expect.stringContaining('PyTorchJob CRD (pytorchjobs.kubeflow.org, kubeflow.org/v1) is not installed') }]);
    expect(lines.some((l) => l.includes('--kube-kinds pytorchjob') && l.includes('not installed'))).toBe(true);
    // The discovery the probe relies on: the group is not served at all.
    expect((await fetch(`${e.api.url}/apis`).then((r) => r.json())).groups.map((g: { name: string }) => g.name)).not.toContain('kubeflow.org');
    e.api.create('jobsets', jobSet('small', 'vision', 10));
    await until('the JobSet completes', () => (e.api.get('jobsets', 'default', 'small')?.status?.conditions ?? []).some((c: { type: string }) => c.type === 'Completed'), 60_000);
  }, 120_000);
});
