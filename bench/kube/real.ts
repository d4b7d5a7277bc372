/**
 * `npm run bench:kube -- --real`: Rondo's Kubernetes driver against the real control plane of test/kube-real (etcd,
 * kube-apiserver, kube-controller-manager, kube-scheduler, kwok; built by scripts/kube-real/build.sh) on the largest
 * cluster it holds on 2 cores within a few minutes. Rondo (server and driver) runs in this process; the API server
 * writes an audit log of every write to Jobs, Secrets and Events, and Rondo's writes are those with its user agent.
 *
 *   --nodes 200 --gpus-per-node 4 --jobs 2000 --round 20 --rounds 3 --run-for 15s
 *
 * Per round (a round starts when its plan is committed; Rondo plans a little ahead of the round's nominal start):
 * API writes by Rondo (patches, Secrets, Events) and the time from the round's start to its last Job patch. Writes
 * bench/results/kube-real.json.
 */
import * as k8s from '@kubernetes/client-node';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../../src/io/index.js';
import { startKube } from '../../src/kube/serve.js';
import { startServer } from '../../src/runtime/serve.js';
import { ControlPlane, findBinaries } from '../../test/kube-real/control-plane.js';
import { createJobs, createNodes, isComplete, nodeIsReady, trainingJob, type NodeSpec } from '../../test/kube-real/objects.js';
import { repoRoot } from '../root.js';

const PRODUCTS: Record<string, string> = { 'Tesla-V100-SXM2-16GB': 'v100', 'Tesla-P100-PCIE-16GB': 'p100', 'Tesla-K80': 'k80' };

function arg(argv: readonly string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
}

interface AuditEvent {
  verb: string;
  userAgent?: string;
  requestReceivedTimestamp: string;
  objectRef?: { resource?: string; subresource?: string };
  responseStatus?: { code?: number };
}

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create, update, patch, delete]
  resources:
  - group: batch
    resources: [jobs, jobs/status]
  - group: ""
    resources: [secrets, events]
