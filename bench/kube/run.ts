/**
 * `npm run bench:kube`: `rondo serve --kube` (server and driver in this process, as the CLI runs them) against a fake
 * API server with 1,000 nodes / 4,000 GPUs of three types and 10,000 queued Jobs (bench/kube/fake.ts, a child
 * process, so the CPU and memory measured here are Rondo's). After the Jobs are queued and the nodes registered, it
 * watches `--rounds` rounds and reports per round: the time from the round's start to the last admission or stop
 * that carries out its plan (attribute.ts: by the plans in the store, not by arrival time), the backfill plans
 * apart, the last Job write of any kind in the round's window, the writes (Job patches, /status patches, Events), writes to
 * Jobs whose lease was only extended (must be 0), LIST requests (must be 0: the driver reads its watch caches), and
 * the process's peak memory. Writes bench/results/kube.json (fields: docs/kubernetes.md, "Scale").
 *
 *   npm run bench:kube [-- --nodes 1000 --gpus-per-node 4 --jobs 10000 --round 20 --rounds 5 --policy max_min_fairness_perf
 *                         --max-changes auto|none|N --change-window S --out bench/results/kube.json]
 */
import { fork } from 'node:child_process';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readThroughputs, writeFileAtomic } from '../../src/io/index.js';
import { startServer } from '../../src/runtime/serve.js';
import { startKube } from '../../src/kube/serve.js';
import { parseChangeWindow, parseMaxChanges } from '../../src/kube/config.js';
import { kubeChangeBudget } from '../../src/kube/change-budget.js';
import { flag, peakMemory, repoRoot } from '../root.js';
import { BENCH_PRODUCTS, type FakeReport, type ReportRequest } from './shared.js';
import { attribute, regularRounds, spanOf, type DecisionWrite, type PlanRow } from './attribute.js';
import type { Mark } from '../../src/kube/timeline.js';

if (process.argv.includes('--real')) {
  // The real control plane (test/kube-real, built by scripts/kube-real/build.sh) instead of the fake cluster.
  const { runRealBench } = await import('./real.js');
  await runRealBench(process.argv.slice(2));
  process.exit(0);
}

const here = dirname(fileURLToPath(import.meta.url));
const root = repoRoot(here);
const nodes = Number(flag('nodes', '1000'));
const gpusPerNode = Number(flag('gpus-per-node', '4'));
const jobCount = Number(flag('jobs', '10000'));
const roundS = Number(flag('round', '20'));
const rounds = Number(flag('rounds', '5'));
const policy = flag('policy', 'max_min_fairness_perf');
// The change budget as `rondo serve --kube` takes it: auto (default: measured write rate x --change-window), none, N.
const maxChangesSetting = parseMaxChanges(process.argv.includes('--max-changes') ? flag('max-changes', '') : undefined, true);
const changeWindowS = parseChangeWindow(process.argv.includes('--change-window') ? flag('change-window', '') : undefined, roundS, maxChangesSetting);
const budget = kubeChangeBudget(maxChangesSetting, changeWindowS);
for (const [name, v] of Object.entries({ nodes, 'gpus-per-node': gpusPerNode, jobs: jobCount, round: roundS, rounds })) {
  if (!(v > 0) || !Number.isFinite(v)) {
    process.stderr.write(`bench:kube: --${name} must be a positive number\n`);
    process.exit(2);
  }
}

