/**
 * Why the planner did what it did to each row it did not place, and to each row it took GPUs from: the "why" a live
 * server shows on a job page. Read from the same tables the planner sorts by (share, received fraction, priority),
 * never a second opinion. `planRound` attaches it to its plan as lazy, non-enumerable `explain()` (every reason) and
 * `explainer()` (each reason when asked): nothing is computed unless a caller asks (the simulator never does), so
 * plans and simulations are unchanged.
 */
import { pairKey, type Assignment, type GpuType, type RoundExplainer, type RoundPlan, type RowKey } from '../model/index.js';
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

/** `RoundExplainer` with this module's kinds. */
export interface RowExplainer extends RoundExplainer {
  readonly changed: ReadonlyMap<string, RowWhy>;
  reason(jobId: string): RowWhy | undefined;
}

const pct = (x: number): string => `${Math.round(100 * x)}%`;

/** share / received fraction, as the planner orders rows; "∞" before the row received any time. */
function ratioText(share: number, received: number): string {
  return received > 0 ? (share / received).toFixed(2) : '∞ (no time received yet)';
}

/**
 * Reasons per job id for the rows of `input` that `plan` did not place, and for jobs of `input.previous` that
 * `plan` did not keep on their GPUs. Uses the ledger as it was when the plan was made: call it before the ledger is
 * credited for the round. Computes every reason: a live server uses `roundExplainer`, which computes only those asked.
 */
export function explainRound(input: MechanismInput, plan: RoundPlan): Map<string, RowWhy> {
  const ex = roundExplainer(input, plan);
  const out = new Map<string, RowWhy>(ex.changed);
  for (const id of ex.waiting) if (!out.has(id)) out.set(id, ex.reason(id)!);
  return out;
}

/**
 * The same reasons, computed on demand: `changed` (jobs preempted or moved: at most one per GPU) at once, a waiting
 * job's reason on its first `reason(id)` call. With 10,000 queued jobs every reason at once costs hundreds of ms of
 * the server's event loop each round, and a person reads a few of them. What a later call needs of the ledger is
 * copied now (per-row arrays are never changed in place, so the copy is of the map only), so reasons asked for
 * after the round was credited still describe the plan as it was made.
 */
export function roundExplainer(input: MechanismInput, plan: RoundPlan): RowExplainer {
  const { cluster, allocation } = input;
  const rows = input.rows.slice();
  const types = cluster.gpuTypes;
  const jobTime = new Map(input.ledger.jobTime);
  const ledgerTypes = input.ledger.gpuTypes;
  const workerTime = input.ledger.workerTime.slice();
  const placedBy = new Map<string, Assignment>();
  for (const a of plan.assignments) for (const j of a.jobIds) placedBy.set(j, a);
  const assignedKeys = new Set(plan.assignments.map((a) => keyOf(a.jobIds)));
  const ledgerIdx = types.map((t) => ledgerTypes.indexOf(t));
  const allocIdx = types.map((t) => (allocation ? allocation.gpuTypes.indexOf(t) : -1));

  const received = (key: RowKey, k: number): number => {
    const li = ledgerIdx[k]!;
    const wt = li >= 0 ? workerTime[li]! : 0;
    const t = li >= 0 ? jobTime.get(key)?.[li] : undefined;
    return wt > 0 && t !== undefined ? t / wt : 0;
  };
  const share = (key: RowKey, k: number): number => {
    const x = allocation?.shares.get(key);
    const ai = allocIdx[k]!;
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
  type Placed = { id: string; key: RowKey; r: number; gpus: number; gpusBefore: number };
  const byType = new Map<number, Placed[]>();
  /** Keys of the plan's assignments that are rows of `input` (filled by the pass over the rows below). */
  const placedRows = new Set<RowKey>();
  const placedOn = (k: number): Placed[] => {
    let list = byType.get(k);
    if (list) return list;
    const t = types[k]!;
    const tagged = plan.assignments
      .map((a, idx) => ({ a, idx, key: keyOf(a.jobIds) }))
      .filter((x) => x.a.gpuType === t && placedRows.has(x.key))
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

  const whyWaiting = (row: MechanismInput['rows'][number]): RowWhy => {
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
    // Rows placed ahead of it on this type (rank >= its own): a prefix of the type's placed rows sorted by rank
    // (sorted once per type), found by bisection.
    const placed = placedOn(k);
    let lo = 0;
    let hi = placed.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (placed[mid]!.r >= mine) lo = mid + 1;
      else hi = mid;
    }
    const n = lo;
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

  // One pass over the rows, without computing any reason: which jobs changed GPUs, which wait, and in which row.
  const changed = new Map<string, RowWhy>();
  const waiting: string[] = [];
  const rowOf = new Map<string, number>();
  const prevJobs = new Map<string, Assignment>();
  for (const a of input.previous) for (const j of a.jobIds) prevJobs.set(j, a);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    let anyPlaced = false;
    for (const j of row.jobIds) if (placedBy.has(j)) anyPlaced = true;
    if (anyPlaced && assignedKeys.has(row.key)) placedRows.add(row.key);
    for (const j of row.jobIds) {
      const before = prevJobs.get(j);
      const now = placedBy.get(j);
      if (now && now.leaseExtended) continue;
      if (now && !before) continue;
      if (changed.has(j) || rowOf.has(j)) continue;
      if (before && now) {
        changed.set(j, {
          kind: 'moved',
          gpuType: now.gpuType,
          text:
            before.gpuType === now.gpuType
              ? `in round ${plan.round} moved to other ${now.gpuType} GPUs (restarted from its checkpoint)`
              : `in round ${plan.round} moved from ${before.gpuType} to ${now.gpuType}, where it stood higher in the queue (restarted from its checkpoint)`,
        });
        continue;
      }
      if (anyPlaced) continue; // a pair partner of a placed job
      if (before) {
        const w = whyWaiting(row);
        changed.set(j, { kind: 'preempted', ...(w.gpuType ? { gpuType: w.gpuType } : {}), text: `preempted in round ${plan.round}: ${w.text}` });
      } else {
        rowOf.set(j, i);
        waiting.push(j);
      }
    }
  }
  const memo = new Map<string, RowWhy>();
  return {
    changed,
    waiting,
    reason(jobId: string): RowWhy | undefined {
      const c = changed.get(jobId);
      if (c) return c.kind === 'moved' ? undefined : c;
      let w = memo.get(jobId);
      if (w) return w;
      const i = rowOf.get(jobId);
      if (i === undefined) return undefined;
      w = whyWaiting(rows[i]!);
      memo.set(jobId, w);
      return w;
    },
  };
}

function keyOf(jobIds: readonly string[]): RowKey {
  return jobIds.length === 2 ? pairKey(jobIds[0]!, jobIds[1]!) : jobIds.join('+');
}
