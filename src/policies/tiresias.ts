import { RondoError } from '../model/errors.js';
import { attainedService, packWholeGpus } from './baseline-common.js';
import { anyUsable, finishAllocation, makeProblem, zeroShares } from './common.js';
import { YARN_GPUT_1000 } from './tiresias-yarn-gput.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Tiresias (Gu et al., NSDI'19): discretised two-dimensional least-attained-service (2D-LAS). A job's attained
 * service is GPUs x seconds run; it starts in the highest-priority queue and drops one queue each time its service
 * crosses a threshold. Queues are served in priority order; inside a queue jobs are served first-come-first-served
 * (`las`), or by the Gittins index of their attained service under a job-size distribution (`gittins`: the
 * probability of finishing within the next quantum, per unit of expected service in it). Jobs get whole GPUs, any
 * type (Tiresias is heterogeneity-agnostic); a job that does not fit is skipped so smaller jobs may start.
 *
 * Not modelled: Tiresias' starvation guard (promoting a job back to the top queue after waiting a multiple of its
 * run time) and its placement profiler (consolidation is the mechanism's job here).
 */

export interface TiresiasOptions {
  readonly mode: 'las' | 'gittins';
  /** Queue thresholds in GPU-seconds, ascending; K thresholds make K+1 queues. Default one threshold, 3600. */
  readonly thresholds?: readonly number[];
  /** Job sizes (GPU-seconds) for the Gittins index; default Tiresias' yarn-gput1000 distribution. */
  readonly sizes?: readonly number[];
}

function checkThresholds(t: readonly number[]): void {
  for (let i = 0; i < t.length; i++) {
    if (!Number.isFinite(t[i]) || t[i]! <= 0 || (i > 0 && t[i]! <= t[i - 1]!)) {
      throw new RondoError({ code: 'E_USAGE', problem: 'tiresias: queue thresholds must be positive and ascending', found: t.join(',') });
    }
  }
}

/** Queue index (0 = highest priority) of an attained service. */
export function queueOf(thresholds: readonly number[], service: number): number {
  let q = 0;
  while (q < thresholds.length && service >= thresholds[q]!) q++;
  return q;
}

/**
 * Gittins index of a job that has attained `a` with quantum `delta`, for an empirical size distribution `sorted`:
 * P(S - a <= delta | S > a) / E[min(S - a, delta) | S > a]. Jobs already past every size get index 0.
 */
export function gittinsIndex(sorted: readonly number[], a: number, delta: number): number {
  let alive = 0;
  let done = 0;
  let work = 0;
  for (const s of sorted) {
    if (s <= a) continue;
    alive++;
    if (s - a <= delta) {
      done++;
      work += s - a;
    } else {
      work += delta;
    }
  }
  if (alive === 0 || work <= 0) return 0;
  return done / alive / (work / alive);
}

export function createTiresiasPolicy(name: string, aliases: readonly string[], opts: TiresiasOptions): Policy {
  const thresholds = opts.thresholds ?? [3600];
  checkThresholds(thresholds);
  const sizes = [...(opts.sizes ?? YARN_GPUT_1000)].sort((a, b) => a - b);
  return {
    meta: {
      name,
      aliases,
      description:
        opts.mode === 'gittins'
          ? 'Tiresias: discretised 2D-LAS queues, Gittins index of attained GPU-time inside each queue'
          : 'Tiresias: discretised 2D-LAS queues on attained GPU-time, FIFO inside each queue',
      heterogeneityAware: false,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const p = makeProblem(snapshot);
      const keys = p.jobs.map((job, j) => {
        const a = attainedService(p, j);
        const q = queueOf(thresholds, a);
        // Quantum: service left before the next demotion (the last queue has none: use the largest size).
        const delta = q < thresholds.length ? thresholds[q]! - a : Math.max(1, sizes.at(-1)! - a);
        const index = opts.mode === 'gittins' ? gittinsIndex(sizes, a, delta) : 0;
        return { j, q, index, arrival: job.arrivalTime };
      });
      const order = keys
        .filter(({ j }) => anyUsable(p, j))
        .sort((x, y) => x.q - y.q || y.index - x.index || x.arrival - y.arrival || x.j - y.j)
        .map((x) => x.j);
      const shares = zeroShares(p);
      packWholeGpus(p, order, shares);
      return { allocation: finishAllocation(p, shares) };
    },
  };
}
