/**
 * Why the planner did what it did to each row it did not place, and to each row it took GPUs from: the "why" a live
 * server shows on a job page. Read from the same tables the planner sorts by (share, received fraction, priority),
 * never a second opinion. `planRound` attaches it to its plan as a lazy, non-enumerable `explain()`: nothing is
 * computed unless a caller asks (the simulator never does), so plans and simulations are unchanged.
 */
import { pairKey, type Assignment, type GpuType, type RoundPlan, type RowKey } from '../model/index.js';
import type { MechanismInput } from './plan.js';

export type WhyKind =
  /** No GPU type of the cluster can run it (no allowed type, or gangs larger than any type's GPUs). */
  | 'never'
  /** It arrived after the allocation was computed; it waits for the next recompute. */
  | 'no-allocation'
  /** The allocation gives it no time on any type it can use. */
  | 'no-share'
  /** FIFO: jobs ahead of it hold the GPUs. */
  | 'fifo'
  /** Jobs with a higher priority ratio took every GPU of its types. */
  | 'outranked'
  /** Its turn came but fewer GPUs than its gang were left. */
  | 'no-room'
  /** It held GPUs last round and lost them this round. */
  | 'preempted'
  /** It held GPUs last round and runs on other GPUs this round (restarted there). */
  | 'moved';

export interface RowWhy {
  readonly kind: WhyKind;
  /** One sentence for a person: "v100 share: target 42%, received 19%; its 4 GPUs went to …". */
  readonly text: string;
  /** The type the sentence is about, when there is one. */
  readonly gpuType?: GpuType;
}

const pct = (x: number): string => `${Math.round(100 * x)}%`;

/** share / received fraction, as the planner orders rows; "∞" before the row received any time. */
function ratioText(share: number, received: number): string {
  return received > 0 ? (share / received).toFixed(2) : '∞ (no time received yet)';
}

/**
 * Reasons per job id for the rows of `input` that `plan` did not place, and for jobs of `input.previous` that
 * `plan` did not keep on their GPUs. Uses the ledger as it was when the plan was made: call it before the ledger is
 * credited for the round.
 */
