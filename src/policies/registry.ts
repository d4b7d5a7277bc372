import { RondoError } from '../model/errors.js';
import { createFifoPolicy } from './fifo.js';
import { createFinishTimeFairnessPolicy } from './finish-time-fairness.js';
import { createIsolatedPolicy } from './isolated.js';
import { createLasPolicy } from './las.js';
import { createPackedLasPolicy } from './las-packed.js';
import { createPackedFtfPolicy } from './ftf-packed.js';
import { createPackedMinTotalDurationPolicy } from './min-total-duration-packed.js';
import { createPackedFifoPolicy } from './fifo-packed.js';
import { createMaxSumPolicy } from './max-sum-throughput.js';
import { createMinTotalDurationPolicy } from './min-total-duration.js';
import { createSjfPolicy } from './sjf.js';
import { createWaterFillingPolicy } from './water-filling.js';
import { createAlloxPolicy } from './allox.js';
import { createGandivaPolicy } from './gandiva.js';
import { createShockwavePolicy } from './shockwave.js';
import { createShortestJobPolicy } from './srtf.js';
import { createThemisPolicy } from './themis.js';
import { createTiresiasPolicy } from './tiresias.js';
import type { Policy, PolicyMeta } from './types.js';
import { withPartitions } from './pop.js';
import type { TenantTree } from '../model/tenants.js';
import { createTenantQuotaPolicy } from './tenant-quota.js';
import { createKueueQuotaPolicy } from './kueue-quota.js';
import { createGreedyCheapestPolicy, deadlineRule, withTiers } from './spot-tiers.js';

/**
 * Policies by Gavel name, plus readable aliases. `getPolicy` returns a fresh instance; policies are pure (state
 * they need travels through `snapshot.state`), so sharing an instance between schedulers is also safe.
 */

/** What a factory may be given besides the name: the tenant tree of `--tenants` (tenant policies read it). */
export interface PolicyContext {
  readonly tenants?: TenantTree;
}

type Factory = (ctx: PolicyContext) => Policy;

const factories = new Map<string, Factory>();
const aliasOf = new Map<string, string>();

export function registerPolicy(meta: Pick<PolicyMeta, 'name' | 'aliases'>, factory: Factory): void {
  factories.set(meta.name, factory);
  for (const a of meta.aliases) aliasOf.set(a, meta.name);
}

function reg(name: string, aliases: string[], make: (name: string, aliases: string[]) => Policy): void {
  registerPolicy({ name, aliases }, () => make(name, aliases));
}

// Readable aliases: the plain word is Gavel's heterogeneity-agnostic policy, `-aware` its `_perf` form.
reg('max_min_fairness', ['las', 'max-min-fairness'], (n, a) => createLasPolicy(n, a, { aware: false }));
reg('max_min_fairness_perf', ['las-aware', 'las_perf', 'max-min-fairness-aware', 'gavel'], (n, a) => createLasPolicy(n, a, { aware: true }));
// Space sharing (docs/policies.md, "Packed policies").
reg('max_min_fairness_packed', ['las-packed', 'las-aware-packed', 'max-min-fairness-packed'], (n, a) => createPackedLasPolicy(n, a));
reg('finish_time_fairness_packed', ['ftf-packed', 'themis-packed'], (n, a) => createPackedFtfPolicy(n, a));
reg('min_total_duration_packed', ['makespan-packed'], (n, a) => createPackedMinTotalDurationPolicy(n, a));
reg('fifo_packed', ['fifo-packed'], (n, a) => createPackedFifoPolicy(n, a));
reg('max_min_fairness_water_filling', ['las-water-filling', 'water-filling'], (n, a) =>
  createWaterFillingPolicy(n, a, { aware: false, reweighting: 'none' }),
);
reg('max_min_fairness_water_filling_perf', ['las-aware-water-filling', 'water-filling-aware'], (n, a) =>
  createWaterFillingPolicy(n, a, { aware: true, reweighting: 'none' }),
);
reg('max_min_fairness_hierarchical', ['hierarchical', 'hierarchical-fairness'], (n, a) =>
  createWaterFillingPolicy(n, a, { aware: false, reweighting: 'fairness' }),
);
reg('max_min_fairness_hierarchical_perf', ['hierarchical-aware', 'hierarchical-fairness-aware'], (n, a) =>
  createWaterFillingPolicy(n, a, { aware: true, reweighting: 'fairness' }),
);
reg('fifo_hierarchical', ['hierarchical-fifo'], (n, a) => createWaterFillingPolicy(n, a, { aware: false, reweighting: 'fifo' }));
reg('fifo_hierarchical_perf', ['hierarchical-fifo-aware'], (n, a) => createWaterFillingPolicy(n, a, { aware: true, reweighting: 'fifo' }));
reg('finish_time_fairness', ['ftf', 'themis'], (n, a) => createFinishTimeFairnessPolicy(n, a, { aware: false }));
reg('finish_time_fairness_perf', ['ftf-aware', 'themis-aware'], (n, a) => createFinishTimeFairnessPolicy(n, a, { aware: true }));
reg('fifo', [], (n, a) => createFifoPolicy(n, a, { mode: 'base' }));
reg('fifo_perf', ['fifo-aware'], (n, a) => createFifoPolicy(n, a, { mode: 'perf' }));
reg('min_total_duration', ['makespan'], (n, a) => createMinTotalDurationPolicy(n, a, { aware: false }));
reg('min_total_duration_perf', ['makespan-aware'], (n, a) => createMinTotalDurationPolicy(n, a, { aware: true }));
reg('max_sum_throughput_perf', ['max-throughput', 'max-sum-throughput'], (n, a) => createMaxSumPolicy(n, a, { cost: false, slos: false }));
reg('max_sum_throughput_normalized_by_cost_perf', ['min-cost', 'cost'], (n, a) => createMaxSumPolicy(n, a, { cost: true, slos: false }));
reg('max_sum_throughput_normalized_by_cost_perf_SLOs', ['min-cost-slo', 'cost-slo'], (n, a) => createMaxSumPolicy(n, a, { cost: true, slos: true }));
// Spot and on-demand tiers (docs/spot.md): the baselines and the Proteus-like deadline policy restrict LAS-aware.
const tiered = (n: string, a: string[], description: string, rule: Parameters<typeof withTiers>[2]): Policy =>
  withTiers(createLasPolicy('max_min_fairness_perf', [], { aware: true }), { name: n, aliases: a, description }, rule);