- level: None
`;

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

export async function runRealBench(argv: string[]): Promise<void> {
  const root = repoRoot(dirname(fileURLToPath(import.meta.url)));
  const nodes = Number(arg(argv, 'nodes', '200'));
  const perNode = Number(arg(argv, 'gpus-per-node', '4'));
  const jobCount = Number(arg(argv, 'jobs', '2000'));
  const roundS = Number(arg(argv, 'round', '20'));
  const rounds = Number(arg(argv, 'rounds', '3'));
  const runFor = arg(argv, 'run-for', '15s');
  const found = findBinaries(root);
  if ('skip' in found) throw new Error(`bench:kube --real: ${found.skip}`);

  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-kube-real-'));
  const policy = join(dir, 'audit-policy.yaml');
  const auditLog = join(dir, 'audit.log');
  writeFileSync(policy, AUDIT_POLICY);
  const log = (m: string): void => void process.stderr.write(`${new Date().toISOString()} ${m}\n`);
  const cp = await ControlPlane.start({
    bin: found.bin,
    log,
    extraFlags: { 'kube-apiserver': [`--audit-policy-file=${policy}`, `--audit-log-path=${auditLog}`, '--audit-log-format=json', '--audit-log-maxsize=0'] },
  });
  let stopRondo: (() => Promise<void>) | undefined;
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    const products = Object.keys(PRODUCTS);
    const specs: NodeSpec[] = Array.from({ length: nodes }, (_, i) => ({ name: `gpu-${i}`, product: products[i % products.length]!, gpus: perNode }));
    let t = Date.now();
    await createNodes(kc, specs);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    for (;;) {
      if ((await core.listNode()).items.filter(nodeIsReady).length === nodes) break;
      if (Date.now() - t > 300_000) throw new Error('kwok nodes not Ready after 300 s');
      await new Promise((r) => setTimeout(r, 1000));
    }
    const nodesReadyMs = Date.now() - t;
    log(`${nodes} nodes Ready in ${nodesReadyMs} ms`);
    t = Date.now();
    await createJobs(kc, Array.from({ length: jobCount }, (_, i) => trainingJob({ name: `b${i}`, queue: `q${i % 3}`, runFor, graceSeconds: 1, jobType: i % 2 ? 'lm' : 'resnet', gpus: i % 10 === 0 ? 2 : 1 })), 16);
    const jobsCreatedMs = Date.now() - t;
    log(`${jobCount} Jobs created in ${jobsCreatedMs} ms`);

    const db = join(dir, 'rondo.db');
    const srv = await startServer({ db, port: 0, policy: 'max_min_fairness_perf', timing: { roundMs: roundS * 1000 } });
    const kube = await startKube(srv, { typeLabel: 'nvidia.com/gpu.product', typeMap: PRODUCTS, pendingTimeoutMs: 120_000, shortForMs: 600_000, kubeconfig: cp.kubeconfig, jobServerUrl: srv.url });
    stopRondo = async () => {
      await kube.close();
      await srv.close();
    };
    // Rounds are measured once Rondo has taken in every Job (before that a round sees only part of the queue).
    t = Date.now();
    while (srv.store.listJobs({ limit: jobCount + 1, afterSeq: 0 }).length < jobCount) {
      if (Date.now() - t > 600_000) throw new Error('Rondo did not take in every Job within 600 s');
      await new Promise((r) => setTimeout(r, 500));
    }
    log(`Rondo took in ${jobCount} Jobs in ${Date.now() - t} ms`);
    const rondoFrom = Date.now();
    const firstRound = (srv.store.lastRound()?.round ?? 0) + 1;
    // Each round's start as the store records it (polled: rounds are seconds apart).
    const starts = new Map<number, number>();
    const poll = setInterval(() => {
      const r = srv.store.lastRound();
      if (r && r.round >= firstRound && !starts.has(r.round)) starts.set(r.round, Math.min(r.plannedAt, r.start));
    }, 50);
    while ((srv.store.lastRound()?.round ?? 0) < firstRound + rounds) await new Promise((r) => setTimeout(r, 250));
    clearInterval(poll);
    const stoppedAt = Date.now();
    await stopRondo();
    stopRondo = undefined;
    const batch = kc.makeApiClient(k8s.BatchV1Api);
    const completed = (await batch.listNamespacedJob({ namespace: 'default' })).items.filter(isComplete).length;

    // Rondo's writes: after it started, not from a Kubernetes component (their user agents name them).
    const component = /^(kube-controller-manager|kube-scheduler|kwok)\b/;
    const events = readFileSync(auditLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEvent)
      .map((e) => ({ ...e, at: Date.parse(e.requestReceivedTimestamp) }))
      .filter((e) => e.at >= rondoFrom && e.at <= stoppedAt && !component.test(e.userAgent ?? ''));
    const byRound = [...starts.entries()].sort((a, b) => a[0] - b[0]);
    const perRound = byRound.slice(0, -1).map(([round, start], i) => {
      const end = byRound[i + 1]![1];
      const inRound = events.filter((e) => e.at >= start && e.at < end);
      const jobPatches = inRound.filter((e) => e.verb === 'patch' && e.objectRef?.resource === 'jobs');
      const last = jobPatches.reduce((m, e) => Math.max(m, e.at), start);
      return {
        round,
        writes: inRound.length,
        jobPatches: jobPatches.length,
        statusPatches: jobPatches.filter((e) => e.objectRef?.subresource === 'status').length,
        secretWrites: inRound.filter((e) => e.objectRef?.resource === 'secrets').length,
        eventWrites: inRound.filter((e) => e.objectRef?.resource === 'events').length,
        conflicts: inRound.filter((e) => e.responseStatus?.code === 409).length,
        startToLastPatchMs: jobPatches.length ? last - start : 0,
      };
    });
    const result = {
      bench: 'kube-real',
      when: new Date().toISOString(),
      machine: { cpus: cpus().length, loadavg: loadavg() },
      versions: readFileSync(join(found.bin, '..', 'VERSIONS'), 'utf8').trim(),
      cluster: { nodes, gpusPerNode: perNode, gpus: nodes * perNode, jobs: jobCount, roundSeconds: roundS, podRunFor: runFor },
      setupMs: { nodesReady: nodesReadyMs, jobsCreated: jobsCreatedMs },
      completedJobs: completed,
      rounds: perRound,
      summary: {
        startToLastPatchMsP50: quantile(perRound.map((r) => r.startToLastPatchMs), 0.5),
        startToLastPatchMsMax: Math.max(...perRound.map((r) => r.startToLastPatchMs)),
        writesPerRoundP50: quantile(perRound.map((r) => r.writes), 0.5),
        writesPerRoundMax: Math.max(...perRound.map((r) => r.writes)),
      },
      userAgents: [...new Set(events.map((e) => e.userAgent ?? ''))],
    };
    writeFileAtomic(join(root, 'bench', 'results', 'kube-real.json'), `${JSON.stringify(result, null, 2)}\n`);
    log(`kube-real: ${JSON.stringify(result.summary)}; wrote bench/results/kube-real.json`);
  } finally {
    await stopRondo?.();
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
