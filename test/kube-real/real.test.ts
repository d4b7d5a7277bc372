/**
 * `rondo serve --kube` (the CLI, as a process) against a real control plane: etcd, kube-apiserver, the real Job
 * controller and garbage collector, kube-scheduler, and kwok nodes of three GPU types (built by
 * scripts/kube-real/build.sh; skipped with one line where Go is absent). 60 Jobs from three queues run to completion
 * while Rondo is killed with SIGKILL and restarted, a node goes NotReady and comes back, and the API server restarts
 * (cutting every watch). Checked from outside, through the real client: every Job completes exactly once, never on a
 * GPU type it may not use, no node ever holds more GPU pods than it has, and Jobs Rondo does not own are never written.
 */
import * as k8s from '@kubernetes/client-node';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, freePort, killAll, rondo, tempDir, waitFor, type Proc } from '../runtime/harness.js';
import { ControlPlane, findBinaries } from './control-plane.js';
import { createJobs, createNodes, isComplete, nodeIsReady, setNodeReady, TEST_MANAGER, trainingJob, type NodeSpec } from './objects.js';
import { PodObserver } from './observer.js';

const found = findBinaries();
const skip = 'skip' in found ? found.skip : undefined;
if (skip !== undefined) process.stderr.write(`kube-real: skipping the real-control-plane tests: ${skip}\n`);

const TYPES: Record<string, string> = { 'Tesla-V100-SXM2-16GB': 'v100', 'Tesla-P100-PCIE-16GB': 'p100', 'Tesla-K80': 'k80' };
const NODES: NodeSpec[] = [
  { name: 'v100-a', product: 'Tesla-V100-SXM2-16GB', gpus: 2 },
  { name: 'v100-b', product: 'Tesla-V100-SXM2-16GB', gpus: 2 },
  { name: 'p100-a', product: 'Tesla-P100-PCIE-16GB', gpus: 2 },
  { name: 'p100-b', product: 'Tesla-P100-PCIE-16GB', gpus: 2 },
  { name: 'k80-a', product: 'Tesla-K80', gpus: 4 },
];
const debug = process.env.RONDO_KUBE_DEBUG ? (m: string) => process.stderr.write(`${new Date().toISOString()} ${m}\n`) : undefined;

