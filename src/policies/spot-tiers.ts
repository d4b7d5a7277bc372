import { RondoError } from '../model/errors.js';
import { isSpotType } from '../model/index.js';
import { finishAllocation, makeProblem, zeroShares } from './common.js';
import { pricesFor } from './max-sum-throughput.js';
import { expectedThroughputs, revocationDiscount } from './revocation.js';
import type { Policy, PolicyJob, PolicyMeta, PolicyResult, PolicySnapshot } from './types.js';

/**
 * Spot and on-demand tiers (docs/spot.md): a spot GPU is its own cluster type (`a100-spot`, src/model/spot.ts), so a
 * tier policy is an inner policy whose jobs see only the types of the tier chosen for them. Every tier policy sets
 * `onlyAllocatedRowsRun`: the round mechanism otherwise fills idle GPUs of any type, whatever the shares, and a job
 * kept off spot would run there anyway. A cluster without any type of the chosen tier (a plain cluster) leaves the
 * job every type: there is nothing to choose between.
 */

export type Tier = 'on-demand' | 'spot';

/** Which tier a job runs on, decided from the snapshot alone (policies are pure). */
export type TierRule = (job: PolicyJob, snapshot: PolicySnapshot, spot: readonly boolean[]) => Tier;

/** Proteus-like slack: spot must be able to finish the job with this factor of time to spare before its deadline. */
export const DEADLINE_SLACK = 1.25;

/**
 * In the spirit of Proteus (EuroSys'17): a job runs on spot while it can still meet its deadline there, at the best
 * spot type's throughput discounted by the expected revocation loss and with 25% slack; otherwise, or once it falls
 * behind, on on-demand. A job without a deadline runs on spot. Decided again at every re-solve.
 */
export const deadlineRule: TierRule = (job, snapshot, spot) => {
  if (job.deadline === undefined) return 'spot';
  let rate = 0;
  const types = snapshot.cluster.gpuTypes;
  job.throughput.forEach((v, k) => {
    if (spot[k] && (snapshot.cluster.gpus[types[k]!] ?? 0) >= job.scaleFactor) rate = Math.max(rate, v * revocationDiscount(snapshot, types[k]!, job.scaleFactor));
  });
  if (!(rate > 0)) return 'on-demand';
  return snapshot.now + (DEADLINE_SLACK * job.remainingSteps) / rate <= job.deadline ? 'spot' : 'on-demand';
};

/** `inner` with each job restricted to the tier `rule` picks (its throughput zeroed on the other tier's types). */
export function withTiers(inner: Policy, meta: Pick<PolicyMeta, 'name' | 'aliases' | 'description'>, rule: TierRule): Policy {
  return {
    meta: { ...inner.meta, ...meta, onlyAllocatedRowsRun: true },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const spot = snapshot.cluster.gpuTypes.map((t) => isSpotType(t));
      const has = { spot: spot.some((s) => s), 'on-demand': spot.some((s) => !s) };
      const jobs = snapshot.jobs.map((j) => {
        const tier = rule(j, snapshot, spot);
        if (!has[tier]) return j;
        return { ...j, throughput: j.throughput.map((v, k) => (spot[k] === (tier === 'spot') ? v : 0)) };
      });
      return inner.allocate({ ...snapshot, jobs });
    },
  };
}

/**
 * Greedy cheapest: in arrival order, each job takes the type with the lowest expected dollars per step (price over
 * throughput discounted by revocations) among those with room for its gang, for all of its time; a job with no room
 * waits for the next re-solve.
 */
export function createGreedyCheapestPolicy(name: string, aliases: readonly string[]): Policy {
  return {
    meta: {
      name,
      aliases,
      description: 'Each job, in arrival order, on the free GPU type with the lowest expected $ per step (spot discounted by revocations)',
      heterogeneityAware: true,
      spaceSharing: false,
      needsPrices: true,
      usesSlos: false,
      onlyAllocatedRowsRun: true,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const p = makeProblem(expectedThroughputs(snapshot));
      const price = pricesFor(p, snapshot, name);
      const free = [...p.caps];
      const shares = zeroShares(p);
      p.jobs.forEach((job, j) => {
        let best = -1;
        let bestCost = Infinity;
        for (let k = 0; k < p.types.length; k++) {
          if (!p.usable[j]![k] || free[k]! < job.scaleFactor) continue;
          const cost = (price[k]! * job.scaleFactor) / job.throughput[k]!;
          if (cost < bestCost) {
            bestCost = cost;
            best = k;
          }
        }
        if (best < 0) return;
        shares[j]![best] = 1;
        free[best] = free[best]! - job.scaleFactor;
      });
      return { allocation: finishAllocation(p, shares) };
    },
  };
}

/** The tier rules `--spot-strategy` names (an alias for the tier policies over any `--policy`). */
export const TIER_RULES: Readonly<Record<string, TierRule | undefined>> = {
  any: undefined,
  'on-demand': () => 'on-demand',
  spot: () => 'spot',
  deadline: deadlineRule,
};

/** `policy` restricted by a `--spot-strategy` (unchanged for `any`). */
export function withStrategy(policy: Policy, strategy: string): Policy {
  if (!(strategy in TIER_RULES)) {
    throw new RondoError({ code: 'E_USAGE', problem: 'bad --spot-strategy', expected: Object.keys(TIER_RULES).join(', '), found: JSON.stringify(strategy) });
  }
  const rule = TIER_RULES[strategy];
  if (!rule) return policy;
  const m = policy.meta;
  return withTiers(policy, { name: `${m.name}+${strategy}`, aliases: [], description: `${m.description}, on the ${strategy} tier` }, rule);
}
