/**
 * Phase: plan. The mechanism (src/mechanism) turns the allocation, the ledger and last round's placement into a
 * round plan over the candidate rows. If nothing can run only because the allocation predates the waiting jobs, the
 * allocation is recomputed at once when no arrival is left to wait for (or when asked to: `recomputeWhenIdle`).
 * Jobs that ran last round, are unfinished and do not keep their GPUs count as preempted.
 */
import type { GpuType } from '../model/index.js';
import { planRound, type MechanismOutput, type MechanismRow } from '../mechanism/index.js';
import { candidates } from './pairs.js';
import { reallocate } from './reallocate.js';
import { pause, type RunState } from './state.js';
import { changeBudgetNow } from './config.js';

export async function plan(s: RunState): Promise<MechanismOutput> {
  const { cfg } = s;
  const { rows } = candidates(s);
  const order = typeOrder(s);
  const t0 = s.stopwatch();
  let out = mechanism(s, rows, order);
  const noMoreArrivals = cfg.source.exhausted() && cfg.source.nextArrival() === undefined;
  if (out.plan.assignments.length === 0 && s.stale && (cfg.recomputeWhenIdle === true || noMoreArrivals)) {
    // Nothing can run only because the allocation predates some jobs. With no arrival left to wait for, Gavel
    // forces a recompute (its trace mode resets the accounting period); otherwise Gavel waits for the next
    // arrival, and so do we unless asked to recompute at once (see docs/fidelity.md).
    await reallocate(s);
    await pause(s, 'the policy (recompute)');
    // Gavel gets here one loop iteration later, with a fresh shuffle (and this round's candidate rows).
    out = mechanism(s, rows, typeOrder(s));
  }
  s.mechanismSeconds += s.stopwatch() - t0;

  const kept = new Set<string>();
  for (const a of out.plan.assignments) if (a.leaseExtended) for (const j of a.jobIds) kept.add(j);
  for (const a of s.previous) {
    for (const j of a.jobIds) {
      const act = s.active.get(j);
      if (act && !kept.has(j)) act.rec.preemptions++;
    }
  }
  s.leaseExtensions += out.leaseExtensions;
  s.leaseOpportunities += out.leaseOpportunities;
  return out;
}

function mechanism(s: RunState, rows: MechanismRow[], typeOrder: readonly GpuType[]): MechanismOutput {
  const maxChanges = changeBudgetNow(s.cfg);
  return planRound({
    round: s.round,
    now: s.now,
    roundDuration: s.roundDuration,
    cluster: s.cluster,
    rows,
    allocation: s.allocation,
    ledger: s.ledger,
    previous: s.previous,
    typeOrder,
    skipZeroPriority: s.skipZeroPriority,
    ...(maxChanges !== undefined ? { maxChanges } : {}),
    ...(s.index ? { index: s.index } : {}),
  });
}

/**
 * The order in which the mechanism walks the GPU types this pass: a fresh shuffle for heterogeneity-agnostic
 * policies (one draw per scheduling pass, as Gavel), else the cluster's order.
 */
export function typeOrder(s: RunState): readonly GpuType[] {
  return s.shuffleTypes ? s.rng.shuffle([...s.types]) : s.types;
}
