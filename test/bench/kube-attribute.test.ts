/**
 * bench:kube's attribution of admissions and stops to the plan they carry out (bench/kube/attribute.ts): by the
 * store's plans, not by the time window a write arrived in.
 */
import { describe, expect, it } from 'vitest';
import { attribute, regularRounds, spanOf, type DecisionWrite, type PlanRow } from '../../bench/kube/attribute.js';

const ROUND = 20_000;
const T0 = 1_800_000_000_000;
/** Regular rounds 1, 2 and 4 (round 4 starts late: the backfill plan 3 began 1.5 s into round 2), backfill 3. */
const rows: PlanRow[] = [
  { round: 1, start: T0, assignments: [{ attempt: 10, leaseExtended: false }, { attempt: 11, leaseExtended: false }] },
  { round: 2, start: T0 + ROUND, assignments: [{ attempt: 10, leaseExtended: true }, { attempt: 20, leaseExtended: false }] },
  { round: 3, start: T0 + ROUND + 1500, assignments: [{ attempt: 30, leaseExtended: false }, { attempt: 31, leaseExtended: false }] },
  { round: 4, start: T0 + 2 * ROUND + 1500, assignments: [{ attempt: 20, leaseExtended: true }, { attempt: 30, leaseExtended: true }, { attempt: 40, leaseExtended: false }] },
];
const regular = regularRounds(rows, ROUND);

/** The old logic: each write to the regular round in whose [start, next start) it arrived, timed from that start. */
function byWindow(ws: readonly DecisionWrite[]): Map<number, number[]> {
  const reg = rows.filter((r) => regular.has(r.round));
  const out = new Map<number, number[]>();
  for (const w of ws) {
    const i = reg.findIndex((r, k) => w.at >= r.start && (k + 1 === reg.length || w.at < reg[k + 1]!.start));
    if (i >= 0) out.set(reg[i]!.round, [...(out.get(reg[i]!.round) ?? []), w.at - reg[i]!.start]);
  }
  return out;
}

describe('bench:kube attribution', () => {
  it('tells backfill plans (starting inside a round) from regular rounds, also after a late round', () => {
    expect([...regular]).toEqual([1, 2, 4]);
  });

  it('gives a stop that arrives 50 ms before the next round to that round, at -50 ms', () => {
    // Attempt 11 (round 1) is not extended in round 2: its stop is round 2's decision, sent at round 1's lease end.
    const stop: DecisionWrite = { at: T0 + ROUND - 50, job: 'job-b', suspend: true, attempt: 11 };
    const a = attribute(rows, regular, [stop]);
    expect(a.regular.get(2)!.stops).toEqual([{ write: stop, round: 2, ms: -50 }]);
    expect(a.regular.get(1)!.stops).toEqual([]);
    expect(spanOf(a.regular.get(2)!.stops)).toEqual({ lastMs: -50, firstMs: -50, early: 1 });
    // The time window made it round 1's last write, at 19,950 ms.
    expect(byWindow([stop]).get(1)).toEqual([ROUND - 50]);
  });

  it('gives an admission to the plan that created its attempt, early or late', () => {
    const early: DecisionWrite = { at: T0 + ROUND - 30, job: 'job-c', suspend: false, attempt: 20, round: 2 };
    const late: DecisionWrite = { at: T0 + ROUND + 25_000, job: 'job-c2', suspend: false, attempt: 20, round: 4 };
    const a = attribute(rows, regular, [early, late]);
    // The second names round 4 (its lease was extended before it was admitted), but round 2 decided it: 25 s late.
    expect(a.regular.get(2)!.admissions.map((x) => x.ms)).toEqual([-30, 25_000]);
    expect(a.regular.get(4)!.admissions).toEqual([]);
    expect(byWindow([early]).get(1)).toEqual([ROUND - 30]);
  });

  it('uses the round annotation when an admission names no attempt', () => {
    const w: DecisionWrite = { at: T0 + 2 * ROUND + 1500 + 700, job: 'job-d', suspend: false, round: 4 };
    const a = attribute(rows, regular, [w]);
    expect(a.regular.get(4)!.admissions).toEqual([{ write: w, round: 4, ms: 700 }]);
  });

  it("keeps a backfill plan's admissions apart, timed from the plan's start", () => {
    const ws: DecisionWrite[] = [
      { at: T0 + ROUND + 1500 + 200, job: 'job-e', suspend: false, attempt: 30, round: 3 },
      { at: T0 + ROUND + 1500 + 900, job: 'job-f', suspend: false, attempt: 31, round: 3 },
    ];
    const a = attribute(rows, regular, ws);
    expect(a.backfill.get(3)!.admissions.map((x) => x.ms)).toEqual([200, 900]);
    expect(a.regular.get(2)!.admissions).toEqual([]);
    // A backfill attempt not extended by the next regular round is stopped at its start; extended, it is not.
    const stop: DecisionWrite = { at: T0 + 2 * ROUND + 1500 + 10, job: 'job-f', suspend: true, attempt: 31 };
    expect(attribute(rows, regular, [stop]).regular.get(4)!.stops.map((x) => x.ms)).toEqual([10]);
    // The window counted the backfill's admissions as round 2's, from round 2's start.
    expect(byWindow(ws).get(2)).toEqual([1700, 2400]);
  });

  it('reports what no plan explains instead of dropping it', () => {
    const ws: DecisionWrite[] = [
      { at: T0 + 5, job: 'job-x', suspend: false, attempt: 99, round: 1 },
      { at: T0 + 6, job: 'job-y', suspend: true },
      { at: T0 + 7, job: 'job-z', suspend: false },
      // Attempt 40 is in the last row: no regular round after it decided to stop it.
      { at: T0 + 2 * ROUND + 1500 + 3000, job: 'job-w', suspend: true, attempt: 40 },
      // Attempt 10 was extended by round 2, yet stopped before round 2 began.
      { at: T0 + ROUND - 40, job: 'job-a', suspend: true, attempt: 10 },
    ];
    const a = attribute(rows, regular, ws);
    expect(a.unattributed.map((u) => [u.write.job, u.why])).toEqual([
      ['job-x', 'admission of an attempt no plan row created'],
      ['job-y', 'stop of a Job that carried no Rondo attempt'],
      ['job-z', 'admission naming no attempt or round'],
      ['job-w', 'stop with no later regular round (withdrawn, cancelled or pending too long)'],
      ['job-a', 'stop of a lease the next plan extended'],
    ]);
    for (const r of a.regular.values()) expect(r.admissions.length + r.stops.length).toBe(0);
    // The time window would have filed all five as decisions of rounds 1 and 4.
    expect([...byWindow(ws).values()].flat()).toHaveLength(5);
  });
});
