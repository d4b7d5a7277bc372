import { beforeAll, describe, expect, it } from 'vitest';
import { colocatedThroughput, jobKey, type ThroughputTable } from '../../src/model/index.js';
import { alloxMatch } from '../../src/policies/allox.js';
import { makeProblem } from '../../src/policies/common.js';
import { createGandivaPolicy } from '../../src/policies/gandiva.js';
import { getPolicy, initSolver } from '../../src/policies/index.js';
import { momentumAverage } from '../../src/policies/shockwave.js';
import { createShortestJobPolicy } from '../../src/policies/srtf.js';
import { nashAuction, partialAllocation, rhoAt } from '../../src/policies/themis.js';
import { createTiresiasPolicy, gittinsIndex, queueOf } from '../../src/policies/tiresias.js';
import { mkSnap, share } from './helpers.js';

beforeAll(async () => {
  await initSolver();
});

describe('tiresias', () => {
  it('puts attained GPU-time into queues by threshold', () => {
    // Thresholds 100, 1000: [0,100) -> 0, [100,1000) -> 1, [1000, inf) -> 2.
    expect([0, 99, 100, 999, 1000, 5000].map((a) => queueOf([100, 1000], a))).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it('computes the Gittins index of an empirical distribution', () => {
    // Sizes {10, 20, 100}, attained 0, quantum 15: all 3 alive, only 10 finishes within 15;
    // expected service in the quantum = (10 + 15 + 15) / 3, so index = (1/3) / (40/3) = 1/40.
    expect(gittinsIndex([10, 20, 100], 0, 15)).toBeCloseTo(1 / 40, 12);
    // Attained 15, quantum 10: {20, 100} alive, 20 finishes (5 more), work (5 + 10) / 2: index = (1/2) / (15/2) = 1/15.
    expect(gittinsIndex([10, 20, 100], 15, 10)).toBeCloseTo(1 / 15, 12);
    expect(gittinsIndex([10, 20], 50, 10)).toBe(0);
  });

  it('serves the highest queue first, FIFO inside a queue, skipping gangs that do not fit', () => {
    // 2 GPUs, threshold 3600 GPU-s. a: 1 GPU at 1 step/s, done 4000 steps -> attained 4000 (queue 1), arrived first.
    // b, c: new (queue 0), b arrived before c; d: a new 4-GPU gang that fits nowhere.
    const s = mkSnap({ v100: 2 }, [
      { id: 'a', t: [1], total: 5000, rem: 1000, arrival: 0 },
      { id: 'b', t: [1], arrival: 5 },
      { id: 'd', t: [1], sf: 4, arrival: 6 },
      { id: 'c', t: [1], arrival: 7 },
    ]);
    const r = createTiresiasPolicy('tiresias', [], { mode: 'las', thresholds: [3600] }).allocate(s);
    expect(['a', 'b', 'c', 'd'].map((id) => share(r, id)[0])).toEqual([0, 1, 1, 0]);
  });

  it('orders a queue by Gittins index in the gittins mode', () => {
    // Sizes {100, 10000}; one queue (threshold far away). x attained 50 GPU-s: P(finish within the quantum) is high
    // (the 100 job is still alive); y attained 200: only the 10000 job remains, so its index is tiny. 1 GPU: x runs.
    const sizes = [100, 10000];
    const s = mkSnap({ v100: 1 }, [
      { id: 'y', t: [1], total: 1000, rem: 800, arrival: 0 },
      { id: 'x', t: [1], total: 1000, rem: 950, arrival: 1 },
    ]);
    const r = createTiresiasPolicy('t', [], { mode: 'gittins', thresholds: [1e6], sizes }).allocate(s);
    expect(share(r, 'x')[0]).toBe(1);
    expect(share(r, 'y')[0]).toBe(0);
  });
});

describe('sjf and srtf', () => {
  it('non-preemptive SJF keeps a running long job; SRTF hands its GPU to a shorter arrival', () => {
    const np = createShortestJobPolicy('sjf_np', [], { preemptive: false });
    const pre = createShortestJobPolicy('srtf', [], { preemptive: true });
    const s1 = mkSnap({ v100: 1 }, [{ id: 'long', t: [1], rem: 1000 }]);
    const r1 = np.allocate(s1);
    expect(share(r1, 'long')).toEqual([1]);
    // A 10-step job arrives; the long one has 900 steps left.
    const s2 = mkSnap({ v100: 1 }, [{ id: 'long', t: [1], total: 1000, rem: 900 }, { id: 'short', t: [1], rem: 10, arrival: 5 }], { state: r1.state });
    const r2 = np.allocate(s2);
    expect(share(r2, 'long')).toEqual([1]);
    expect(share(r2, 'short')).toEqual([0]);
    const r3 = pre.allocate({ ...s2, state: undefined });
    expect(share(r3, 'long')).toEqual([0]);
    expect(share(r3, 'short')).toEqual([1]);
    // Once the long job is gone the short one starts under non-preemptive SJF too.
    const r4 = np.allocate(mkSnap({ v100: 1 }, [{ id: 'short', t: [1], rem: 10 }], { state: r2.state }));
    expect(share(r4, 'short')).toEqual([1]);
  });
});

describe('allox', () => {
  it('matches jobs to (type, position) slots minimising total completion time', () => {
    // One GPU, times 3, 1, 2 (remaining 3/1/2 steps at 1 step/s). Slot cost = position-from-end x time: the best
    // order is 1, 2, 3 (completions 1 + 3 + 6 = 10 = 3x1 + 2x2 + 1x3); the shortest job is deepest and runs now.
    const s = mkSnap({ v100: 1 }, [{ id: 'c', t: [1], rem: 3 }, { id: 'a', t: [1], rem: 1 }, { id: 'b', t: [1], rem: 2 }]);
    const plan = alloxMatch(makeProblem(s));
    expect(plan.slot.map((x) => x?.[1])).toEqual([1, 3, 2]);
    const r = getPolicy('allox').allocate(s);
    expect(['a', 'b', 'c'].map((id) => share(r, id)[0])).toEqual([1, 0, 0]);
  });

  it('sends each job to the type where it is fast when that is cheaper overall', () => {
    // Two types, one GPU each: x takes 1 s on v100 and 10 on k80; y the reverse. Matching: x->v100, y->k80.
    const s = mkSnap({ v100: 1, k80: 1 }, [{ id: 'x', t: [10, 1], rem: 10 }, { id: 'y', t: [1, 10], rem: 10 }]);
    const r = getPolicy('allox').allocate(s);
    expect(share(r, 'x')).toEqual([1, 0]);
    expect(share(r, 'y')).toEqual([0, 1]);
  });
});

describe('gandiva', () => {
  const table = (packed: readonly [number, number]): ThroughputTable => {
    const a = jobKey('A', 1);
    const b = jobKey('B', 1);
    return {
      gpuTypes: ['v100'],
      consolidated: { v100: { [a]: { isolated: 10, colocated: { [b]: packed } }, [b]: { isolated: 10, colocated: { [a]: [packed[1], packed[0]] } } } },
      unconsolidated: {},
    };
  };

  it('time-slices an oversubscribed cluster equally', () => {
    // 2 GPUs, 4 one-GPU jobs: each gets 2/4 of the time.
    const s = mkSnap({ v100: 2 }, [{ t: [1] }, { t: [1] }, { t: [1] }, { t: [1] }]);
    const r = getPolicy('gandiva').allocate(s);
    for (const id of ['j0', 'j1', 'j2', 'j3']) expect(share(r, id)[0]).toBeCloseTo(0.5, 12);
  });

  it('keeps a packed pair only when its normalised throughputs sum above 1', () => {
    const jobs = [{ id: 'a', t: [10], jobType: 'A' }, { id: 'b', t: [10], jobType: 'B' }];
    const p = createGandivaPolicy('g', [], { packing: true });
    // Packed 7 + 6 steps/s vs 10 alone each: 0.7 + 0.6 = 1.3 > 1 -> packed; the pair row gets the whole GPU.
    const good = p.allocate(mkSnap({ v100: 1 }, jobs, { throughputs: table([7, 6]) }));
    expect(colocatedThroughput(table([7, 6]), 'v100', jobKey('A', 1), jobKey('B', 1))).toEqual([7, 6]);
    expect(share(good, 'a+b')).toEqual([1]);
    // 4 + 5 -> 0.9 <= 1: rejected, time-sliced at 1/2 each, and remembered as a bad pair.
    const bad = p.allocate(mkSnap({ v100: 1 }, jobs, { throughputs: table([4, 5]) }));
    expect(share(bad, 'a')[0]).toBeCloseTo(0.5, 12);
    expect((bad.state as { rejected: string[] }).rejected).toEqual(['a+b']);
  });
});

describe('themis', () => {
  it('rho(x) = (elapsed + R / x) / ideal', () => {
    expect(rhoAt({ elapsed: 10, remaining: 20, ideal: 60 }, 0.5)).toBeCloseTo((10 + 40) / 60, 12);
    expect(rhoAt({ elapsed: 10, remaining: 20, ideal: 60 }, 0)).toBe(Infinity);
  });

  it('splits a GPU evenly between two identical bidders and charges each half (partial allocation)', () => {
    // v(x) = 1/rho = x when elapsed 0, R 1, ideal 1. Nash optimum: 1/2 each. Without bidder i the other takes 1,
    // so i keeps v_other(1/2) / v_other(1) = 1/2 of its share: 1/4.
    const m = { elapsed: 0, remaining: 1, ideal: 1 };
    const x = nashAuction([m, m], [1, 1], 1);
    expect(x[0]).toBeCloseTo(0.5, 6);
    expect(x[1]).toBeCloseTo(0.5, 6);
    const pa = partialAllocation([m, m], [1, 1], 1);
    expect(pa[0]).toBeCloseTo(0.25, 6);
    expect(pa[1]).toBeCloseTo(0.25, 6);
  });

  it('only the worst-rho jobs bid; the others keep their leases; leftovers are handed out', () => {
    // 2 GPUs, 2 jobs, knob 0.5: one bidder. The first call has no leases: both have rho = inf, the first by index
    // bids and wins (PA charge: without it the other bidder set is empty, so it keeps everything it wins: 1 GPU),
    // and the leftover GPU goes to the other job. Total use = 2 GPUs.
    const p = getPolicy('themis_auction');
    const s = mkSnap({ v100: 2 }, [{ id: 'a', t: [1] }, { id: 'b', t: [1] }]);
    const r = p.allocate(s);
    expect(share(r, 'a')[0]! + share(r, 'b')[0]!).toBeCloseTo(2, 6);
  });
});

describe('shockwave', () => {
  it('smooths fair finish estimates by time-weighted average with momentum 0.9', () => {
    // 10 held over [0, 10), 20 over [10, 20): average 15; 0.9 x 15 + 0.1 x 20 = 15.5.
    expect(momentumAverage([[0, 10], [10, 20]], 20)).toBeCloseTo(15.5, 12);
    expect(momentumAverage([[5, 7]], 5)).toBeCloseTo(7, 12);
  });

  it('plans a short job to finish in the window and gives the rest to the long job (makespan term)', () => {
    // 1 GPU, 2 jobs arrived at 0, 120 s rounds, window 20. Fair share 1/2. Short: 240 s left; it can finish by
    // now + 240 <= its fair finish 480: it must get its 2 rounds. Long: 12000 s left; fair finish 24000; after the
    // window (2400 s) at share 1/2 it may have 10800 s left, so it needs >= 1200 s = 10 rounds. 12 <= 20 rounds fit;
    // the remaining 8 go to the long job (they lower the largest remaining time): y = (2, 18). Shares: planned
    // rounds over usable rounds: short 2/2 = 1, long 18/20 = 0.9; scaled to the one GPU: 1/1.9 and 0.9/1.9.
    const s = mkSnap({ v100: 1 }, [{ id: 'short', t: [1], rem: 240 }, { id: 'long', t: [1], rem: 12000 }]);
    const r = getPolicy('shockwave').allocate(s);
    expect(share(r, 'short')[0]).toBeCloseTo(1 / 1.9, 6);
    expect(share(r, 'long')[0]).toBeCloseTo(0.9 / 1.9, 6);
    expect((r.state as { relaxed: number }).relaxed).toBe(0);
    // The per-round binary MILP has the same optimum here (2 and 18 whole rounds).
    const m = getPolicy('shockwave_milp').allocate(s);
    expect(share(m, 'short')[0]).toBeCloseTo(1 / 1.9, 6);
    expect(share(m, 'long')[0]).toBeCloseTo(0.9 / 1.9, 6);
  });

  it('MILP: a job with a partial last round may use that whole round', () => {
    // 1 GPU, one job with 150 s left: 2 rounds (the second partial) are usable; it gets them: share 1.
    const s = mkSnap({ v100: 1 }, [{ t: [1], rem: 150 }]);
    expect(share(getPolicy('shockwave_milp').allocate(s), 'j0')[0]).toBeCloseTo(1, 9);
  });

  it('gives every job its whole remaining work when the cluster has room', () => {
    const s = mkSnap({ v100: 4 }, [{ t: [1], rem: 100 }, { t: [1], rem: 5000 }, { t: [2], sf: 2, rem: 9000 }]);
    const r = getPolicy('shockwave').allocate(s);
    expect(['j0', 'j1', 'j2'].map((id) => share(r, id)[0])).toEqual([1, 1, 1].map((v) => expect.closeTo(v, 6)));
  });
});
