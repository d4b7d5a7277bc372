/**
 * The rounds table stays bounded by size: whole plans and allocations for the last `keepPlans` rounds only (one
 * plan is ~740 KB at 10,000 jobs), a summary row for older rounds, and every reader answers for a pruned round.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { keepPlansFlag } from '../../src/cli/commands/serve.js';
import { PRUNE_BATCH } from '../../src/runtime/server/store/rounds.js';
import { checkKeepPlans, DEFAULT_KEEP_PLANS, MIGRATIONS, ROUND_SUMMARIES_KEPT, SCHEMA_VERSION, Store } from '../../src/runtime/server/store/index.js';
import { tempDir } from './harness.js';

/** A round that placed `job-1` (and `job-2` on even rounds), with an allocation naming both. */
function save(s: Store, round: number): void {
  const assignments = [{ jobId: 'job-1', workerId: 'w-1', gpuType: 'v100', devices: [0], attempt: 1, leaseExtended: round > 1 }];
  if (round % 2 === 0) assignments.push({ jobId: 'job-2', workerId: 'w-1', gpuType: 'v100', devices: [1], attempt: 2, leaseExtended: false });
  s.saveRound({ round, start: round * 1000, duration: 1000, plannedAt: round * 1000 - 10, policy: 'fifo', solverMs: 1, allocation: { 'job-1': { v100: 1 }, 'job-2': { v100: 1 } }, plan: { assignments } });
}

interface RawRound { round: number; plan: string; allocation: string; assignments: number | null; plan_pruned: number }

function rawRounds(path: string): RawRound[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT round, plan, allocation, assignments, plan_pruned FROM rounds ORDER BY round').all() as RawRound[];
  } finally {
    db.close();
  }
}

