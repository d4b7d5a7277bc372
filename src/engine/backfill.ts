/**
 * Phase: backfill (`EngineConfig.backfill`; off by default: Gavel has no such step, and with it off nothing here
 * runs). GPUs that a round leaves idle before its end (a job finished or failed early, a job arrived while GPUs were
 * free) are given to queued jobs at once, by the mechanism's own order (src/mechanism, the same priorities and
 * placement rule) planned over the free GPUs only: leases already handed out are never moved or broken. Each such
 * partial round runs from the moment the GPUs are free until the current round's end; the next full round may extend
 * its leases as usual.
 *
 * Where the engine learns when GPUs free up depends on the driver:
 *   - a simulator (no `Executor.observe`): the round's report says when each job stopped, so the phase steps
 *     through those times (and the arrivals before the round's end) in order;
 *   - a live server (`Executor.observe`): its executor resolves a round early when something changed
 *     (`RoundReport.backfillUntil`), and the phase plans on the GPUs no open lease holds now.
 *
 * With a change budget (`EngineConfig.maxChanges`) every partial plan is a plan like any other: it starts at most N
 * jobs (src/mechanism/budget.ts says why per plan). A plan the budget cut while GPUs stay free
 * (`RoundPlan.budgetLimited`, a full round's or a partial one's) is followed by another partial plan on what is still
 * free, until one is not cut or nothing fits:
 *   - a simulator plans it at once, at the same simulated time (a live server's gap between passes is a fraction of
 *     a second, nothing at round scale), so the cluster fills in one instant but N starts a plan; the times GPUs free
 *     up and jobs arrive are stepped through as before;
 *   - a live server's executor resolves early again after its backfill gap (src/runtime/server/scheduler.ts), so
 *     passes come at most one a gap and stop before the next round must be planned.
 * Without a budget no plan carries the mark, and nothing here differs.
 */
import { rowKeyOf, type ClusterSpec, type RoundPlan, type Server } from '../model/index.js';
import { planRound, type MechanismRow } from '../mechanism/index.js';
import { admit } from './admit.js';
import { changeBudgetNow } from './config.js';
import { closeRound, credit } from './credit.js';
import { execute } from './execute.js';
import { observe } from './observe.js';
import { candidates } from './pairs.js';
import { save } from './persistence.js';
import { typeOrder } from './plan-round.js';
import { reallocate, reallocationDue } from './reallocate.js';
import { cancel, retire } from './retire.js';
import { pause, type RunState } from './state.js';
import type { RoundReport } from './types.js';

/**
 * A slot shorter than this share of a round is left idle: a started job pays a (re)start, and in a simulation a
 * job's last fraction of a step before the round's end would otherwise open a slot worth nothing.
 */
export const MIN_BACKFILL_FRACTION = 0.05;

/** Runs the partial rounds that fill what the round `plan` (reported as `report`) leaves idle before its end. */
export async function backfill(s: RunState, plan: RoundPlan, report: RoundReport): Promise<void> {
  if (s.cfg.executor.observe) await live(s, report);
  else await simulated(s, plan, report);
}

/** Live: each time the executor resolves early, plan the GPUs no open lease holds, until the round's end. */
async function live(s: RunState, report: RoundReport): Promise<void> {
  let until = report.backfillUntil;
  while (until !== undefined && !s.cfg.signal?.aborted) {
    await cancel(s);
    admit(s, await s.cfg.source.poll(s.now));
    await pause(s, 'cancel and admit (backfill)');
    await observe(s); // s.previous: what runs now
    const t = Math.max(s.now, s.cfg.clock.now());
    if (until - t < MIN_BACKFILL_FRACTION * s.roundDuration) return;
    const held = new Set<number>();
    const running = new Set<string>();
    for (const a of s.previous) {
      for (const g of a.gpus) held.add(g);
      for (const j of a.jobIds) running.add(j);
    }
    if (s.active.size > running.size && held.size < s.cluster.totalGpus && reallocationDue(s)) {
      await reallocate(s);
      await pause(s, 'the policy (backfill)');
    }
    const sub = partialPlan(s, t, until, held, (j) => running.has(j));
    const r = await runPartial(s, sub);
    until = r.backfillUntil;
  }
}

