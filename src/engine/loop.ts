/**
 * The scheduling cycle shared by the simulator and the real server. `runEngine` holds one `RunState` (state.ts) and
 * runs these steps once per round, each a phase in its own file:
 *   1. cancel: drop jobs the source reports cancelled (retire.ts);
 *   2. stop: the signal, the driver's `StopRule` (the simulator's window and JCT cap) or `maxRounds` end the run;
 *   3. idle: with no active job, wait for the next arrival, or end when the source is drained (wait.ts);
 *   4. observe: take the cluster the executor has now, and what runs where on it (observe.ts);
 *   4b. prices: with a price feed, a price that moved past the threshold makes the allocation stale (prices.ts);
 *   5. reallocate: if the allocation is stale and the minimum interval has passed (Gavel: 1920 s), start a new
 *      accounting period and ask the policy for a new allocation (reallocate.ts);
 *   6. plan: the mechanism picks and places the round's rows; count preemptions (plan-round.ts);
 *   7. stall: if nothing could be placed, wait for the next arrival (wait.ts);
 *   8. execute: run the plan through the executor (execute.ts);
 *   9. credit: progress, received time and contention from the executor's report (credit.ts);
 *  10. retire: remove finished and dropped jobs (retire.ts); record the round (credit.ts);
 *  11. admit: take the jobs that arrived meanwhile (admit.ts), and save the state (persistence.ts);
 *  12. backfill (only with `EngineConfig.backfill`): partial rounds on GPUs the round left idle (backfill.ts).
 * A restart loads the saved state first (persistence.ts). The engine reads no clock but `Clock` (and the driver's
 * `stopwatch`, for timing statistics only) and has no "simulated" branch.
 */
import { admit } from './admit.js';
import { backfill } from './backfill.js';
import { settle } from './contention.js';
import type { EngineConfig } from './config.js';
import { closeRound, credit } from './credit.js';
import { execute } from './execute.js';
import { observe } from './observe.js';
import { finishRestore, restore, save } from './persistence.js';
import { plan } from './plan-round.js';
import { watchPrices } from './prices.js';
import { reallocate, reallocationDue } from './reallocate.js';
import { cancel, retire } from './retire.js';
import { createState, pause, type RunState } from './state.js';
import type { EngineResult, StopReason } from './types.js';
import { idle, stall } from './wait.js';

export { changeBudgetNow, DEFAULT_MIN_REALLOCATION_INTERVAL_S, DEFAULT_ROUND_DURATION_S, type EngineConfig } from './config.js';

/** Runs the scheduler until the source is drained (or a stop rule, `maxRounds` or the signal ends it). */
export async function runEngine(cfg: EngineConfig): Promise<EngineResult> {
  const s = createState(cfg);
  await restore(s);
  admit(s, await cfg.source.poll(s.now));
  finishRestore(s);
  while (true) {
    await cancel(s);
    const stop = stopReason(s);
    if (stop) {
      s.stopReason = stop;
      break;
    }
    if (s.active.size === 0) {
      if (await idle(s)) continue;
      break;
    }
    await observe(s);
    watchPrices(s);
    if (reallocationDue(s)) {
      await reallocate(s);
      await pause(s, 'the policy');
    }
    const out = await plan(s);
    if (out.plan.assignments.length === 0) {
      await stall(s);
      continue;
    }
    const { report, runningJobs } = await execute(s, out.plan);
    const credited = credit(s, out.plan, report);
    await retire(s, credited.leaving);
    closeRound(s, out.plan, credited, runningJobs, out.changes);
    await pause(s, 'booking the round');
    admit(s, await cfg.source.poll(s.now));
    await save(s);
    await pause(s, 'saving the state');
    if (cfg.backfill) await backfill(s, out.plan, report);
  }
  for (const a of s.active.values()) settle(s, a);
  return result(s);
}

/** Why the run should end before this round, if it should. */
function stopReason(s: RunState): StopReason | undefined {
  if (s.cfg.signal?.aborted) return 'aborted';
  const rule = s.cfg.stop?.reason(s.now);
  if (rule) return rule;
  if (s.cfg.maxRounds !== undefined && s.round >= s.cfg.maxRounds) return 'maxRounds';
  return undefined;
}

function result(s: RunState): EngineResult {
  return {
    cluster: s.cluster,
    policy: s.cfg.policy.meta.name,
    roundDuration: s.roundDuration,
    jobs: s.records,
    rounds: s.round,
    startTime: s.startTime,
    endTime: s.now,
    timeline: s.timeline,
    policyCalls: s.policyCalls,
    policySeconds: s.policySeconds,
    mechanismSeconds: s.mechanismSeconds,
    executorSeconds: s.executorSeconds,
    leaseExtensions: s.leaseExtensions,
    leaseOpportunities: s.leaseOpportunities,
    stopReason: s.stopReason,
  };
}
