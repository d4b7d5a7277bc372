import { makeCluster, type Allocation, type ClusterSpec, type Job, type ThroughputTable } from '../../src/model/index.js';
import type { Policy, PolicySnapshot } from '../../src/policies/types.js';

/** A tiny throughput table: job types A (fast on v100) and B (same everywhere), at scale factors 1, 2, 4. */
export function smallTable(): ThroughputTable {
  const entry = (v: number) => ({ isolated: v, colocated: {} });
  const byType = (a: number, b: number) => ({
    'A|1': entry(a),
    'A|2': entry(a * 1.8),
    'A|4': entry(a * 3.2),
    'B|1': entry(b),
    'B|2': entry(b * 1.9),
    'B|4': entry(b * 3.6),
  });
  return {
    gpuTypes: ['v100', 'k80'],
    consolidated: { v100: byType(10, 2), k80: byType(2, 2) },
    unconsolidated: { v100: { 'A|2': entry(5), 'A|4': entry(8) }, k80: {} },
  };
}

export function job(id: string, over: Partial<Job> = {}): Job {
  return { id, jobType: 'A', scaleFactor: 1, arrivalTime: 0, totalSteps: 3600, priorityWeight: 1, ...over };
}

export function cluster2(v100 = 2, k80 = 2, perServer = 1): ClusterSpec {
  return makeCluster({ v100, k80 }, perServer);
}

/** Test FIFO: each job, in arrival order, gets all of its time on the first type that still has room. */
export function testFifo(name = 'fifo_test'): Policy {
  return {
    meta: { name, aliases: [], description: 'test FIFO', heterogeneityAware: true, spaceSharing: false, needsPrices: false, usesSlos: false, onlyAllocatedRowsRun: true },
    allocate(s: PolicySnapshot) {
      const left = s.cluster.gpuTypes.map((t) => s.cluster.gpus[t] ?? 0);
      const shares = new Map<string, number[]>();
      for (const j of s.jobs) {
        const row = s.cluster.gpuTypes.map(() => 0);
        const k = left.findIndex((g, i) => g >= j.scaleFactor && j.throughput[i]! > 0);
        if (k >= 0) {
          row[k] = 1;
          left[k]! -= j.scaleFactor;
        }
        shares.set(j.id, row);
      }
      const allocation: Allocation = { gpuTypes: s.cluster.gpuTypes, shares };
      return { allocation, state: (typeof s.state === 'number' ? s.state : 0) + 1 };
    },
  };
}

/** Equal share: every job the same fraction of every type, as much as fits. */
export function equalShare(aware = false): Policy {
  return {
    meta: { name: 'equal_test', aliases: [], description: 'test equal share', heterogeneityAware: aware, spaceSharing: false, needsPrices: false, usesSlos: false },
    allocate(s: PolicySnapshot) {
      const types = s.cluster.gpuTypes;
      const S = s.jobs.reduce((a, j) => a + j.scaleFactor, 0);
      const shares = new Map<string, number[]>();
      for (const j of s.jobs) shares.set(j.id, types.map((t) => Math.min(1 / types.length, (s.cluster.gpus[t] ?? 0) / Math.max(1, S))));
      return { allocation: { gpuTypes: types, shares } };
    },
  };
}

/** A and B alone: 10 and 5 steps/s on v100. Together: A 6, B 3 (stored from both sides, as Gavel's files do). */
export function pairTable(oneSided = false): ThroughputTable {
  return {
    gpuTypes: ['v100'],
    consolidated: {
      v100: {
        'A|1': { isolated: 10, colocated: { 'B|1': [6, 3] } },
        'B|1': { isolated: 5, colocated: oneSided ? {} : { 'A|1': [3, 6] } },
      },
    },
    unconsolidated: {},
  };
}
