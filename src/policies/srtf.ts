import { RondoError } from '../model/errors.js';
import { byId, packWholeGpus } from './baseline-common.js';
import { anyUsable, finishAllocation, makeProblem, zeroShares, type Problem } from './common.js';
import { createSjfPolicy } from './sjf.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Shortest job first, preemptive and not.
 *
 * - Preemptive (SRTF): `shortest_job_first` (src/policies/sjf.ts) already orders every active job by remaining time
 *   on its fastest type on every call, so a short arrival takes GPUs from a longer running job. We reuse it as is.
 * - Non-preemptive (SJF): a job that got GPUs keeps them (same type) until it finishes; only free GPUs go to waiting
 *   jobs, shortest total time first. The running set travels in `state`.
 */

export interface SjfState {
  readonly kind: 'sjf-nonpreemptive';
  /** Job id -> GPU type it holds. */
  readonly running: ReadonlyArray<readonly [string, string]>;
}

function readState(raw: unknown): SjfState | undefined {
  if (raw === undefined) return undefined;
  const s = raw as SjfState;
  if (s && s.kind === 'sjf-nonpreemptive' && Array.isArray(s.running)) return s;
  throw new RondoError({ code: 'E_INVALID', problem: 'sjf_nonpreemptive: the state passed back is not its state' });
}

/** Time alone on the job's fastest usable type for `steps`. */
function timeOnFastest(p: Problem, j: number, steps: number): number {
  let best = 0;
  for (let k = 0; k < p.types.length; k++) if (p.usable[j]![k]) best = Math.max(best, p.jobs[j]!.throughput[k]!);
  return best > 0 ? steps / best : Infinity;
}

export function sjfNonPreemptive(p: Problem, prev: SjfState | undefined): { shares: number[][]; state: SjfState } {
  const shares = zeroShares(p);
  const avail = [...p.caps];
  const idOf = new Map(p.jobs.map((job, j) => [job.id, j] as const));
  const running = new Map<string, string>();
  for (const [id, t] of prev?.running ?? []) {
    const j = idOf.get(id);
    const k = p.types.indexOf(t);
    // Keep a running job where it is; drop the record when it left or its type is gone.
    if (j === undefined || k < 0 || !p.usable[j]![k] || avail[k]! < p.jobs[j]!.scaleFactor) continue;
    shares[j]![k] = 1;
    avail[k] = avail[k]! - p.jobs[j]!.scaleFactor;
    running.set(id, t);
  }
  const order = p.jobs
    .map((job, j) => ({ j, time: timeOnFastest(p, j, job.totalSteps) }))
    .filter(({ j }) => !running.has(p.jobs[j]!.id) && anyUsable(p, j))
    .sort((a, b) => a.time - b.time || a.j - b.j)
    .map((x) => x.j);
  const placed = packWholeGpus(
    p,
    order,
    shares,
    (j, fits) => fits.reduce((b, k) => (p.jobs[j]!.throughput[k]! > p.jobs[j]!.throughput[b]! ? k : b), fits[0]!),
    avail,
  );
  placed.forEach((k, j) => {
    if (k >= 0) running.set(p.jobs[j]!.id, p.types[k]!);
  });
  return { shares, state: { kind: 'sjf-nonpreemptive', running: byId(running) } };
}

export function createShortestJobPolicy(name: string, aliases: readonly string[], opts: { preemptive: boolean }): Policy {
  if (opts.preemptive) {
    const inner = createSjfPolicy(name, aliases);
    return { meta: { ...inner.meta, description: 'SRTF: shortest remaining time first, preempting longer jobs on every recompute' }, allocate: (s) => inner.allocate(s) };
  }
  return {
    meta: {
      name,
      aliases,
      description: 'SJF (non-preemptive): free GPUs go to the shortest waiting job; running jobs keep their GPUs',
      heterogeneityAware: true,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const p = makeProblem(snapshot);
      const { shares, state } = sjfNonPreemptive(p, readState(snapshot.state));
      return { allocation: finishAllocation(p, shares), state };
    },
  };
}
