import { describe, expect, it } from 'vitest';
import { jobKey, makeCluster, type Job, type ThroughputTable } from '../../src/model/index.js';
import { DynamicBatchModel, jobPhases, scheduledBatchSize } from '../../src/sim/dynamic.js';

const LM_SPE10 = Math.ceil(59675 / 10); // 5968 steps per epoch at batch size 10
const LM_SPE20 = Math.ceil(59675 / 20); // 2984

function lmJob(mode: Job['mode'], epochs: number): Job {
  return { id: 'lm', jobType: 'LM (batch size 10)', scaleFactor: 1, arrivalTime: 0, totalSteps: LM_SPE10 * epochs, priorityWeight: 1, mode };
}

const table: ThroughputTable = {
  gpuTypes: ['v100'],
  consolidated: {
    v100: {
      [jobKey('LM (batch size 10)', 1)]: { isolated: 10, colocated: {} },
      [jobKey('LM (batch size 20)', 1)]: { isolated: 8, colocated: {} },
    },
  },
  unconsolidated: {},
};

describe('batch-size phases', () => {
  it('gns doubles the batch size after epoch 11 and every 20 epochs, up to the model maximum', () => {
    expect([0, 10, 11, 30, 31, 51, 200].map((e) => scheduledBatchSize('gns', 'LM', 10, 300, e))).toEqual([10, 10, 20, 20, 40, 80, 80]);
    // ResNet-50 starts doubling at 101.
    expect(scheduledBatchSize('gns', 'ResNet-50', 32, 300, 100)).toBe(32);
    expect(scheduledBatchSize('gns', 'ResNet-50', 32, 300, 101)).toBe(64);
  });

  it('accordion uses the largest batch size outside critical regimes and after the first 30% of epochs', () => {
    // ResNet-18 at 32, 100 epochs: critical below 10; the first 30 epochs are forced critical too.
    expect([0, 9, 10, 30, 31, 99].map((e) => scheduledBatchSize('accordion', 'ResNet-18', 32, 100, e))).toEqual([32, 32, 32, 32, 256, 256]);
    // ResNet-50: critical when epoch mod 30 < 10.
    expect([40, 61, 75].map((e) => scheduledBatchSize('accordion', 'ResNet-50', 16, 100, e))).toEqual([128, 16, 128]);
    expect(scheduledBatchSize('accordion', 'Transformer', 16, 100, 90)).toBe(16);
  });

  it('turns the schedule into phases, stepping down to measured batch sizes', () => {
    const measured = (t: string): boolean => t === 'LM (batch size 20)';
    const p = jobPhases(lmJob('gns', 40), LM_SPE10 * 40, measured)!;
    // Epoch 31 asks for 40, which is not measured: halved to 20 (no new phase).
    expect(p.phases.map((x) => [x.startEpoch, x.batchSize])).toEqual([[0, 10], [11, 20]]);
    expect(p.totalEpochs).toBe(40);
    expect(jobPhases(lmJob('static', 40), LM_SPE10 * 40, measured)).toBeUndefined();
  });

  it('runs a job across a phase change at each phase rate (in initial-batch-size steps)', () => {
    const m = new DynamicBatchModel(table, makeCluster({ v100: 1 }), (j) => j.totalSteps!);
    const job = lmJob('gns', 30);
    // Phase 2 (batch 20) runs 8 real steps/s = 8 x 5968 / 2984 = 16 initial-batch-size steps/s.
    expect(m.currentRow(job, 0, [10])).toEqual([10]);
    expect(m.currentRow(job, 11 * LM_SPE10, [10])[0]).toBeCloseTo((8 * LM_SPE10) / LM_SPE20, 12);
    // 100 steps before the change: 10 s at 10/s, then 10 s at 16/s = 160 steps; 260 steps in 20 s.
    const r = m.advance(job, 'v100', false, 11 * LM_SPE10 - 100, 1e9, 20);
    expect(r.steps).toBeCloseTo(260, 9);
    expect(r.time).toBeCloseTo(20, 9);
    // Finishing inside the time: 50 steps left at 16/s take 3.125 s.
    const f = m.advance(job, 'v100', false, 30 * LM_SPE10 - 50, 50, 120);
    expect(f.steps).toBeCloseTo(50, 9);
    expect(f.time).toBeCloseTo(50 / 16, 9);
    // Whole-job average: 11 epochs at 10/s, 19 at 16/s.
    const time = (11 * LM_SPE10) / 10 + (19 * LM_SPE10) / 16;
    expect(m.averageRow(job, [10])[0]).toBeCloseTo((30 * LM_SPE10) / time, 9);
  });
});