describe.skipIf(skip !== undefined)(`rondo serve --kube on a real control plane${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let cp: ControlPlane | undefined;
  let kc: k8s.KubeConfig;
  let observer: PodObserver | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    ensureBuilt();
    cp = await ControlPlane.start({ bin: (found as { bin: string }).bin, ...(debug ? { log: debug, keep: true } : {}) });
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    await createNodes(kc, NODES);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await waitFor('kwok nodes Ready', async () => (await core.listNode()).items.filter(nodeIsReady).length === NODES.length, 60_000, 250);
    observer = new PodObserver(kc, new Map(NODES.map((n) => [n.name, n])));
    await observer.start();
  }, 300_000);

  afterAll(async () => {
    observer?.stop();
    await killAll();
    await cp?.stop();
    if (dir && !debug) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('runs 60 Jobs from three queues exactly once, on allowed types, within capacity, through faults', async () => {
    const batch = kc.makeApiClient(k8s.BatchV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const allowed = new Map<string, string[]>();
    const jobs = [];
    for (let i = 0; i < 60; i++) {
      // Every seventh Job may use only K80s; every fifth no V100s; every ninth wants 2 GPUs.
      const types = i % 7 === 0 ? ['k80'] : i % 5 === 0 ? ['p100', 'k80'] : undefined;
      if (types) allowed.set(`j${i}`, types);
      jobs.push(trainingJob({ name: `j${i}`, queue: ['vision', 'nlp', 'research'][i % 3]!, jobType: i % 2 === 0 ? 'resnet' : 'lm', runFor: `${2 + (i % 3)}s`, gpus: i % 9 === 0 ? 2 : 1, ...(types ? { gpuTypes: types.join(',') } : {}) }));
    }
    // Jobs Rondo must not touch: an unlabelled one that runs by itself, and one that belongs to Kueue.
    jobs.push(trainingJob({ name: 'plain', suspend: false, runFor: '3s', nodeSelector: { 'nvidia.com/gpu.product': 'Tesla-K80' } }));
    jobs.push(trainingJob({ name: 'kueue', queue: 'vision', runFor: '3s', labels: { 'kueue.x-k8s.io/queue-name': 'lq' } }));
    await createJobs(kc, jobs);

    dir = tempDir('kube-real');
    const port = await freePort();
    // Rounds longer than a pod's start (Job controller, scheduler, kwok) plus its 2-4 s of work, so a Job that keeps
    // its lease finishes within it; a pod preempted before it ends starts its work again (kwok keeps no checkpoint).
    const args = ['serve', '--db', join(dir!, 'rondo.db'), '--port', String(port), '--quiet', '--round', '8', '--grace', '1', '--heartbeat', '0.25',
      '--worker-timeout', '10', '--kube', '--kubeconfig', cp!.kubeconfig, '--kube-types', Object.entries(TYPES).map(([p, t]) => `${p}=${t}`).join(','),
      '--kube-pending-timeout', '30'];
    let srv: Proc = rondo(args);
    const complete = async (): Promise<number> => (await batch.listNamespacedJob({ namespace: 'default' })).items.filter((j) => /^j\d+$/.test(j.metadata!.name!) && isComplete(j)).length;
    const progress = async (what: string, n: number, ms: number): Promise<void> => {
      await waitFor(what, async () => {
        if (srv.child.exitCode !== null) throw new Error(`rondo exited: ${srv.stderr.slice(-2000)}`);
        return (await complete()) >= n;
      }, ms, 500);
    };
    let notReadyFrom = 0;
    let readyAgainAt = 0;
    try {
      await progress('10 Jobs complete', 10, 240_000);
      // Killed mid-run: the driver writes nothing at exit; its state is on the Jobs and in the store.
      // Wait for a moment when some Job is admitted and not done (at a round's turn all may be suspended at once).
      await waitFor('an admitted Job to kill Rondo under', async () => (await batch.listNamespacedJob({ namespace: 'default', labelSelector: 'rondo.dev/queue' })).items.some((j) => j.spec?.suspend === false && !isComplete(j)), 60_000, 100);
      srv.kill('SIGKILL');
      await srv.exited;
      srv = rondo(args);
      await progress('20 Jobs complete after the restart', 20, 240_000);
      await setNodeReady(kc, 'p100-b', false);
      await waitFor('p100-b NotReady', async () => !nodeIsReady(await core.readNode({ name: 'p100-b' })), 60_000, 250);
      // Rondo drops the node within a pass; the node lifecycle controller taints it within its monitor period (2 s,
      // longer on a loaded machine), and from then on the scheduler binds nothing there. A pod bound just before is
      // seen a little later: 10 s of slack after the taint is seen.
      await waitFor('p100-b tainted not-ready', async () => (await core.readNode({ name: 'p100-b' })).spec?.taints?.some((t) => t.key === 'node.kubernetes.io/not-ready' && t.effect === 'NoSchedule'), 60_000, 250);
      notReadyFrom = Date.now() + 10_000;
      await progress('30 Jobs complete with p100-b down', 30, 240_000);
      await cp!.restartApiServer();
      readyAgainAt = Date.now();
      await setNodeReady(kc, 'p100-b', true);
      await progress('all 60 Jobs complete', 60, 360_000);
    } catch (err) {
      const open = (await batch.listNamespacedJob({ namespace: 'default' }).catch(() => ({ items: [] as k8s.V1Job[] }))).items.filter((j) => !isComplete(j));
      throw new Error(`${(err as Error).message}\nopen Jobs: ${open.map((j) => `${j.metadata!.name} suspend=${j.spec!.suspend} ${JSON.stringify(j.metadata!.annotations)} active=${j.status?.active ?? 0}`).join('\n')}\nrondo stderr: ${srv.stderr.slice(-3000)}\nkube-controller-manager: ${cp!.logTail('kube-controller-manager', 10)}`);
    }

    // Rondo agrees: one completed Rondo job per Kubernetes Job, none submitted twice across the restart.
    const token = readFileSync(join(dir!, 'rondo.db.admin-token'), 'utf8').trim();
    const rjobs = await waitFor('Rondo caught up', async () => {
      const r = (await (await fetch(`http://127.0.0.1:${port}/api/v1/jobs?limit=200`, { headers: { authorization: `Bearer ${token}` } })).json()) as { jobs: Array<{ name: string; state: string; tenant: string }> };
      return r.jobs.length === 60 && r.jobs.every((j) => j.state === 'completed') ? r.jobs : undefined;
    }, 60_000, 500);
    expect(new Set(rjobs.map((j) => j.name)).size).toBe(60);
    expect(new Set(rjobs.map((j) => j.tenant))).toEqual(new Set(['vision', 'nlp', 'research']));

    const o = observer!;
    // Exactly once, as the Job controller counts it: every Job has one counted success and its Complete condition.
    // A pod may still end Succeeded without being counted: one whose work ended just as a suspend deleted it (the
    // Job controller counts a pod it deleted while it ran as terminated, not succeeded), and then the Job runs
    // again. The observer sees those pods; they are reported, and the test checks the Job controller did not count
    // them (no Job has more than one success).
    const jobsNow = (await batch.listNamespacedJob({ namespace: 'default' })).items.filter((j) => /^j\d+$/.test(j.metadata!.name!));
    expect(jobsNow).toHaveLength(60);
    for (const j of jobsNow) {
      expect(j.status?.succeeded, j.metadata!.name).toBe(1);
      expect(isComplete(j), j.metadata!.name).toBe(true);
      expect(o.succeeded.get(j.metadata!.name!)?.size ?? 0, j.metadata!.name).toBeGreaterThanOrEqual(1);
    }
    const repeated = jobsNow.filter((j) => (o.succeeded.get(j.metadata!.name!)?.size ?? 0) + (o.succeededWhileDeleted.get(j.metadata!.name!)?.size ?? 0) > 1);
    process.stderr.write(`kube-real: ${o.starts.length} pod starts for 60 Jobs; ${repeated.length} Jobs had a pod end Succeeded that the Job controller did not count (it was deleted by a suspend as it finished): ${repeated.map((j) => `${j.metadata!.name} (failed ${j.status?.failed ?? 0})`).join(', ')}\n`);
    // Never on a type a Job may not use; every start on a mapped product.
    for (const s of o.starts.filter((x) => /^j\d+$/.test(x.job))) {
      expect(TYPES[s.product], `${s.job} on ${s.node}`).toBeDefined();
      const types = allowed.get(s.job);
      if (types) expect(types, `${s.job} on ${s.product}`).toContain(TYPES[s.product]);
    }
    // No node ever held more GPU pods than it has, and none was bound to p100-b while it was down.
    expect(o.violations).toEqual([]);
    expect(o.starts.filter((s) => s.node === 'p100-b' && s.at > notReadyFrom && s.at < readyAgainAt)).toEqual([]);
    // The watch was cut by the API server restart and established again.
    expect(o.rewatches).toBeGreaterThanOrEqual(1);
    // Jobs Rondo does not own were never written by it: only the test and the Job controller manage their fields.
    const managers = (j: k8s.V1Job): string[] => (j.metadata?.managedFields ?? []).map((f) => f.manager ?? '');
    const rondoManaged = managers(await batch.readNamespacedJob({ name: 'j1', namespace: 'default' })).filter((m) => m !== TEST_MANAGER && m !== 'kube-controller-manager');
    expect(rondoManaged.length, 'Rondo\'s writes show in managedFields').toBeGreaterThan(0);
    for (const name of ['plain', 'kueue']) {
      const j = await batch.readNamespacedJob({ name, namespace: 'default' });
      expect(managers(j).filter((m) => rondoManaged.includes(m)), name).toEqual([]);
      expect(Object.keys(j.metadata!.annotations ?? {}).filter((a) => !['rondo.dev/job-type', 'rondo.dev/total-steps'].includes(a)), name).toEqual([]);
      expect(j.metadata!.generation, name).toBe(1);
    }
    expect((await batch.readNamespacedJob({ name: 'kueue', namespace: 'default' })).spec!.suspend).toBe(true);
    expect(isComplete(await batch.readNamespacedJob({ name: 'plain', namespace: 'default' }))).toBe(true);
  }, 900_000);
});