export function explainRound(input: MechanismInput, plan: RoundPlan): Map<string, RowWhy> {
  const { cluster, rows, allocation, ledger } = input;
  const types = cluster.gpuTypes;
  const placedBy = new Map<string, Assignment>();
  for (const a of plan.assignments) for (const j of a.jobIds) placedBy.set(j, a);
  const rowIndex = new Map<RowKey, number>(rows.map((r, i) => [r.key, i]));

  const received = (key: RowKey, k: number): number => {
    const li = ledger.gpuTypes.indexOf(types[k]!);
    const wt = li >= 0 ? ledger.workerTime[li]! : 0;
    const t = li >= 0 ? ledger.jobTime.get(key)?.[li] : undefined;
    return wt > 0 && t !== undefined ? t / wt : 0;
  };
  const share = (key: RowKey, k: number): number => {
    const x = allocation?.shares.get(key);
    const ai = allocation ? allocation.gpuTypes.indexOf(types[k]!) : -1;
    return x && ai >= 0 ? x[ai]! : 0;
  };
  /** The planner's order key: share / received, with rows that received nothing first (as `priorityFor`). */
  const rank = (key: RowKey, k: number): number => {
    const s = share(key, k);
    const r = received(key, k);
    return r > 0 ? s / r : s * 1e9;
  };

  /**
   * Per type, the placed rows known to the planner sorted by rank, highest first (ties: the earlier assignment
   * last, so the last of a prefix is the first-placed row of the lowest rank), with the GPUs placed before each.
   */
  const byType = new Map<number, Array<{ id: string; key: RowKey; r: number; gpus: number; gpusBefore: number }>>();
  const placedOn = (k: number): Array<{ id: string; key: RowKey; r: number; gpus: number; gpusBefore: number }> => {
    let list = byType.get(k);
    if (list) return list;
    const t = types[k]!;
    const tagged = plan.assignments
      .map((a, idx) => ({ a, idx, key: keyOf(a.jobIds) }))
      .filter((x) => x.a.gpuType === t && rowIndex.has(x.key))
      .map((x) => ({ id: x.a.jobIds.join('+'), key: x.key, r: rank(x.key, k), gpus: x.a.gpus.length, idx: x.idx }));
    tagged.sort((x, y) => y.r - x.r || y.idx - x.idx);
    let before = 0;
    list = tagged.map((x) => {
      const e = { id: x.id, key: x.key, r: x.r, gpus: x.gpus, gpusBefore: before };
      before += x.gpus;
      return e;
    });
    byType.set(k, list);
    return list;
  };

  const whyWaiting = (i: number): RowWhy => {
    const row = rows[i]!;
    const usable = types.map((_, k) => k).filter((k) => row.throughput[k]! > 0 && (cluster.gpus[types[k]!] ?? 0) >= row.scaleFactor);
    if (usable.length === 0) {
      const allowed = types.filter((_, k) => row.throughput[k]! > 0);
      const text =
        allowed.length === 0
          ? `can run on none of this cluster's GPU types (${types.join(', ') || 'none'})`
          : `needs ${row.scaleFactor}×${allowed.join(' or ')}; the cluster has ${allowed.map((t) => `${cluster.gpus[t] ?? 0} ${t}`).join(', ')}`;
      return { kind: 'never', text };
    }
    if (!allocation?.shares.has(row.key)) return { kind: 'no-allocation', text: 'not in the allocation yet: it arrived after the policy last divided the cluster; it is considered at the next recompute' };
    const shared = usable.filter((k) => share(row.key, k) > 0);
    if (input.skipZeroPriority && shared.every((k) => rank(row.key, k) <= 0)) return { kind: 'fifo', text: 'first in, first out: jobs submitted earlier hold the GPUs' };
    if (shared.length === 0) return { kind: 'no-share', text: `the policy gives it no time on ${usable.map((k) => types[k]).join(' or ')} for now` };
    // The type where it stood highest in the queue.
    const k = shared.reduce((b, x) => (rank(row.key, x) > rank(row.key, b) ? x : b), shared[0]!);
    const t = types[k]!;
    const mine = rank(row.key, k);
    const head = `${t} share: target ${pct(share(row.key, k))}, received ${pct(received(row.key, k))}`;
    const total = cluster.gpus[t] ?? 0;
    // Rows placed ahead of it on this type (higher rank), and how many GPUs they left: a prefix of the type's
    // placed rows sorted by rank (computed once per type, so a round over 10,000 queued jobs stays linear).
    const placed = placedOn(k);
    let n = 0;
    while (n < placed.length && placed[n]!.r >= mine) n++;
    const leftAtTurn = total - (n > 0 ? placed[n - 1]!.gpusBefore + placed[n - 1]!.gpus : 0);
    if (leftAtTurn > 0 && leftAtTurn < row.scaleFactor)
      return { kind: 'no-room', gpuType: t, text: `${head}; needs ${row.scaleFactor}×${t} at once, only ${leftAtTurn} of ${total} were free when its turn came` };
    const lowest = n > 0 ? placed[n - 1] : undefined;
    if (!lowest) return { kind: 'outranked', gpuType: t, text: `${head}; no ${t} GPU was free this round` };
    return {
      kind: 'outranked',
      gpuType: t,
      text: `${head}; its ${total} ${t} GPUs went to jobs with a higher priority ratio (${lowest.id}: ${ratioText(share(lowest.key, k), received(lowest.key, k))} against ${ratioText(share(row.key, k), received(row.key, k))})`,
    };
  };

  const out = new Map<string, RowWhy>();
  const prevJobs = new Map<string, Assignment>();
  for (const a of input.previous) for (const j of a.jobIds) prevJobs.set(j, a);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const placed = row.jobIds.map((j) => placedBy.get(j));
    for (const [n, j] of row.jobIds.entries()) {
      const before = prevJobs.get(j);
      const now = placed[n];
      if (now && now.leaseExtended) continue;
      if (now && !before) continue;
      if (out.has(j)) continue;
      if (before && now) {
        out.set(j, {
          kind: 'moved',
          gpuType: now.gpuType,
          text:
            before.gpuType === now.gpuType
              ? `in round ${plan.round} moved to other ${now.gpuType} GPUs (restarted from its checkpoint)`
              : `in round ${plan.round} moved from ${before.gpuType} to ${now.gpuType}, where it stood higher in the queue (restarted from its checkpoint)`,
        });
        continue;
      }
      if (placed.some((p) => p)) continue; // a pair partner of a placed job
      const w = whyWaiting(i);
      out.set(j, before ? { kind: 'preempted', ...(w.gpuType ? { gpuType: w.gpuType } : {}), text: `preempted in round ${plan.round}: ${w.text}` } : w);
    }
  }
  return out;
}

function keyOf(jobIds: readonly string[]): RowKey {
  return jobIds.length === 2 ? pairKey(jobIds[0]!, jobIds[1]!) : jobIds.join('+');
}
