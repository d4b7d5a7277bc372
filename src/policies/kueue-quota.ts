import { RondoError } from '../model/errors.js';
import type { TenantTree } from '../model/tenants.js';
import { finishAllocation, zeroShares } from './common.js';
import { tenantProblem } from './tenant-model.js';
import type { Policy, PolicyResult, PolicySnapshot } from './types.js';

/**
 * The count-based baseline (`kueue_quota`, docs/tenants.md): what Kueue's ClusterQueues in one cohort do with the
 * same tree. GPUs are counted, whatever their type: a tenant's nominal quota is its guarantee per flavor (GPU type).
 * Each job gets whole GPUs of one type or nothing:
 *
 * 1. Within nominal quota: each tenant admits its jobs in its queue order (arrival; `sjf` leaves by remaining time)
 *    on the first flavor that fits its quota (the flavor it ran on last first, then the types in the order its
 *    guarantee lists them, then the cluster's), skipping jobs that do not fit (Kueue's BestEffortFIFO).
 * 2. Borrowing with fair sharing: repeatedly the tenant whose dominant share would be lowest after admitting its
 *    next job admits it on the first flavor with room. Dominant share = max over types of (GPUs above nominal
 *    quota / lendable GPUs of the type) / weight, as Kueue's fair sharing. Borrowing limits of the tenant and of
 *    its cohorts cap its GPUs per type; the unused part of a guarantee above its lending limit is lent to nobody.
 *
 * Recomputed from scratch at each allocation, so a tenant whose demand returns reclaims its nominal quota at the
 * next one (Kueue's reclaimWithinCohort: Any); running jobs keep their flavor where they still fit.
 */

interface KueueState {
  readonly kind: 'kueue';
  /** Job id and the type index it was admitted on. */
  readonly flavor: ReadonlyArray<readonly [string, number]>;
}