/** Simulated: step through the times GPUs free up (and jobs arrive) before the round's nominal end. */
async function simulated(s: RunState, plan: RoundPlan, report: RoundReport): Promise<void> {
  const end = plan.start + plan.duration;
  const minSlot = MIN_BACKFILL_FRACTION * s.roundDuration;
  /** GPU -> time its last job of this round stops; job -> the same. */
  const gpuFree = new Map<number, number>();
  const jobStop = new Map<string, number>();
  const note = (p: RoundPlan, r: RoundReport): void => {
    const stops = new Map<string, number>();
    for (const x of r.progress) stops.set(x.jobId, x.failed ? p.start : (x.finishTime ?? p.start + x.runTime));
    for (const a of p.assignments) {
      let stop = p.start;
      for (const j of a.jobIds) stop = Math.max(stop, stops.get(j) ?? p.start);
      for (const j of a.jobIds) jobStop.set(j, stop);
      for (const g of a.gpus) gpuFree.set(g, stop);
    }
  };
  note(plan, report);
  let t = plan.start;
  // The last plan was cut by the change budget while GPUs stay free: plan again at once, at the same time.
  let again = plan.budgetLimited === true;
  while (!s.cfg.signal?.aborted) {
    // The next moment something may change: a GPU frees up or a job arrives.
    let next = Infinity;
    const arrival = s.cfg.source.nextArrival();
    if (again) next = t;
    else {
      for (const v of gpuFree.values()) if (v > t && v < next) next = v;
      if (arrival !== undefined && arrival > t && arrival < next) next = arrival;
      for (const a of s.active.values()) if (a.job.arrivalTime > t && a.job.arrivalTime < next) next = a.job.arrivalTime;
    }
    again = false;
    if (!(next < end - minSlot)) break;
    t = next;
    if (arrival !== undefined && arrival <= t) admit(s, await s.cfg.source.poll(t));
    const held = new Set<number>();
    for (const [g, v] of gpuFree) if (v > t) held.add(g);
    if (held.size >= s.cluster.totalGpus) continue;
    const busy = (j: string): boolean => (jobStop.get(j) ?? -Infinity) > t || s.active.get(j)!.job.arrivalTime > t;
    let waiting = false;
    for (const id of s.active.keys()) if (!busy(id)) waiting = true;
    if (!waiting) continue;
    if (reallocationDue(s)) await reallocate(s);
    const sub = partialPlan(s, t, end, held, busy);
    if (sub.assignments.length === 0) continue;
    note(sub, await runPartial(s, sub));
    again = sub.budgetLimited === true;
  }
}

/** The mechanism's plan over the GPUs not in `held`, for the jobs `busy` does not exclude, from `t` until `until`. */
function partialPlan(s: RunState, t: number, until: number, held: ReadonlySet<number>, busy: (jobId: string) => boolean): RoundPlan {
  const { rows: all } = candidates(s);
  const rows: MechanismRow[] = all.filter((r) => r.jobIds.every((j) => !busy(j)));
  const free = freeCluster(s.cluster, held);
  const maxChanges = changeBudgetNow(s.cfg);
  const t0 = s.stopwatch();
  const out =
    rows.length === 0 || free.cluster.totalGpus === 0
      ? undefined
      : planRound({
          round: s.round,
          now: t,
          roundDuration: until - t,
          cluster: free.cluster,
          rows,
          allocation: s.allocation,
          ledger: s.ledger,
          previous: [],
          typeOrder: typeOrder(s),
          skipZeroPriority: s.skipZeroPriority,
          ...(maxChanges !== undefined ? { maxChanges } : {}),
        });
  s.mechanismSeconds += s.stopwatch() - t0;
  // The free GPUs are cut into runs of neighbours; a gang is consolidated when its GPUs share a real server.
  const assignments = (out?.plan.assignments ?? []).map((a) => ({ ...a, consolidated: new Set(a.gpus.map((g) => free.serverOf.get(g))).size === 1 }));
  return { round: s.round, start: t, duration: until - t, assignments, backfill: true, ...(out?.plan.budgetLimited ? { budgetLimited: true } : {}) };
}

/** `cluster` without the GPUs in `held`: each server's free GPUs as runs of consecutive ids. */
function freeCluster(cluster: ClusterSpec, held: ReadonlySet<number>): { cluster: ClusterSpec; serverOf: Map<number, number> } {
  const servers: Server[] = [];
  const serverOf = new Map<number, number>();
  const gpus: Record<string, number> = Object.fromEntries(cluster.gpuTypes.map((ty) => [ty, 0]));
  const perServer: Record<string, number> = Object.fromEntries(cluster.gpuTypes.map((ty) => [ty, 1]));
  for (const srv of cluster.servers) {
    let run = -1;
    for (let i = 0; i <= srv.gpus; i++) {
      const g = srv.firstGpu + i;
      const isFree = i < srv.gpus && !held.has(g);
      if (isFree) serverOf.set(g, srv.id);
      if (isFree && run < 0) run = g;
      if (!isFree && run >= 0) {
        servers.push({ id: servers.length, gpuType: srv.gpuType, gpus: g - run, firstGpu: run });
        gpus[srv.gpuType]! += g - run;
        perServer[srv.gpuType] = Math.max(perServer[srv.gpuType]!, g - run);
        run = -1;
      }
    }
  }
  const totalGpus = Object.values(gpus).reduce((a, b) => a + b, 0);
  return { cluster: { gpuTypes: cluster.gpuTypes, gpus, gpusPerServer: perServer, servers, totalGpus }, serverOf };
}

/** Executes a partial round and books it as the loop books a round (credit, retire, record, admit, save). */
async function runPartial(s: RunState, sub: RoundPlan): Promise<RoundReport> {
  const { report, runningJobs } = await execute(s, sub);
  const credited = credit(s, sub, report);
  await retire(s, credited.leaving);
  const previous = s.previous;
  // With a budget the timeline says what each plan changed; a partial plan's placements are all starts.
  const changes = s.cfg.maxChanges === undefined ? undefined : sub.assignments.reduce((n, a) => n + a.jobIds.length, 0);
  closeRound(s, sub, credited, runningJobs, changes);
  // closeRound leaves this partial round's placement as "what ran"; what the full round placed runs on too.
  const keys = new Set(s.previous.map((a) => rowKeyOf(a.jobIds)));
  s.previous = [...previous.filter((a) => !keys.has(rowKeyOf(a.jobIds)) && a.jobIds.every((j) => s.active.has(j))), ...s.previous];
  await pause(s, 'booking the backfill');
  admit(s, await s.cfg.source.poll(s.now));
  await save(s);
  await pause(s, 'saving the state (backfill)');
  return report;
}
