/**
 * Phase: maybe reallocate. A stale allocation (jobs or the cluster changed) is recomputed once the minimum interval
 * since the last one has passed (Gavel: 1920 s): a new accounting period starts and the policy sees a snapshot of
 * the active jobs. The policy's opaque state is kept here between calls and never looked into.
 */
import { policyJob } from '../model/index.js';
import { addRows, resetLedger } from '../mechanism/index.js';
import type { PolicyJob, PolicySnapshot } from '../policies/types.js';
import { pairRowsOf } from './pairs.js';
import { pause, type RunState } from './state.js';

/** The allocation is stale and the interval since the last reset has passed (or there was none yet). */
export function reallocationDue(s: RunState): boolean {
  return s.stale && (s.now - s.ledger.lastReset >= s.minInterval || s.ledger.lastReset === 0);
}

export async function reallocate(s: RunState): Promise<void> {
  const { cfg } = s;
  s.ledger = resetLedger(s.ledger, s.allocation, s.now, s.roundDuration);
  // Both the reset and the snapshot walk every active job: a live server serves requests between them.
  await pause(s, 'the ledger reset');
  const snapshot: PolicySnapshot = {
    now: s.now,
    cluster: s.cluster,
    jobs: policyJobs(s),
    ...(cfg.throughputs ? { throughputs: cfg.throughputs } : {}),
    ...(s.pricesNow ? { prices: s.pricesNow } : cfg.prices ? { prices: cfg.prices } : {}),
    ...(cfg.tenantWeights ? { tenantWeights: cfg.tenantWeights } : {}),
    state: s.policyState,
  };
  const t0 = s.stopwatch();
  const res = cfg.live?.allocate ? await cfg.live.allocate(snapshot) : cfg.policy.allocate(snapshot);
  const dt = s.stopwatch() - t0;
  s.policyCalls++;
  s.policySeconds += dt;
  s.allocation = res.allocation;
  s.policyState = res.state;
  s.stale = false;
  s.pricesSolved = s.pricesNow;
  s.pairRows = pairRowsOf(s, s.allocation);
  s.rowsVersion++;
  // A pair enters the bookkeeping when an allocation first gives it a share, seeded like a new job (Gavel creates
  // pair entries at arrival and re-seeds them at every reset, which is the state they have here).
  s.ledger = addRows(s.ledger, s.pairRows.map((r) => r.row.key), s.roundDuration);
  cfg.observer?.onAllocation?.(s.now, s.allocation.shares.size, dt);
}

/** What the policy sees of the active jobs, in arrival order (one builder with the runtime: model/policy-job.ts). */
function policyJobs(s: RunState): PolicyJob[] {
  const { currentThroughputOf } = s.cfg;
  const jobs: PolicyJob[] = [];
  for (const a of s.active.values()) {
    const j = a.job;
    jobs.push(
      policyJob(j, {
        throughput: currentThroughputOf ? currentThroughputOf(j, a.rec.stepsDone, s.cluster) : a.throughput,
        totalSteps: a.rec.totalSteps,
        remainingSteps: Math.max(0, a.rec.totalSteps - a.rec.stepsDone),
        isolatedThroughput: a.throughput,
      }),
    );
  }
  return jobs;
}