const log = (m: string): void => void process.stderr.write(`[bench:kube ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

type Span = { n: number; firstMs: number | null; lastMs: number | null };
/**
 * One round of the driver's timeline: per kind, how many marks fell in [from, to) and the first and last, in ms
 * from the round's start; new leases of the round counted from when its plan was made; waits in the writer's queue
 * and for pods to go (the stop's suspend to no pod left), as p50 and max.
 */
function timelineOf(marks: readonly Mark[], round: number, from: number, to: number, plannedAt: number): Record<string, unknown> {
  const span = (xs: readonly Mark[]): Span => ({ n: xs.length, firstMs: xs.length > 0 ? xs[0]!.at - from : null, lastMs: xs.length > 0 ? xs[xs.length - 1]!.at - from : null });
  const inWin = marks.filter((m) => m.at >= from && m.at < to);
  const kinds: Record<string, Span> = {};
  for (const k of [...new Set(inWin.map((m) => m.kind))].sort()) kinds[k] = span(inWin.filter((m) => m.kind === k));
  const waits = (kind: string): { p50: number | null; max: number | null } => {
    const ms = inWin.filter((m) => m.kind === kind && m.ms !== undefined).map((m) => m.ms!);
    return { p50: pct(ms, 50), max: ms.length > 0 ? Math.max(...ms) : null };
  };
  const leases = marks.filter((m) => m.kind === 'lease' && m.round === round);
  return {
    planMadeMs: plannedAt - from,
    leasesOfRound: span(leases),
    passes: { n: kinds.pass?.n ?? 0, ...waits('pass') },
    syncMs: waits('sync'),
    queueWaitMs: { admit: waits('admit.sent'), stop: waits('stop.sent'), secret: waits('secret.sent') },
    podsGoneAfterSuspendMs: waits('stop.podsGone'),
    kinds,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-kube-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const child = fork(join(here, 'fake.js'), [String(nodes), String(gpusPerNode), String(jobCount), kubeconfig], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages: Array<(m: unknown) => void> = [];
  child.on('message', (m) => messages.shift()?.(m));
  const next = <T>(): Promise<T> => new Promise((r) => messages.push(r as (m: unknown) => void));
  const tSetup = Date.now();
  await next<{ ready: true }>();
  log(`fake cluster up: ${nodes} nodes x ${gpusPerNode} GPUs, ${jobCount} Jobs (${Date.now() - tSetup} ms)`);

  const mem = peakMemory();
  const cpu0 = process.cpuUsage();
  const wall0 = Date.now();
  // Setup: the server starts, the driver submits every Job (before any node-worker is live) and registers the nodes.
  const t0 = Date.now();
  const srv = await startServer({
    db: join(dir, 'rondo.db'),
    port: 0,
    policy,
    // The report reads every round's plan from the store, backfill plans included: keep them all (default 100).
    keepPlans: 10_000,
    ...(budget.maxChanges !== undefined ? { maxChanges: budget.maxChanges } : {}),
    ...(process.env.RONDO_KUBE_DEBUG ? { log } : {}),
    timing: { roundMs: roundS * 1000, heartbeatMs: 1000, graceMs: 1000, workerTimeoutMs: 30_000 },
    throughputs: readThroughputs(join(root, 'data/gavel/simulation_throughputs.json')),
  });
  const debug = process.env.RONDO_KUBE_DEBUG ? log : undefined;
  const kube = await startKube(srv, { typeLabel: 'nvidia.com/gpu.product', typeMap: BENCH_PRODUCTS, pendingTimeoutMs: 120_000, shortForMs: 600_000, kubeconfig, ...(budget.auto ? { changeBudget: budget.auto } : {}) }, debug);
  // The driver's timeline (src/kube/timeline.ts): what each round's last Job write waited for.
  kube.controller.timeline.enabled = true;
  for (;;) {
    const queued = srv.store.listJobs({ limit: 1, afterSeq: jobCount - 1 }).length;
    const workers = srv.store.listWorkers().length;
    if (queued > 0 && workers >= nodes) break;
    if (Date.now() - t0 > 600_000) throw new Error(`setup did not finish in 10 minutes (${workers} workers)`);
    if (debug) debug(`setup: ${srv.store.listJobs({ limit: jobCount + 10, afterSeq: 0 }).length} jobs queued, ${workers} workers, rounds ${srv.scheduler.stats.rounds}`);
    await sleep(500);
  }
  const setupMs = Date.now() - t0;
  log(`all ${jobCount} Jobs queued in Rondo and ${nodes} node-workers registered in ${setupMs} ms`);

  // Regular rounds as the store records them (a backfill plan between two is a round row too, starting mid-round),
  // told apart from all rows as the attribution does (attribute.ts), so the windows and the attribution agree.
  const firstRound = (srv.store.lastRoundInfo()?.round ?? 0) + 1;
  const regular: number[] = [];
  // CPU time of this process (server and driver) at each regular round's start, sampled as the start is seen.
  const cpuAt = new Map<number, number>();
  // The change budget the round was planned with and the write rate measured then (auto budget; null: none).
  const budgetAt = new Map<number, { changeBudget: number | null; changesPerS: number | null; changeLatencyS: number | null }>();
  const live = new Database(join(dir, 'rondo.db'), { readonly: true });
  const starts = live.prepare('SELECT round, start FROM rounds ORDER BY round');
  const placements = live.prepare("SELECT json_array_length(plan, '$.assignments') AS n FROM rounds WHERE round = ?");
  while (regular.length < rounds + 2) {
    const all = starts.all() as Array<{ round: number; start: number }>;
    const isRegular = regularRounds(all.map((r) => ({ ...r, assignments: [] })), roundS * 1000);
    for (const r of all) {
      if (r.round < firstRound || !isRegular.has(r.round) || cpuAt.has(r.start) || regular.length >= rounds + 2) continue;
      regular.push(r.start);
      const c = process.cpuUsage(cpu0);
      cpuAt.set(r.start, (c.user + c.system) / 1000);
      budgetAt.set(r.start, { changeBudget: srv.scheduler.stats.changeBudget, changesPerS: budget.auto ? Math.round(budget.auto.rate.perSecond * 10) / 10 : null, changeLatencyS: budget.auto ? Math.round(budget.auto.rate.latencyS * 1000) / 1000 : null });
      log(`round ${r.round} planned (starts in ${r.start - Date.now()} ms, ${(placements.get(r.round) as { n: number }).n} placements)`);
    }
    await sleep(100);
  }
  live.close();
  // The last planned round has started and had its time too.
  while (Date.now() < regular[regular.length - 1]! + roundS * 1000) await sleep(200);
  mem.stop();

  const cpu = process.cpuUsage(cpu0);
  const wallMs = Date.now() - wall0;
  const windows = regular.slice(0, -1).map((s, i) => ({ from: s, to: regular[i + 1]! }));
  child.send({ cmd: 'report', windows } satisfies ReportRequest);
  const fake = await next<FakeReport>();

  // Every round's plan from the store (all rows: a stop in a measured round may end an attempt planned before
  // it): which Jobs each regular round admitted, extended and stopped, and what the backfill plans between admitted.
  const db = new Database(join(dir, 'rondo.db'), { readonly: true });
  const rows = db.prepare('SELECT round, start, planned_at AS plannedAt, plan FROM rounds ORDER BY round').all() as Array<{ round: number; start: number; plannedAt: number; plan: string }>;
  db.close();
  const kname = new Map(srv.store.listJobs({ limit: jobCount + 10, afterSeq: 0 }).map((j) => [j.id, j.name?.split('/')[2] ?? '']));
  type Asg = { jobId: string; attempt: number; leaseExtended: boolean };
  const plans = new Map(rows.map((r) => [r.round, (JSON.parse(r.plan) as { assignments: Asg[] }).assignments]));
  const planOf = (r: { round: number }): Asg[] => plans.get(r.round)!;
  const planRows: PlanRow[] = rows.map((r) => ({ round: r.round, start: r.start, assignments: planOf(r) }));
  const isRegular = regularRounds(planRows, roundS * 1000);
  // Each admission and stop goes to the plan it carries out (attribute.ts), not to the window it arrived in.
  const decisionJobWrites = fake.jobWrites.filter((w) => !w.sub && w.status === 200 && w.suspend !== undefined);
  const decisions: DecisionWrite[] = decisionJobWrites.map((w) => {
    const attempt = w.suspend ? w.priorAttempt : w.attempt;
    return { at: w.at, job: w.job, suspend: w.suspend!, ...(attempt !== undefined ? { attempt } : {}), ...(w.round !== undefined ? { round: w.round } : {}) };
  });
  const att = attribute(planRows, isRegular, decisions);
  // The fake's records of the attributed decisions, which the extended-Job check below leaves out.
  const unattributed = new Set(att.unattributed.map((u) => u.write));
  const attributedJobWrites = new Set(decisionJobWrites.filter((_, i) => !unattributed.has(decisions[i]!)));
  const unattributedAt = att.unattributed.map((u) => u.write.at);
  const measured = new Set<number>();
  // Jobs admitted or stopped in the previous round: their background writes (restore, annotations) may still arrive
  // in this one, which is not a write for an extension.
  let changedBefore = new Set<string>();
  const perRound = fake.windows.map((w, i) => {
    const reg = rows.find((r) => r.start === w.from && isRegular.has(r.round));
    if (!reg) throw new Error(`bench:kube: the round starting at ${new Date(w.from).toISOString()} is not a regular round of the store's plans`);
    measured.add(reg.round);
    const to = windows[i]!.to;
    const prevFrom = i > 0 ? windows[i - 1]!.from : undefined;
    const plan = planOf(reg);
    const backfills = rows.filter((r) => !isRegular.has(r.round) && r.start >= w.from && r.start < to);
    const running = new Set(plan.map((a) => a.jobId));
    const before = new Set(prevFrom === undefined ? [] : rows.filter((r) => r.start >= prevFrom && r.start < w.from).flatMap((r) => planOf(r).map((a) => a.jobId)));
    const admitted = new Set(plan.filter((a) => !a.leaseExtended).map((a) => kname.get(a.jobId)!));
    const backfilled = new Set(backfills.flatMap(planOf).map((a) => kname.get(a.jobId)!));
    const extended = new Set(plan.filter((a) => a.leaseExtended).map((a) => kname.get(a.jobId)!));
    const stopped = new Set([...before].filter((id) => !running.has(id)).map((id) => kname.get(id)!));
    const changed = new Set([...admitted, ...backfilled, ...stopped]);
    const lagging = changedBefore;
    changedBefore = changed;
    const mine = att.regular.get(reg.round)!;
    const all = spanOf([...mine.admissions, ...mine.stops]);
    return {
      round: reg.round,
      // From this round's start to the next regular round's: the round length, longer after a late plan.
      windowMs: to - w.from,
      // The target: from the round's start to the last admission or stop that carries out this round's plan
      // (attribute.ts), wherever it arrived; negative when all came before the start.
      lastDecisionWriteMs: all.lastMs,
      firstDecisionWriteMs: all.firstMs,
      lastAdmissionWriteMs: spanOf(mine.admissions).lastMs,
      lastStopWriteMs: spanOf(mine.stops).lastMs,
      // Of them, how many reached the API server before the round's start (the driver dates leases from its sync's send).
      earlyDecisionWrites: all.early,
      // Any Job write that arrived in [this start, the next round's start), background writes included (docs/kubernetes.md, "Scale").
      lastJobWriteMs: w.lastJobWriteAt === null ? null : w.lastJobWriteAt - w.from,
      admissionWrites: mine.admissions.length,
      suspendWrites: mine.stops.length,
      // Backfill plans that started in this round: their admissions, timed from the plan's start.
      backfills: backfills.map((b) => {
        const adm = att.backfill.get(b.round)!.admissions;
        return { round: b.round, startMs: b.start - w.from, planned: planOf(b).length, admissionWrites: adm.length, lastAdmissionWriteMs: spanOf(adm).lastMs };
      }),
      unattributedWrites: unattributedAt.filter((t) => t >= w.from && t < to).length,
      // The driver's timeline over this round's window, ms from its start (negative: before it).
      timeline: timelineOf(kube.controller.timeline.marks, reg.round, w.from, to, reg.plannedAt),
      ...(budgetAt.get(w.from) ?? { changeBudget: null, changesPerS: null, changeLatencyS: null }),
      rondoCpuMs: cpuAt.has(to) && cpuAt.has(w.from) ? Math.round(cpuAt.get(to)! - cpuAt.get(w.from)!) : null,
      admitted: admitted.size,
      stopped: prevFrom === undefined ? null : stopped.size,
      extended: extended.size,
      backfillPlans: backfills.length,
      backfillAdmitted: backfilled.size,
      jobsWritten: w.jobsWritten.length,
      jobPatches: w.jobPatches,
      statusPatches: w.statusPatches,
      conflicts: w.conflicts,
      events: w.events,
      otherWrites: w.otherWrites,
      // A Job that keeps its lease must get no write: a write to one that arrived in this window and is neither the
      // admission or stop of another round (an early stop at this round's end) nor a late background write of a Job
      // changed in the round before.
      writesToExtendedJobs: fake.jobWrites.filter((x) => x.at >= w.from && x.at < to && extended.has(x.job) && !lagging.has(x.job) && !attributedJobWrites.has(x)).length,
      lists: w.lists.length,
      watchesOpened: w.watches,
    };
  });
  const steady = perRound.slice(1);
  const times = steady.map((r) => r.lastDecisionWriteMs).filter((x): x is number => x !== null);
  const anyTimes = steady.map((r) => r.lastJobWriteMs).filter((x): x is number => x !== null);
  const backfillTimes = steady.flatMap((r) => r.backfills.map((b) => b.lastAdmissionWriteMs)).filter((x): x is number => x !== null);
  // Every decision write of the run is in a measured round, a backfill plan, another round (before the first measured
  // one or after the last), or unattributed.
  const inMeasured = [...measured].reduce((a, r) => a + att.regular.get(r)!.admissions.length + att.regular.get(r)!.stops.length, 0);
  const inBackfills = perRound.reduce((a, r) => a + r.backfills.reduce((b, x) => b + x.admissionWrites, 0), 0);
  const whyCount: Record<string, number> = {};
  for (const u of att.unattributed) whyCount[u.why] = (whyCount[u.why] ?? 0) + 1;
  const result = {
    bench: 'kube',
    setting: {
      nodes,
      gpus: nodes * gpusPerNode,
      gpuTypes: Object.values(BENCH_PRODUCTS),
      jobs: jobCount,
      roundS,
      policy,
      maxChanges: maxChangesSetting === 'none' ? null : maxChangesSetting,
      ...(maxChangesSetting === 'auto' ? { changeWindowS } : {}),
      heartbeatS: 1,
      fake: 'test/kube fake API server, Job controller, kube-scheduler and kubelets in a child process; grace 0',
      machine: `${process.platform} ${process.arch}, node ${process.version}`,
    },
    setupMs,
    rounds: perRound,
    steady: {
      rounds: steady.length,
      lastDecisionWriteMsP50: pct(times, 50),
      lastDecisionWriteMsMax: times.length > 0 ? Math.max(...times) : null,
      lastJobWriteMsP50: pct(anyTimes, 50),
      lastJobWriteMsMax: anyTimes.length > 0 ? Math.max(...anyTimes) : null,
      targetP50Ms: 2000,
      earlyDecisionWrites: steady.reduce((a, r) => a + r.earlyDecisionWrites, 0),
      backfillPlans: backfillTimes.length,
      backfillLastWriteMsP50: pct(backfillTimes, 50),
      backfillLastWriteMsMax: backfillTimes.length > 0 ? Math.max(...backfillTimes) : null,
      unattributedWrites: steady.reduce((a, r) => a + r.unattributedWrites, 0),
      jobWritesPerRoundMean: steady.reduce((a, r) => a + r.jobPatches + r.statusPatches, 0) / Math.max(1, steady.length),
      admittedPerRoundMean: steady.reduce((a, r) => a + r.admitted, 0) / Math.max(1, steady.length),
      backfillAdmittedPerRoundMean: steady.reduce((a, r) => a + r.backfillAdmitted, 0) / Math.max(1, steady.length),
      stoppedPerRoundMean: steady.reduce((a, r) => a + (r.stopped ?? 0), 0) / Math.max(1, steady.length),
      extendedPerRoundMean: steady.reduce((a, r) => a + r.extended, 0) / Math.max(1, steady.length),
      writesToExtendedJobs: steady.reduce((a, r) => a + r.writesToExtendedJobs, 0),
      listsDuringRounds: perRound.reduce((a, r) => a + r.lists, 0),
    },
    // Every admission and stop of the run (Job PATCHes that set spec.suspend, 200): in a measured regular round, in a
    // backfill plan started in one, in a round outside the measured ones, or unattributed (with why).
    attribution: {
      decisionWrites: decisions.length,
      inMeasuredRounds: inMeasured,
      inBackfillPlans: inBackfills,
      inOtherRounds: decisions.length - inMeasured - inBackfills - att.unattributed.length,
      unattributedWrites: att.unattributed.length,
      unattributedWhy: whyCount,
    },
    listsTotal: fake.listsTotal?.length ?? null,
    driver: { syncs: kube.controller.stats.syncs, passes: kube.controller.stats.passes, ...kube.controller.writer.stats },
    peakRssMb: Math.round(mem.peakRssMb),
    peakHeapMb: Math.round(mem.peakHeapMb),
    fakePeakRssMb: fake.peakRssMb === undefined ? null : Math.round(fake.peakRssMb),
    // Both processes share this machine's cores: CPU seconds per wall second of each say which one was the bottleneck.
    cpu: { rondoCpuS: (cpu.user + cpu.system) / 1e6, fakeCpuS: (fake.cpuMs ?? 0) / 1000, wallS: wallMs / 1000, cores: availableParallelism(), loadAverage1m: loadavg()[0] },
    violations: fake.violations,
    podsRunningAtEnd: fake.podsRunning,
  };
  writeFileAtomic(resolve(root, flag('out', 'bench/results/kube.json')), JSON.stringify(result, null, 2) + '\n');
  log(`steady rounds: last admission or stop p50 ${result.steady.lastDecisionWriteMsP50} ms (max ${result.steady.lastDecisionWriteMsMax}; any Job write ${result.steady.lastJobWriteMsP50} ms), ${result.steady.jobWritesPerRoundMean.toFixed(0)} Job writes per round for ${result.steady.admittedPerRoundMean.toFixed(0)} admitted and ${result.steady.stoppedPerRoundMean.toFixed(0)} stopped Jobs (${result.steady.extendedPerRoundMean.toFixed(0)} extended: ${result.steady.writesToExtendedJobs} writes to them), ${result.steady.listsDuringRounds} LISTs; peak RSS ${result.peakRssMb} MiB`);
  await kube.close();
  await srv.close();
  child.disconnect();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e: Error) => {
  process.stderr.write(`bench:kube failed: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
