import type { LpMethod } from '../solver/index.js';
import type { Problem } from './common.js';
import { finishAllocation, groupBy, rowKey, zeroShares } from './common.js';
import { lasModel } from './las.js';
import { improvableClasses, solveMaxMin } from './maxmin.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Water-filling max-min fairness (Gavel `max_min_fairness_water_filling(_perf)`) and its hierarchical form.
 *
 * Repeat: solve the max-min LP over the jobs not yet frozen (objective `(scale/w) * (u_j - level_j)`, u the
 * normalised effective throughput as in LAS, every job keeping at least its level so far); raise each such job's
 * level by what it got; then freeze the jobs that cannot be raised any further without lowering another job
 * below its level (Gavel finds them with a MILP; we use an LP over improvable-by-a-bit variables, see
 * `improvableClasses`). Stop when every job is frozen or no job was frozen in a round. The allocation is the last
 * LP's solution.
 *
 * Hierarchical (Gavel's priority reweighting): jobs belong to entities (`tenant`, default `default`) with weights
 * (`snapshot.tenantWeights`, default 1). Each round an entity's weight is spread over its unfrozen jobs: in
 * proportion to their own weights (`fairness`), or all of it to its oldest unfrozen job (`fifo`); frozen jobs and
 * FIFO jobs not at the head of their entity weigh 0 (they keep their level but are not in the objective).
 */

export type Reweighting = 'none' | 'fairness' | 'fifo';

export interface WaterFillingOptions {
  readonly aware: boolean;
  readonly reweighting: Reweighting;
  readonly method?: LpMethod;
  /** Safety cap on rounds; each round freezes at least one job, so n rounds always suffice. */
  readonly maxRounds?: number;
}

/**
 * Levels reused as lower bounds are relaxed by this much (relative and absolute, u is O(1)) so that an
 * interior-point level, feasible only to ~1e-8, cannot make the next LP infeasible. It is at most 1% of the improvement
 * step used to detect bottlenecks (1e-4 relative + 1e-5 absolute, as Gavel's MILP).
 */
const RELAX_REL = 1e-7;
const RELAX_ABS = 1e-7;

function relaxed(level: number): number {
  return Math.max(0, level - RELAX_REL * level - RELAX_ABS);
}

function reweight(p: Problem, opts: WaterFillingOptions, snapshot: PolicySnapshot, frozen: boolean[]): number[] {
  const n = p.jobs.length;
  if (opts.reweighting === 'none') return p.jobs.map((j, i) => (frozen[i] ? 0 : j.priorityWeight));
  const weights = new Array<number>(n).fill(0);
  const byEntity = new Map<string, number[]>();
  p.jobs.forEach((job, j) => {
    const e = job.tenant ?? 'default';
    let list = byEntity.get(e);
    if (!list) byEntity.set(e, (list = []));
    list.push(j);
  });
  for (const [e, list] of byEntity) {
    const ew = snapshot.tenantWeights?.[e] ?? 1;
    const open = list.filter((j) => !frozen[j]);
    if (open.length === 0) continue;
    if (opts.reweighting === 'fifo') {
      // Snapshot order is arrival order (ties by id).
      weights[open[0]!] = ew;
    } else {
      const total = open.reduce((s, j) => s + p.jobs[j]!.priorityWeight, 0);
      for (const j of open) weights[j] = (ew * p.jobs[j]!.priorityWeight) / total;
    }
  }
  return weights;
}

export function solveWaterFilling(snapshot: PolicySnapshot, opts: WaterFillingOptions, policy: string): { shares: number[][]; levels: number[]; problem: Problem; rounds: number } {
  const m = lasModel(snapshot, opts.aware);
  const p = m.problem;
  const n = p.jobs.length;
  const method = opts.method ?? 'ipm';
  const frozen = m.inLp.map((x) => !x);
  const level = new Float64Array(n);
  let shares = zeroShares(p);
  let rounds = 0;
  const maxRounds = opts.maxRounds ?? n + 1;
  while (rounds < maxRounds && frozen.some((f) => !f)) {
    rounds++;
    const w = reweight(p, opts, snapshot, frozen);
    const active = p.jobs.map((_, j) => m.inLp[j]! && !frozen[j] && w[j]! > 0);
    if (!active.some((x) => x)) break;
    const mult = new Float64Array(n);
    const floor = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      mult[j] = active[j] ? p.jobs[j]!.scaleFactor / w[j]! : 1;
      floor[j] = m.inLp[j] ? relaxed(level[j]!) : 0;
    }
    const classes = groupBy(n, (j) =>
      m.inLp[j] ? `${active[j] ? 1 : 0}|${frozen[j] ? 1 : 0}|${mult[j]}|${level[j]}|${p.jobs[j]!.scaleFactor}|${rowKey(m.a[j]!)}` : '-',
    );
    const inp = { problem: p, a: m.a, mult, base: level, floor, active, classes, method, policy };
    let out: ReturnType<typeof solveMaxMin>;
    try {
      out = solveMaxMin(inp);
    } catch (e) {
      // As Gavel: when a round's LP fails, keep the previous round's allocation (if there was one).
      if (rounds > 1) break;
      throw e;
    }
    shares = zeroShares(p);
    for (let j = 0; j < n; j++) if (m.inLp[j]) shares[j] = Array.from(out.classShares[classes.classOf[j]!]!);
    for (let j = 0; j < n; j++) if (active[j]) level[j] = level[j]! + out.level / mult[j]!;
    const floor2 = new Float64Array(n);
    for (let j = 0; j < n; j++) floor2[j] = m.inLp[j] ? relaxed(level[j]!) : 0;
    let improvable: boolean[];
    try {
      improvable = improvableClasses({ ...inp, base: floor2, floor: floor2 });
    } catch {
      // Gavel treats a failed bottleneck MILP as "nothing can improve": every active job is frozen.
      improvable = classes.members.map(() => false);
    }
    let newlyFrozen = 0;
    for (let j = 0; j < n; j++) {
      if (active[j] && !improvable[classes.classOf[j]!]) {
        frozen[j] = true;
        newlyFrozen++;
      }
    }
    if (newlyFrozen === 0) break;
  }
  return { shares, levels: Array.from(level), problem: p, rounds };
}

export function createWaterFillingPolicy(name: string, aliases: readonly string[], opts: WaterFillingOptions): Policy {
  const what = opts.reweighting === 'none' ? 'Water-filling max-min fairness' : `Hierarchical water-filling (${opts.reweighting} inside each tenant, weighted fairness across tenants)`;
  return {
    meta: {
      name,
      aliases,
      description: `${what}, ${opts.aware ? 'heterogeneity-aware' : 'heterogeneity-agnostic'}`,
      heterogeneityAware: opts.aware,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
      // fifo_hierarchical*: FIFO inside each tenant decides who runs.
      onlyAllocatedRowsRun: opts.reweighting === 'fifo',
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const r = solveWaterFilling(snapshot, opts, name);
      return { allocation: finishAllocation(r.problem, r.shares) };
    },
  };
}
