import { RondoError } from '../model/errors.js';
import type { GpuType } from '../model/index.js';
import type { LpMethod } from '../solver/index.js';
import type { Problem } from './common.js';
import { anyUsable, classJob, classSize, classTerms, expandClasses, finishAllocation, groupBy, makeProblem, rowKey, solverFailure } from './common.js';
import { buildAllocationLp, classSharesOf } from './maxmin.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';
import { expectedThroughputs } from './revocation.js';

/**
 * Gavel's ThroughputNormalizedByCostSumWithPerfSLOs and its two simpler forms:
 *
 *   maximise sum_j sum_k T[j][k] / price_k * X[j][k]
 *   (SLOs)  sum_k T[j][k] X[j][k] >= remaining_j / (deadline_j - now)   for jobs with a deadline
 *
 * `max_sum_throughput_perf` uses price 1 for every type. When the SLO constraints cannot all be met, the problem
 * is solved without them (as Gavel does). Jobs whose deadline has passed keep no constraint (no rate can meet it).
 */

/**
 * Default $/hour per GPU: AWS on-demand list prices, us-east-1, of the one-GPU instances Gavel maps the types to:
 * v100 = p3.2xlarge ($3.06), k80 = p2.xlarge ($0.90); AWS has no one-GPU P100 instance, so p100 follows Gavel's
 * proxy of 1.5 x the K80 price ($1.35). Override with `snapshot.prices`.
 */
export const AWS_ON_DEMAND_PRICES: Readonly<Record<GpuType, number>> = { v100: 3.06, p100: 1.35, k80: 0.9 };

export interface MaxSumOptions {
  readonly cost: boolean;
  readonly slos: boolean;
  readonly method?: LpMethod;
}

export function pricesFor(p: Problem, snapshot: PolicySnapshot, policy: string): number[] {
  return p.types.map((t) => {
    const v = snapshot.prices?.[t] ?? AWS_ON_DEMAND_PRICES[t];
    if (v === undefined) {
      throw new RondoError({
        code: 'E_USAGE',
        problem: `policy ${policy} needs a price for GPU type ${t}`,
        hint: `give $/hour prices for ${p.types.join(', ')} (defaults exist only for ${Object.keys(AWS_ON_DEMAND_PRICES).join(', ')})`,
      });
    }
    if (!Number.isFinite(v) || v <= 0) {
      throw new RondoError({ code: 'E_RANGE', problem: `price of ${t} is ${v}`, expected: 'a positive $/hour' });
    }
    return v;
  });
}

/** Required rate (steps/s) of each job under its SLO, or 0. */
function sloRates(p: Problem, now: number): number[] {
  return p.jobs.map((job) => {
    if (job.deadline === undefined || job.remainingSteps <= 0) return 0;
    const left = job.deadline - now;
    return left > 0 ? job.remainingSteps / left : 0;
  });
}

function solveMaxSum(p: Problem, price: number[], rates: number[] | undefined, method: LpMethod, policy: string): number[][] | undefined {
  const n = p.jobs.length;
  const K = p.types.length;
  const include = (j: number): boolean => anyUsable(p, j);
  const classes = groupBy(n, (j) => {
    const job = p.jobs[j]!;
    return include(j) ? `${job.scaleFactor}|${rates?.[j] ?? 0}|${rowKey(job.throughput)}|${p.usable[j]!.join('')}` : '-';
  });
  const b = buildAllocationLp(p, classes, 'max', false);
  const idx: number[] = [];
  const val: number[] = [];
  for (let c = 0; c < classes.members.length; c++) {
    const j = classJob(classes, c);
    if (!include(j)) continue;
    const thr = p.jobs[j]!.throughput;
    const size = classSize(classes, c);
    classTerms(b.col, K, c, (k, v) => {
      // Every member contributes to the sum: weight the class column by its size.
      b.lp.setCost(v, (size * thr[k]!) / price[k]!);
      return thr[k]!;
    }, idx, val);
    const rate = rates?.[j] ?? 0;
    if (rate > 0) b.lp.addRow(rate, Infinity, idx, val);
  }
  const r = b.lp.solve({ method, crossover: false });
  if (r.status === 'infeasible') return undefined;
  if (r.status !== 'optimal') throw solverFailure(policy, r.status, r.message);
  return expandClasses(p, classes, classSharesOf(p, classes, b, r.x), include);
}

export function createMaxSumPolicy(name: string, aliases: readonly string[], opts: MaxSumOptions): Policy {
  return {
    meta: {
      name,
      aliases,
      description: opts.slos
        ? 'Maximise total throughput per dollar subject to each job finishing by its SLO deadline'
        : opts.cost
          ? 'Maximise total throughput per dollar (throughput / price of the GPU type)'
          : 'Maximise the total throughput of the cluster',
      heterogeneityAware: true,
      spaceSharing: false,
      needsPrices: opts.cost,
      usesSlos: opts.slos,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      // With spot tiers, a cost policy counts the work a revocation throws away (revocation.ts).
      const p = makeProblem(opts.cost ? expectedThroughputs(snapshot) : snapshot);
      const price = opts.cost ? pricesFor(p, snapshot, name) : p.types.map(() => 1);
      const method = opts.method ?? 'ipm';
      let shares: number[][] | undefined;
      if (opts.slos) shares = solveMaxSum(p, price, sloRates(p, snapshot.now), method, name);
      shares ??= solveMaxSum(p, price, undefined, method, name);
      if (!shares) throw solverFailure(name, 'infeasible');
      return { allocation: finishAllocation(p, shares) };
    },
  };
}
