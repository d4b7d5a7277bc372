/**
 * The fake cluster of `npm run bench:kube`, in a child process of its own so that the benchmark's CPU time and
 * memory are Rondo's: the fake API server and its controllers and kubelets (test/kube), nodes of three GPU types and
 * the queued Jobs. Talks to the parent over the IPC channel: `ready` with the kubeconfig, then answers `report`
 * with what it saw per time window (writes, their last arrival, LIST requests).
 *
 *   node fake.js <nodes> <gpusPerNode> <jobs> <kubeconfigPath>
 */
import { writeFileSync } from 'node:fs';
import { FakeApiServer } from '../../test/kube/fake-apiserver.js';
import { FakeCluster } from '../../test/kube/fake-cluster.js';
import { A_ATTEMPT, A_ROUND } from '../../src/kube/config.js';
import { BENCH_PRODUCTS, BENCH_SPEEDS, benchJob, type FakeReport, type JobWrite, type ReportRequest } from './shared.js';

/** A Job's path or its /status subresource: /apis/batch/v1/namespaces/<ns>/jobs/<name>[/status]. */
const JOB_WRITE = /\/jobs\/[^/]+(\/status)?$/;

async function main(): Promise<void> {
  const [nodes, gpusPerNode, jobs] = process.argv.slice(2, 5).map(Number) as [number, number, number];
  const kubeconfigPath = process.argv[5]!;
  const api = new FakeApiServer();
  // 10,000 Jobs' request bodies would be the fake's largest memory: the benchmark needs only times and paths.
  api.keepBodies = false;
  api.historyLimit = 50_000;
  // What attributes an admission or a stop to the plan it carries out (attribute.ts), kept without bodies.
  api.recordAnnotations = [A_ATTEMPT, A_ROUND];
  await api.start();
  writeFileSync(kubeconfigPath, api.kubeconfig());
  api.create('namespaces', { metadata: { name: 'default' } });
  // Pods run at the table's speeds; a stopped pod is gone on the kubelet's next tick (grace 0): the benchmark
  // measures Rondo and the API server, not a checkpoint.
  const cluster = new FakeCluster(api, { throughputs: BENCH_SPEEDS, speedup: 1, tickMs: 100, graceS: 0 });
  const products = Object.keys(BENCH_PRODUCTS);
  for (let i = 0; i < nodes; i++) cluster.addNode(`node-${String(i).padStart(4, '0')}`, products[i % products.length]!, gpusPerNode);
  for (let i = 0; i < jobs; i++) api.create('jobs', benchJob(i));
  cluster.start();

  process.on('message', (m: ReportRequest) => {
    if (m.cmd !== 'report') return;
    const num = (v: string | undefined): number | undefined => (v === undefined || !Number.isFinite(Number(v)) ? undefined : Number(v));
    const jobWrites: JobWrite[] = api.seen
      .filter((s) => s.method === 'PATCH' && JOB_WRITE.test(s.path))
      .map((s) => {
        const attempt = num(s.annotations?.[A_ATTEMPT]);
        const priorAttempt = num(s.priorAnnotations?.[A_ATTEMPT]);
        const round = num(s.annotations?.[A_ROUND]);
        return {
          at: s.at,
          job: s.path.split('/')[7]!,
          status: s.status,
          ...(s.path.endsWith('/status') ? { sub: true as const } : {}),
          ...(s.suspend !== undefined ? { suspend: s.suspend } : {}),
          ...(attempt !== undefined ? { attempt } : {}),
          ...(priorAttempt !== undefined ? { priorAttempt } : {}),
          ...(round !== undefined ? { round } : {}),
        };
      });
    const out: FakeReport = { windows: [], jobWrites, violations: cluster.violations.length, podsRunning: api.peek('pods').filter((p) => p.status?.phase === 'Running').length };
    for (const w of m.windows) {
      const seen = api.seen.filter((s) => s.at >= w.from && s.at < w.to);
      const jobWrites = seen.filter((s) => s.method === 'PATCH' && JOB_WRITE.test(s.path));
      out.windows.push({
        from: w.from,
        jobPatches: jobWrites.filter((s) => !s.path.endsWith('/status')).length,
        statusPatches: jobWrites.filter((s) => s.path.endsWith('/status')).length,
        conflicts: jobWrites.filter((s) => s.status === 409).length,
        events: seen.filter((s) => s.method === 'POST' && s.path.endsWith('/events')).length,
        otherWrites: seen.filter((s) => s.method !== 'GET' && !s.path.endsWith('/events') && !jobWrites.includes(s)).length,
        jobsWritten: [...new Set(jobWrites.map((s) => s.path.split('/')[7]!))],
        lastJobWriteAt: jobWrites.length > 0 ? Math.max(...jobWrites.map((s) => s.at)) : null,
        lists: seen.filter((s) => s.method === 'GET' && !s.watch && /\/(jobs|pods|nodes)$/.test(s.path)).map((s) => s.path),
        watches: seen.filter((s) => s.watch).length,
      });
    }
    out.listsTotal = api.seen.filter((s) => s.method === 'GET' && !s.watch && /\/(jobs|pods|nodes)$/.test(s.path)).map((s) => s.path);
    out.peakRssMb = process.memoryUsage().rss / 2 ** 20;
    const cpu = process.cpuUsage();
    out.cpuMs = (cpu.user + cpu.system) / 1000;
    process.send!(out);
  });
  process.on('disconnect', () => {
    cluster.stop();
    void api.stop().finally(() => process.exit(0));
  });
  process.send!({ ready: true });
}

void main();
