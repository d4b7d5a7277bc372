import { beforeAll, describe, expect, it } from 'vitest';
import { validateAllocation } from '../../src/model/index.js';
import { createFifoPolicy } from '../../src/policies/fifo.js';
import { getPolicy, initSolver } from '../../src/policies/index.js';
import { sharesOf, snap } from './helpers.js';

beforeAll(async () => {
  await initSolver();
});

describe('fifo_perf', () => {
  it('gives jobs in arrival order whole GPUs of their fastest free type and stops at the first that does not fit', () => {
    // Types in cluster order [v100, k80], 1 GPU each. j0 runs fastest on v100 -> v100; j1 prefers v100 but only
    // the k80 is free -> k80; j2 finds nothing; j3 (would fit nowhere either) stays queued.
    const s = snap({ v100: 1, k80: 1 }, [{ t: [2, 1] }, { t: [3, 1] }, { t: [1, 1] }, { t: [1, 1] }]);
    const r = getPolicy('fifo_perf').allocate(s);
    expect(sharesOf(r, 'j0000')).toEqual([1, 0]);
    expect(sharesOf(r, 'j0001')).toEqual([0, 1]);
    expect(sharesOf(r, 'j0002')).toEqual([0, 0]);
    // A 2-GPU job at the head blocks smaller jobs behind it when it does not fit.
    const s2 = snap({ v100: 2 }, [{ t: [1] }, { t: [1], sf: 2 }, { t: [1] }]);
    const r2 = getPolicy('fifo_perf').allocate(s2);
    expect(sharesOf(r2, 'j0000')).toEqual([1]);
    expect(sharesOf(r2, 'j0001')).toEqual([0]);
    expect(sharesOf(r2, 'j0002')).toEqual([0]);
    validateAllocation(r2.allocation, s2.cluster, (id) => (id === 'j0001' ? 2 : 1));
  });
});

describe('fifo (base mode)', () => {
  it("keeps jobs where they are between calls and hands a finished job's type to the next in line", () => {
    const p = createFifoPolicy('fifo', [], { mode: 'base', gavelQuirk: false, seed: 1 });
    const s = snap({ v100: 1, k80: 1 }, [{ t: [2, 1] }, { t: [3, 1] }, { t: [1, 1] }]);
    const r1 = p.allocate(s);
    const placed = ['j0000', 'j0001'].map((id) => sharesOf(r1, id));
    expect(placed.map((x) => x[0]! + x[1]!)).toEqual([1, 1]);
    expect(placed[0]![0]! + placed[1]![0]!).toBe(1);
    expect(sharesOf(r1, 'j0002')).toEqual([0, 0]);
    // j0000 completes: j0002 takes its type; j0001 keeps its own.
    const s2 = { ...snap({ v100: 1, k80: 1 }, [{ t: [3, 1], id: 'j0001' }, { t: [1, 1], id: 'j0002' }]), state: r1.state };
    const r2 = p.allocate(s2);
    expect(sharesOf(r2, 'j0001')).toEqual(placed[1]);
    expect(sharesOf(r2, 'j0002')).toEqual(placed[0]);
  });

  it("reproduces Gavel's stale-type quirk: new jobs all land on the last (sorted) type", () => {
    const s = snap({ v100: 2, p100: 2, k80: 2 }, [{ t: [3, 2, 1] }, { t: [3, 2, 1] }, { t: [3, 2, 1] }, { t: [3, 2, 1] }]);
    const r = getPolicy('fifo').allocate(s);
    // Four jobs on 2 v100s: the allocation is scaled to capacity (each 0.5 on v100), nothing elsewhere.
    for (const id of ['j0000', 'j0001', 'j0002', 'j0003']) expect(sharesOf(r, id)).toEqual([0.5, 0, 0]);
    validateAllocation(r.allocation, s.cluster, () => 1);
  });
});
