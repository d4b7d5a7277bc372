/**
 * Persistence across engine calls (`EngineConfig.persist`, a live server's store): the state is loaded before the
 * first round and saved after every round and before every wait, so a restarted server goes on where it stopped.
 * Jobs get their bookkeeping back as the source hands them in again (admit.ts); rows of jobs that left meanwhile drop.
 */
import { rowJobs } from '../model/index.js';
import { copyLedger, removeJobs, retypeLedger } from '../mechanism/index.js';
import { pairRowsOf } from './pairs.js';
import type { RunState } from './state.js';
import type { EngineState, SavedJob } from './types.js';

/** Takes the saved ledger, allocation, policy state and round, if any. */
export async function restore(s: RunState): Promise<void> {
  const saved = s.cfg.persist ? await s.cfg.persist.load() : undefined;
  if (!saved) return;
  s.round = saved.round;
  s.ledger = saved.ledger.gpuTypes.join('\n') === s.types.join('\n') ? saved.ledger : retypeLedger(saved.ledger, s.types, s.roundDuration);
  s.allocation = saved.allocation;
  s.policyState = saved.policyState;
  s.stale = saved.stale;
  s.restoring = new Map(saved.jobs.map((j) => [j.id, j]));
}

/** After the first admission: jobs that left while the engine was down leave the ledger now. */
export function finishRestore(s: RunState): void {
  if (!s.restoring) return;
  const gone = new Set<string>();
  for (const key of s.ledger.jobTime.keys()) for (const j of rowJobs(key)) if (!s.active.has(j)) gone.add(j);
  s.ledger = removeJobs(s.ledger, [...gone]);
  if (s.allocation) s.pairRows = pairRowsOf(s, s.allocation);
  s.rowsVersion++;
  s.restoring = undefined;
}

export async function save(s: RunState): Promise<void> {
  if (!s.cfg.persist) return;
  const jobs: SavedJob[] = [];
  for (const a of s.active.values()) {
    const r = a.rec;
    jobs.push({ id: r.id, stepsDone: r.stepsDone, totalSteps: r.totalSteps, roundsRun: r.roundsRun, preemptions: r.preemptions, failures: r.failures });
  }
  // The ledger is updated in place from round to round; the store may write the state later.
  const state: EngineState = { round: s.round, ledger: copyLedger(s.ledger), allocation: s.allocation, policyState: s.policyState, stale: s.stale, jobs };
  await s.cfg.persist.save(state);
}