export function createKueueQuotaPolicy(name: string, aliases: readonly string[], tree: TenantTree | undefined): Policy {
  return {
    meta: {
      name,
      aliases,
      description: "Kueue's count-based quotas: nominal quota per GPU type, borrowing, fair sharing by dominant share (--tenants FILE)",
      heterogeneityAware: false,
      spaceSharing: false,
      needsPrices: false,
      usesSlos: false,
      // A job Kueue did not admit does not run, even on idle GPUs.
      onlyAllocatedRowsRun: true,
    },
    allocate(snapshot: PolicySnapshot): PolicyResult {
      const tp = tenantProblem(snapshot, tree);
      const { p, flat } = tp;
      const K = p.types.length;
      const N = flat.nodes.length;
      const bad = flat.nodes.find((nd) => nd.guarantee?.kind === 'normalized');
      if (bad) {
        throw new RondoError({
          code: 'E_USAGE',
          ...(tree?.source ? { file: tree.source } : {}),
          problem: `${bad.path} (${bad.name}) has a normalised guarantee; ${name} counts GPUs`,
          hint: 'give guarantees in GPUs per type for the count-based baseline',
        });
      }
      const nominal = flat.nodes.map((nd) => p.types.map((t) => (nd.guarantee?.kind === 'gpus' ? (nd.guarantee.gpus[t] ?? 0) : 0)));
      const reserve = flat.nodes.map((nd, i) => p.types.map((t, k) => (nd.lendingLimit ? Math.max(0, nominal[i]![k]! - (nd.lendingLimit[t] ?? nominal[i]![k]!)) : 0)));
      const limit = flat.nodes.map((nd, i) => p.types.map((t, k) => {
        const b = nd.borrowingLimit;
        return b === undefined || typeof b === 'number' || b[t] === undefined ? Infinity : nominal[i]![k]! + b[t];
      }));
      const lendable = p.types.map((_, k) => {
        let top = 0;
        let lend = 0;
        flat.nodes.forEach((nd, i) => {
          if (flat.parent[i]! < 0) top += nominal[i]![k]!;
          if (nd.children.length === 0) lend += nominal[i]![k]! - reserve[i]![k]!;
        });
        const v = lend + Math.max(0, p.caps[k]! - top);
        return v > 0 ? v : Math.max(1, p.caps[k]!);
      });
      const used = flat.nodes.map(() => new Float64Array(K));
      const free = Float64Array.from(p.caps);
      const prev = new Map<string, number>();
      const st = snapshot.state as KueueState | undefined;
      if (st?.kind === 'kueue') for (const [id, k] of st.flavor) prev.set(id, k);

      // Queues per leaf, in the leaf's order.
      const queue = new Map<number, number[]>();
      for (let j = 0; j < p.jobs.length; j++) {
        if (!tp.inLp[j]) continue;
        const leaf = tp.leafOf[j]!;
        let q = queue.get(leaf);
        if (!q) queue.set(leaf, (q = []));
        q.push(j);
      }
      for (const [leaf, q] of queue) {
        if (flat.nodes[leaf]!.policy !== 'sjf') continue;
        const time = (j: number): number => p.jobs[j]!.remainingSteps / Math.max(...p.jobs[j]!.throughput.map((v, k) => (p.usable[j]![k] ? v : 0)));
        q.sort((a, b) => time(a) - time(b) || a - b);
      }
      const flavors = (leaf: number, j: number): number[] => {
        const g = flat.nodes[leaf]!.guarantee;
        const listed = g?.kind === 'gpus' ? Object.keys(g.gpus).map((t) => p.types.indexOf(t)) : [];
        const order = [prev.get(p.jobs[j]!.id), ...listed, ...p.types.map((_, k) => k)].filter((k): k is number => k !== undefined && k >= 0);
        return [...new Set(order)].filter((k) => p.usable[j]![k]);
      };
      const room = (leaf: number, k: number): number => {
        // Free GPUs minus the unused reserved GPUs of the other leaves.
        let r = free[k]!;
        for (let i = 0; i < N; i++) if (i !== leaf && reserve[i]![k]! > 0) r -= Math.max(0, reserve[i]![k]! - used[i]![k]!);
        return r;
      };
      const fits = (leaf: number, j: number, k: number, withinNominal: boolean): boolean => {
        const s = p.jobs[j]!.scaleFactor;
        if (room(leaf, k) < s) return false;
        if (withinNominal && used[leaf]![k]! + s > nominal[leaf]![k]!) return false;
        for (const a of flat.ancestors[leaf]!) if (used[a]![k]! + s > limit[a]![k]!) return false;
        return true;
      };
      const shares = zeroShares(p);
      const admit = (leaf: number, j: number, k: number): void => {
        const s = p.jobs[j]!.scaleFactor;
        shares[j]![k] = 1;
        free[k] = free[k]! - s;
        for (const a of flat.ancestors[leaf]!) used[a]![k] = used[a]![k]! + s;
      };
      // 1. Nominal quota.
      const pending = new Map<number, number[]>();
      for (const [leaf, q] of queue) {
        const rest: number[] = [];
        for (const j of q) {
          const k = flavors(leaf, j).find((kk) => fits(leaf, j, kk, true));
          if (k === undefined) rest.push(j);
          else admit(leaf, j, k);
        }
        if (rest.length > 0) pending.set(leaf, rest);
      }
      // 2. Borrowing, lowest dominant share first.
      const share = (leaf: number, extraK = -1, extra = 0): number => {
        let d = 0;
        for (let k = 0; k < K; k++) d = Math.max(d, Math.max(0, used[leaf]![k]! + (k === extraK ? extra : 0) - nominal[leaf]![k]!) / lendable[k]!);
        return d / flat.nodes[leaf]!.weight;
      };
      const head = (leaf: number): { j: number; k: number; share: number } | undefined => {
        const q = pending.get(leaf)!;
        while (q.length > 0) {
          const j = q[0]!;
          const k = flavors(leaf, j).find((kk) => fits(leaf, j, kk, false));
          if (k !== undefined) return { j, k, share: share(leaf, k, p.jobs[j]!.scaleFactor) };
          q.shift();
        }
        pending.delete(leaf);
        return undefined;
      };
      const cand = new Map<number, { j: number; k: number; share: number }>();
      for (const leaf of [...pending.keys()].sort((a, b) => a - b)) {
        const h = head(leaf);
        if (h) cand.set(leaf, h);
      }
      while (cand.size > 0) {
        let best = -1;
        for (const [leaf, h] of cand) if (best < 0 || h.share < cand.get(best)!.share || (h.share === cand.get(best)!.share && leaf < best)) best = leaf;
        const h = cand.get(best)!;
        const again = head(best);
        if (!again) {
          cand.delete(best);
          continue;
        }
        if (again.k !== h.k || again.j !== h.j || again.share !== h.share) {
          cand.set(best, again);
          continue;
        }
        admit(best, h.j, h.k);
        pending.get(best)!.shift();
        const next = pending.get(best)!.length > 0 ? head(best) : (pending.delete(best), undefined);
        if (next) cand.set(best, next);
        else cand.delete(best);
      }
      const flavor: Array<readonly [string, number]> = [];
      shares.forEach((row, j) => {
        const k = row.indexOf(1);
        if (k >= 0) flavor.push([p.jobs[j]!.id, k]);
      });
      return { allocation: finishAllocation(p, shares), state: { kind: 'kueue', flavor } satisfies KueueState };
    },
  };
}
