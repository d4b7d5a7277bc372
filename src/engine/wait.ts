/**
 * Phase: wait. When no job is active, or none of them can be placed, the engine sleeps until the next known arrival
 * (a simulated clock jumps there) or for a round, then admits what arrived. Waiting with active jobs counts toward
 * their contention and shows in the timeline as a span where nothing ran.
 */
import { RondoError } from '../model/index.js';
import { resetLedger } from '../mechanism/index.js';
import { admit } from './admit.js';
import { addSpan } from './contention.js';
import { save } from './persistence.js';
import { typeOrder } from './plan-round.js';
import { reallocationDue } from './reallocate.js';
import type { RunState } from './state.js';

/** No active job: wait for the next arrival. Returns false when none will ever come (the source is drained). */
export async function idle(s: RunState): Promise<boolean> {
  const { source } = s.cfg;
  // Gavel still runs a scheduling pass (one shuffle) when the last job of a round has left.
  if (s.ranRound) typeOrder(s);
  s.ranRound = false;
  if (reallocationDue(s)) {
    // The cluster just drained: start a new (empty) accounting period now, as Gavel does, so the interval to the
    // next recompute counts from here. No policy call is needed for zero jobs.
    s.ledger = resetLedger(s.ledger, s.allocation, s.now, s.roundDuration);
    s.allocation = { gpuTypes: s.types, shares: new Map() };
    s.stale = false;
  }
  const next = source.nextArrival();
  if (next === undefined) {
    if (source.exhausted()) return false;
    await wait(s, s.now + s.roundDuration);
  } else {
    await wait(s, Math.max(s.now, next));
  }
  admit(s, await source.poll(s.now));
  return true;
}

/** Jobs wait but the plan placed none: wait for the next arrival or a round; fail if nothing can ever change. */
export async function stall(s: RunState): Promise<void> {
  const { source } = s.cfg;
  s.previous = [];
  s.ranRound = false;
  const next = source.nextArrival();
  if (next === undefined && source.exhausted()) {
    const stuck = s.roundList.slice(0, 5).map((a) => a.job.id).join(', ');
    throw new RondoError({
      code: 'E_INFEASIBLE',
      problem: `${s.active.size} job(s) can never be scheduled (e.g. ${stuck}): the policy gives them no GPU time`,
      hint: 'check the jobs fit a GPU type with a non-zero throughput',
    });
  }
  await save(s);
  await wait(s, next === undefined ? s.now + s.roundDuration : Math.max(s.now + 1e-9, next));
  admit(s, await source.poll(s.now));
}

/** Waiting span with active jobs and nothing running: counts toward every active job's contention. */
async function wait(s: RunState, until: number): Promise<void> {
  const n = s.active.size;
  const from = s.now;
  await s.cfg.clock.sleepUntil(until, s.cfg.signal);
  s.now = Math.max(s.cfg.clock.now(), s.now);
  if (n > 0 && s.now > from) {
    addSpan(s, n * (s.now - from));
    if (s.keepHistory) s.timeline.push({ round: -1, start: from, end: s.now, activeJobs: n, runningJobs: 0, finishedJobs: s.finishedCount, busyGpuSeconds: s.types.map(() => 0) });
  }
}
