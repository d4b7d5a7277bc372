import { describe, expect, it } from 'vitest';
import { makeCluster, type Allocation, type RoundPlan } from '../../src/model/index.js';
import { addRows, creditRuns, emptyLedger, planRound, resetLedger, type MechanismRow } from '../../src/mechanism/index.js';
import { explainRound } from '../../src/mechanism/explain.js';
import { EAGER_WHY, WhyBook } from '../../src/runtime/server/why.js';

/**
 * The server's book of reasons (src/runtime/server/why.ts) over a real plan: a queue far longer than the reasons a
 * round computes at once, so most reasons are computed only when asked, and must then say what the eager ones would.
 */
const types = ['v100', 'k80'];

function longQueue(n: number) {
  const rows: MechanismRow[] = Array.from({ length: n }, (_, i) => ({ key: `job-${i}`, jobIds: [`job-${i}`], scaleFactor: 1 + (i % 4 === 3 ? 1 : 0), throughput: [10, i % 5 === 0 ? 0 : 2] }));
  const allocation: Allocation = { gpuTypes: types, shares: new Map(rows.slice(0, n - 10).map((r, i) => [r.key, [0.002 + (i % 7) / 1000, i % 5 === 0 ? 0 : 0.001]])) };
  const cluster = makeCluster({ v100: 4, k80: 4 }, 4);
  let ledger = addRows(emptyLedger(types), rows.map((r) => r.key), 360);
  ledger = resetLedger(ledger, undefined, 100, 360);
  ledger = creditRuns(ledger, rows.slice(0, 50).map((r, i) => ({ row: r.key, typeIndex: i % 2, seconds: 10 + i })));
  const input = { round: 7, now: 0, roundDuration: 360, cluster, rows, allocation, ledger, previous: [] };
  return { input, plan: planRound(input).plan };
}

describe('WhyBook', () => {
  it(`a job deep in the queue (after the first ${EAGER_WHY}) gets the same reason as if every reason were computed at once`, () => {
    const n = EAGER_WHY * 3;
    const { input, plan } = longQueue(n);
    const all = explainRound(input, plan);
    const book = new WhyBook(() => null);
    book.record(plan, 41, 1000);
    // The ledger moves on after the round: a reason asked later still describes the round as planned.
    creditRuns(input.ledger, input.rows.map((r) => ({ row: r.key, typeIndex: 0, seconds: 1e6 })));
    const deep = [`job-${n - 1}`, `job-${n - 12}`, `job-${EAGER_WHY * 2 + 1}`, `job-${EAGER_WHY * 2 + 3}`];
    const kinds = new Set<string>();
    for (const id of deep) {
      const want = all.get(id)!;
      const got = book.of(id).waiting!;
      expect(got, id).toEqual({ kind: want.kind, text: want.text, round: 41, at: 1000 });
      kinds.add(got.kind);
    }
    expect([...kinds].sort()).toEqual(['no-allocation', 'outranked']);
    // Jobs the plan runs have no waiting reason; a job forgotten (finished, cancelled) gets none computed later.
    const running = plan.assignments[0]!.jobIds[0]!;
    expect(book.of(running).waiting).toBeNull();
    const gone = `job-${n - 2}`;
    book.forget(gone);
    expect(book.of(gone).waiting).toBeNull();
  });

  it('computes at once only the head of the queue and the jobs that lost GPUs; the next round replaces them', () => {
    const { plan } = longQueue(EAGER_WHY + 50);
    let calls = 0;
    const explainer = plan.explainer!();
    const counting: RoundPlan = Object.assign({ ...plan }, { explainer: () => ({ ...explainer, reason: (id: string) => (calls++, explainer.reason(id)) }) });
    const book = new WhyBook(() => null);
    book.record(counting, 1, 0);
    expect(calls).toBe(Math.min(EAGER_WHY, explainer.waiting.length));
    book.of(explainer.waiting[explainer.waiting.length - 1]!);
    expect(calls).toBe(EAGER_WHY + 1);
    expect(book.of(explainer.waiting[0]!).waiting!.round).toBe(1);
    book.record(counting, 2, 0);
    expect(book.of(explainer.waiting[explainer.waiting.length - 1]!).waiting!.round).toBe(2);
  });

  it('recorded in slices (a server turn between them), gives every job the reason a record at once gives', async () => {
    const { input, plan } = longQueue(EAGER_WHY * 2);
    const all = explainRound(input, plan);
    const whole = new WhyBook(() => null);
    whole.record(plan, 3, 5);
    const sliced = new WhyBook(() => null);
    let turns = 0;
    const asked = `job-${EAGER_WHY + 7}`;
    const early = plan.explainer!().waiting[60]!;
    const gone = plan.explainer!().waiting[120]!;
    await sliced.recordSliced(plan, 3, 5, async () => {
      // Between slices: requests may ask (computed on request) or a job may leave (not computed later).
      if (turns === 1) {
        expect(sliced.of(early).waiting).toEqual(whole.of(early).waiting);
        sliced.forget(gone);
      }
      turns++;
    }, 50);
    expect(turns).toBe(Math.ceil(Math.min(EAGER_WHY, plan.explainer!().waiting.length) / 50));
    for (const id of [asked, early, plan.explainer!().waiting[0]!, `job-${EAGER_WHY * 2 - 1}`]) {
      expect(sliced.of(id), id).toEqual(whole.of(id));
      expect(sliced.of(id).waiting?.text, id).toBe(all.get(id)?.text);
    }
    expect(sliced.of(gone).waiting).toBeNull();
  });
});
