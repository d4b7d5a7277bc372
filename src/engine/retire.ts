/**
 * Phase: retire. Jobs leave the engine when they finish, are dropped after repeated failures, or are cancelled
 * through the source (a live `rondo cancel`, or a job that ended outside a round). Their contention is settled,
 * their ledger rows go, the executor may free what it holds, and the allocation becomes stale.
 */
import { removeJobs, removeRows } from '../mechanism/index.js';
import { settle } from './contention.js';
import type { Active, RunState } from './state.js';

/** Removes the jobs a round finished or dropped (`Credited.leaving`). */
export async function retire(s: RunState, leaving: readonly string[]): Promise<void> {
  if (leaving.length === 0) return;
  const { cfg } = s;
  for (const j of leaving) {
    const act = s.active.get(j)!;
    leave(s, act);
    if (act.rec.finishTime !== undefined) cfg.observer?.onJobFinished?.(j, act.rec.finishTime);
    else cfg.observer?.onJobRemoved?.(j, s.now, 'failed');
    await cfg.executor.release?.(j);
  }
  // Only a space-sharing policy puts pairs in the ledger; otherwise a job's row is all there is to remove.
  s.ledger = cfg.policy.meta.spaceSharing ? removeJobs(s.ledger, leaving) : removeRows(s.ledger, leaving);
  s.stale = true;
}

/** Removes the active jobs the source reports cancelled since the last round (`JobSource.takeCancelled`). */
export async function cancel(s: RunState): Promise<void> {
  const { cfg } = s;
  if (!cfg.source.takeCancelled) return;
  const ids = await cfg.source.takeCancelled();
  const gone: string[] = [];
  for (const id of ids) {
    const act = s.active.get(id);
    if (!act) continue;
    act.rec.cancelled = true;
    leave(s, act);
    gone.push(id);
    cfg.observer?.onJobRemoved?.(id, s.now, 'cancelled');
    await cfg.executor.release?.(id);
  }
  if (gone.length > 0) {
    // As in `retire`: without space sharing a job's own row is all there is (a scan of every row for pairs would
    // cost O(active jobs) at every live sync that reports an ended job).
    s.ledger = cfg.policy.meta.spaceSharing ? removeJobs(s.ledger, gone) : removeRows(s.ledger, gone);
    s.previous = s.previous.filter((a) => !a.jobIds.some((j) => gone.includes(j)));
    s.stale = true;
  }
}

function leave(s: RunState, act: Active): void {
  settle(s, act);
  s.active.delete(act.rec.id);
  s.rowsVersion++;
  s.finishedCount++;
  s.cfg.stop?.left(act.rec);
}
