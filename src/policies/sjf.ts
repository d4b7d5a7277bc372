import type { Problem } from './common.js';
import { anyUsable, finishAllocation, makeProblem, zeroShares } from './common.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Shortest (remaining) job first: not a Gavel policy. Jobs are ordered by their remaining time if run alone on
 * their fastest usable type (`remaining / max_k T[j][k]`; ties by arrival order), and each in turn gets whole GPUs
 * (share 1.0) of the free type where it runs fastest. Unlike FIFO a job that does not fit is skipped (smaller jobs
 * behind it may start); since it is recomputed on every arrival and completion it behaves as SRTF.
 */
function sjf(p: Problem): number[][] {
  const shares = zeroShares(p);
  const avail = [...p.caps];
  const order = p.jobs
    .map((job, j) => {
      let best = 0;
      for (let k = 0; k < p.types.length; k++) if (p.usable[j]![k]) best = Math.max(best, job.throughput[k]!);
      return { j, time: best > 0 ? job.remainingSteps / best : Infinity };
    })
    .filter(({ j }) => anyUsable(p, j))
    .sort((a, b) => a.time - b.time || a.j - b.j);
  for (const { j } of order) {
    const job = p.jobs[j]!;
    let best = -1;
    for (let k = 0; k < p.types.length; k++) {
      if (!p.usable[j]![k] || avail[k]! < job.scaleFactor) continue;
      if (best < 0 || job.throughput[k]! > job.throughput[best]!) best = k;
    }
    if (best < 0) continue;
    shares[j]![best] = 1;
    avail[best] = avail[best]! - job.scaleFactor;
  }
  return shares;
}

export function createSjfPolicy(name: string, aliases: readonly string[]): Policy {
  return {
    meta: {
      name,
      aliases,
      description: 'Shortest remaining time first: whole GPUs of the fastest free type, shortest jobs first',
      heterogeneityAware: true,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const p = makeProblem(snapshot);
      return { allocation: finishAllocation(p, sjf(p)) };
    },
  };
}
