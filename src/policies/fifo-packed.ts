import { colocatedThroughput, jobKey, pairKey, type RowKey } from '../model/index.js';
import { finishAllocation, makeProblem } from './common.js';
import { fifoPerf } from './fifo.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * FIFO with space sharing (Gavel `fifo_packed`, its FIFOPolicy in packing mode): `fifo_perf` first (jobs in arrival
 * order take whole GPUs of their fastest free type), then each job still queued, in order, joins the running job
 * (alone so far, equal scale factor, on that job's type) with which the pair's normalised throughput
 * `coloc_a / iso_a + coloc_b / iso_b` is highest, if above `threshold` (Gavel: 1.5). The first queued job with no
 * such partner stops the packing (no job jumps ahead). Recomputed from scratch on every call, as Gavel's.
 * Gavel drops from packing the job that stopped the first pass (popped, never put back); here it stays first in
 * the queue.
 */

export interface PackedFifoOptions {
  readonly threshold?: number;
}

export function createPackedFifoPolicy(name: string, aliases: readonly string[], opts: PackedFifoOptions = {}): Policy {
  const threshold = opts.threshold ?? 1.5;
  return {
    meta: {
      name,
      aliases,
      description: 'FIFO on the fastest free type, then queued jobs pair with running ones where co-location gains at least 1.5x',
      heterogeneityAware: true,
      spaceSharing: true,
      needsPrices: false,
      usesSlos: false,
      onlyAllocatedRowsRun: true,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const p = makeProblem(snapshot);
      const shares = fifoPerf(p);
      const base = finishAllocation(p, shares);
      const table = snapshot.throughputs;
      const out = new Map<RowKey, readonly number[]>(base.shares);
      if (!table) return { allocation: base };
      const K = p.types.length;
      const typeOf = shares.map((row) => row.findIndex((v) => v > 0));
      const running = p.jobs.map((_, j) => j).filter((j) => typeOf[j]! >= 0);
      const paired = new Set<number>();
      for (let j = 0; j < p.jobs.length; j++) {
        if (typeOf[j]! >= 0 || !p.usable[j]!.some((u) => u)) continue;
        const job = p.jobs[j]!;
        let best = -1;
        let bestGain = threshold;
        for (const r of running) {
          const other = p.jobs[r]!;
          const k = typeOf[r]!;
          if (paired.has(r) || other.scaleFactor !== job.scaleFactor || !p.usable[j]![k]) continue;
          const pair = colocatedThroughput(table, p.types[k]!, jobKey(other.jobType, other.scaleFactor), jobKey(job.jobType, job.scaleFactor));
          if (!pair) continue;
          const gain = (pair[0] > 0 ? pair[0] / other.throughput[k]! : 0) + (pair[1] > 0 ? pair[1] / job.throughput[k]! : 0);
          if (gain > bestGain) {
            bestGain = gain;
            best = r;
          }
        }
        if (best < 0) break;
        paired.add(best);
        const row = new Array<number>(K).fill(0);
        row[typeOf[best]!] = 1;
        out.set(p.jobs[best]!.id, new Array<number>(K).fill(0));
        out.set(pairKey(p.jobs[best]!.id, job.id), row);
      }
      return { allocation: { gpuTypes: base.gpuTypes, shares: out } };
    },
  };
}