reg('on_demand_only', ['on-demand-only'], (n, a) => tiered(n, a, 'Baseline: LAS-aware on on-demand GPUs only', () => 'on-demand'));
reg('spot_only', ['spot-only'], (n, a) => tiered(n, a, 'Baseline: LAS-aware on spot GPUs only', () => 'spot'));
reg('spot_deadline', ['deadline-spot', 'proteus'], (n, a) => tiered(n, a, 'Proteus-like: LAS-aware, each job on spot while its deadline is safe there, else on-demand', deadlineRule));
reg('greedy_cheapest', ['greedy-cheapest', 'cheapest'], (n, a) => createGreedyCheapestPolicy(n, a));
reg('isolated', ['equal-share'], (n, a) => createIsolatedPolicy(n, a));
reg('shortest_job_first', ['sjf'], (n, a) => createSjfPolicy(n, a));
// Baselines from the literature and Shockwave (docs/baselines.md).
reg('sjf_nonpreemptive', ['sjf-nonpreemptive', 'sjf-np'], (n, a) => createShortestJobPolicy(n, a, { preemptive: false }));
reg('srtf_preemptive', ['srtf', 'srtf-preemptive'], (n, a) => createShortestJobPolicy(n, a, { preemptive: true }));
reg('tiresias', ['tiresias-las', '2d-las'], (n, a) => createTiresiasPolicy(n, a, { mode: 'las' }));
reg('tiresias_gittins', ['tiresias-gittins'], (n, a) => createTiresiasPolicy(n, a, { mode: 'gittins' }));
reg('gandiva', ['gandiva_packing'], (n, a) => createGandivaPolicy(n, a, { packing: true }));
reg('allox', [], (n, a) => createAlloxPolicy(n, a));
reg('themis_auction', ['themis-auction'], (n, a) => createThemisPolicy(n, a));
reg('shockwave', [], (n, a) => createShockwavePolicy(n, a));
reg('shockwave_milp', ['shockwave-milp'], (n, a) => createShockwavePolicy(n, a, { integral: true }));
// Tenant quotas (docs/tenants.md): the tree comes from `getPolicy(name, { tenants })`; without one every tenant of
// the jobs is a leaf of weight 1 without a guarantee.
registerPolicy({ name: 'tenant_quota', aliases: ['tenant-quota', 'tenants'] }, (ctx) => createTenantQuotaPolicy('tenant_quota', ['tenant-quota', 'tenants'], ctx.tenants));
registerPolicy({ name: 'kueue_quota', aliases: ['kueue-quota', 'kueue'] }, (ctx) => createKueueQuotaPolicy('kueue_quota', ['kueue-quota', 'kueue'], ctx.tenants));

function canonical(name: string): string | undefined {
  const n = name.trim();
  if (factories.has(n)) return n;
  const a = aliasOf.get(n) ?? aliasOf.get(n.toLowerCase());
  if (a) return a;
  const lower = n.toLowerCase();
  return factories.has(lower) ? lower : undefined;
}

/**
 * The policy of a Gavel name or alias; an unknown name is a RondoError listing the known ones. With
 * `partitions` > 1 it is wrapped in POP (`pop.ts`): k random sub-problems solved apart and joined.
 */
export function getPolicy(name: string, opts: { partitions?: number; seed?: number; tenants?: TenantTree } = {}): Policy {
  const base = namedPolicy(name, opts.tenants ? { tenants: opts.tenants } : {});
  return opts.partitions === undefined ? base : withPartitions(base, opts.partitions, { seed: opts.seed ?? 0 });
}

function namedPolicy(name: string, ctx: PolicyContext): Policy {
  const c = canonical(name);
  if (!c) {
    throw new RondoError({
      code: 'E_USAGE',
      problem: `unknown policy ${JSON.stringify(name)}`,
      expected: `one of ${[...factories.keys()].join(', ')} (aliases: ${[...aliasOf.keys()].join(', ')})`,
    });
  }
  return factories.get(c)!(ctx);
}

/** Metadata of every registered policy, by Gavel name. */
export function listPolicies(): PolicyMeta[] {
  return [...factories.values()].map((f) => f({}).meta);
}

export function isPolicyName(name: string): boolean {
  return canonical(name) !== undefined;
}