describe('rounds table retention', () => {
  it('keeps whole plans for the last keepPlans rounds and a summary row for older ones; readers answer for both', () => {
    const path = join(tempDir('rounds'), 'r.db');
    const s = new Store(path, { keepPlans: 3 });
    try {
      for (let r = 1; r <= 10; r++) save(s, r);
      const rows = rawRounds(path);
      expect(rows.map((r) => r.round)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      for (const r of rows) {
        const kept = r.round > 7;
        expect(r.plan_pruned, `round ${r.round}`).toBe(kept ? 0 : 1);
        expect(r.plan === 'null', `round ${r.round}`).toBe(!kept);
        expect(r.allocation === 'null', `round ${r.round}`).toBe(!kept);
        expect(r.assignments, `round ${r.round}`).toBe(r.round % 2 === 0 ? 2 : 1); // the summary keeps the count
      }
      // The live readers see the last round whole.
      expect(s.lastRound()).toMatchObject({ round: 10, allocation: { 'job-1': { v100: 1 } } });
      expect(JSON.parse(s.lastRoundText()!.planJson)).toMatchObject({ assignments: [{ jobId: 'job-1' }, { jobId: 'job-2' }] });
      expect(s.lastRoundInfo()).toEqual({ round: 10, start: 10_000, duration: 1000, assignments: 2 });
      // A job's timeline lists the kept rounds that placed it and says how many before them were pruned.
      expect(s.roundsOfJob('job-1', 0).map((r) => r.round)).toEqual([8, 9, 10]);
      expect(s.roundsOfJob('job-2', 0).map((r) => r.round)).toEqual([8, 10]);
      expect(s.prunedRoundsSince(0)).toEqual({ count: 7, last: 7 });
      expect(s.prunedRoundsSince(5000)).toEqual({ count: 3, last: 7 });
      expect(s.prunedRoundsSince(8000)).toBeNull();
      // A round planned again (a backfill plan within the round) is saved whole again.
      save(s, 10);
      expect(rawRounds(path).filter((r) => r.plan_pruned === 0).map((r) => r.round)).toEqual([8, 9, 10]);
    } finally {
      s.close();
    }
  });

  it('drains a backlog (a lower keepPlans, a store from before pruning) a bounded batch per round commit', () => {
    const path = join(tempDir('rounds-backlog'), 'r.db');
    const before = new Store(path);
    for (let r = 1; r <= 3 * PRUNE_BATCH; r++) save(before, r);
    before.close();
    expect(rawRounds(path).every((r) => r.plan_pruned === 0)).toBe(true); // under the default 100
    const s = new Store(path, { keepPlans: 1 });
    try {
      const kept = (): number => rawRounds(path).filter((r) => r.plan_pruned === 0).length;
      save(s, 3 * PRUNE_BATCH + 1);
      expect(kept()).toBe(3 * PRUNE_BATCH + 1 - PRUNE_BATCH);
      save(s, 3 * PRUNE_BATCH + 2);
      save(s, 3 * PRUNE_BATCH + 3);
      save(s, 3 * PRUNE_BATCH + 4);
      expect(kept()).toBe(1);
      expect(s.lastRound()!.round).toBe(3 * PRUNE_BATCH + 4);
    } finally {
      s.close();
    }
  });

  it('upgrades a version-7 store in place: its rounds are pruned later and keep their assignment count', () => {
    const path = join(tempDir('rounds-mig'), 'r.db');
    const raw = new Database(path);
    for (const m of MIGRATIONS.slice(0, 7)) raw.exec(m);
    raw.pragma('user_version = 7');
    const ins = raw.prepare('INSERT INTO rounds(round, start, duration, planned_at, policy, solver_ms, allocation, plan) VALUES (?, ?, 1000, 0, ?, 1, ?, ?)');
    for (let r = 1; r <= 5; r++) ins.run(r, r * 1000, 'fifo', '{"job-1":{"v100":1}}', JSON.stringify({ assignments: [{ jobId: 'job-1', gpuType: 'v100', workerId: 'w-1' }] }));
    raw.close();
    const s = new Store(path, { keepPlans: 2 });
    try {
      expect(s.schemaVersion()).toBe(SCHEMA_VERSION);
      expect(s.lastRoundInfo()).toEqual({ round: 5, start: 5000, duration: 1000, assignments: 1 });
      expect(s.roundsOfJob('job-1', 0).map((r) => r.round)).toEqual([1, 2, 3, 4, 5]);
      save(s, 6);
      expect(rawRounds(path).map((r) => [r.round, r.plan_pruned, r.assignments])).toEqual([[1, 1, 1], [2, 1, 1], [3, 1, 1], [4, 1, 1], [5, 0, null], [6, 0, 2]]);
      expect(s.roundsOfJob('job-1', 0).map((r) => r.round)).toEqual([5, 6]);
    } finally {
      s.close();
    }
  });

  it(`deletes summary rows older than ${ROUND_SUMMARIES_KEPT} rounds`, () => {
    const path = join(tempDir('rounds-summaries'), 'r.db');
    const s = new Store(path, { keepPlans: 1 });
    try {
      save(s, 1);
      save(s, 2);
      save(s, ROUND_SUMMARIES_KEPT + 1);
      expect(rawRounds(path).map((r) => r.round)).toEqual([2, ROUND_SUMMARIES_KEPT + 1]);
    } finally {
      s.close();
    }
  });

  it('--keep-plans takes a whole number from 1 to the summaries kept, and says so otherwise', () => {
    expect(keepPlansFlag('100')).toBe(100);
    expect(keepPlansFlag(' 1 ')).toBe(1);
    expect(keepPlansFlag(String(ROUND_SUMMARIES_KEPT))).toBe(ROUND_SUMMARIES_KEPT);
    for (const bad of ['0', '-1', '1.5', 'abc', '', '1e3', String(ROUND_SUMMARIES_KEPT + 1)]) {
      expect(() => keepPlansFlag(bad), bad).toThrow(new RegExp(`bad --keep-plans.*1 to ${ROUND_SUMMARIES_KEPT}.*default ${DEFAULT_KEEP_PLANS}.*${JSON.stringify(bad).replace(/[.+-]/g, '\\$&')}`, 's'));
    }
    expect(() => new Store(join(tempDir('rounds-bad'), 'r.db'), { keepPlans: 0 })).toThrow(/bad --keep-plans/);
    expect(checkKeepPlans(DEFAULT_KEEP_PLANS)).toBe(100);
  });
});
