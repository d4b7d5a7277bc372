/**
 * An incremental form of the planner's per-type queues, for rounds with thousands of queued jobs.
 *
 * `planRound` orders the rows of each GPU type by (priority, deficit, share) descending, then row order, and the
 * plain way recomputes every row's keys every round: O(queued rows) per round, most of a saturated simulation. But
 * within one accounting period (between two resets of the ledger, which come with every new allocation) most rows
 * have not run yet: their received time is still the seed, so their priority on type k depends only on their share
 * x_k (and on the type's total worker time, common to all). Rows with equal x_k form a group whose members all have
 * the same priority and share; inside it, Gavel's order is (deficit desc, row order), and deficits do not change
 * within a period. So each group is a heap kept across rounds, and a round merges the groups' heads with the rows
 * that did run this period ("solo" rows, whose keys are computed as before) by the same comparison the plain queue
 * uses. A k-way merge of streams that are each sorted by the global order yields the global order, so the picks are
 * the same row for row; a round costs O(groups + solo rows + picks x log rows). Space-sharing pair rows are rows
 * like any other; a row is skipped once one of its jobs is picked.
 *
 * The index is a cache: `planRound` gives the same plan with or without it (tested). It rebuilds itself when the
 * allocation, the ledger object (a reset) or the cluster's types change, and follows arrivals and departures by
 * walking the new row list against the old one (between two allocations rows only leave, and arrivals come last).
 * It declines (the planner falls back to the plain queues) below `minRows` rows, for a ledger without its `credited`
 * log (a restored state), and for accounting periods whose rows hardly group (space-sharing runs, where most rows are
 * pairs with a share per pair of job classes).
 */
import type { Allocation, GpuType, RowKey } from '../model/index.js';
import { BinaryHeap } from './heap.js';
import type { ShareLedger } from './ledger.js';

/** Gavel: `new_priority = allocation * 1e9` when the row has no credited fraction yet. */
export const UNSEEN_PRIORITY_SCALE = 1e9;

/**
 * Priority of a row with share `xk` > 0 on a type, having received `time` seconds there out of the type's `wt`
 * (`time` undefined: not in the ledger; `li` < 0: the ledger does not know the type). The one formula both queue
 * forms use, so that they compare identical numbers.
 */
export function priorityFor(xk: number, time: number | undefined, wt: number, li: number): number {
  const fraction = wt === 0 || time === undefined || li < 0 ? 0 : time / wt;
  return fraction > 0 ? xk / fraction : xk * UNSEEN_PRIORITY_SCALE;
}

/** What the index needs of a candidate row (a structural subset of `MechanismRow`). */
export interface IndexedRow {
  readonly key: RowKey;
  readonly jobIds: readonly string[];
  readonly scaleFactor: number;
  readonly throughput: readonly number[];
}

/**
 * Indexed rows live in slots (struct of arrays: a rebuild of tens of thousands of rows allocates a few arrays, not
 * objects per row). A slot number also orders rows: slots are handed out in row order and new rows come last.
 */
class Slots {
  rows: IndexedRow[] = [];
  /** Share and deficit per (slot, cluster type), row-major. */
  share: Float64Array;
  deficit: Float64Array;
  /** 1: the row left the list. */
  dead: Uint8Array;
  /** 1: received time differs from the seed (ran this period, or unknown); keys computed on their own. */
  solo: Uint8Array;
  /** `stamp` of the round that picked the row. */
  picked: Int32Array;

  constructor(
    readonly T: number,
    capacity: number,
  ) {
    const c = Math.max(16, capacity);
    this.share = new Float64Array(c * T);
    this.deficit = new Float64Array(c * T);
    this.dead = new Uint8Array(c);
    this.solo = new Uint8Array(c);
    this.picked = new Int32Array(c);
  }

  /** A new slot (its arrays grown when full). */
  add(row: IndexedRow): number {
    const i = this.rows.length;
    if (i === this.dead.length) {
      const grow = <A extends Float64Array | Uint8Array | Int32Array>(a: A, n: number): A => {
        const b = new (a.constructor as new (n: number) => A)(n);
        b.set(a);
        return b;
      };
      const c = 2 * i;
      this.share = grow(this.share, c * this.T);
      this.deficit = grow(this.deficit, c * this.T);
      this.dead = grow(this.dead, c);
      this.solo = grow(this.solo, c);
      this.picked = grow(this.picked, c);
    }
    this.rows.push(row);
    return i;
  }
}

/** Slots of one type with one share value and the seeded received time, by (deficit desc, slot asc). */
class Group extends BinaryHeap<number> {
  constructor(
    readonly share: number,
    private readonly k: number,
    private readonly slots: Slots,
  ) {
    super();
  }

  protected before(a: number, b: number): boolean {
    const T = this.slots.T;
    const d = this.slots.deficit;
    const da = d[a * T + this.k]!;
    const db = d[b * T + this.k]!;
    return da !== db ? da > db : a < b;
  }

  /** The first live, non-solo slot (dropping the others for good: they never come back before a rebuild). */
  top(): number | undefined {
    const h = this.items;
    const { dead, solo } = this.slots;
    while (h.length > 0 && (dead[h[0]!] === 1 || solo[h[0]!] === 1)) this.pop();
    return h[0];
  }
}

/** A merge stream: a group (its head) or one solo row, with its current keys on the type being walked. */
interface Stream {
  slot: number;
  readonly group: Group | undefined;
  readonly priority: number;
  readonly share: number;
}

export interface IndexedRound {
  readonly rows: readonly IndexedRow[];
  readonly allocation: Allocation | undefined;
  readonly ledger: ShareLedger;
  readonly gpuTypes: readonly GpuType[];
  readonly roundDuration: number;
}

export class QueueIndex {
  private allocation: Allocation | undefined | null = null;
  private ledger: ShareLedger | undefined;
  private typesKey = '';
  private seed = NaN;
  private rows: readonly IndexedRow[] = [];
  private slots = new Slots(0, 0);
  /** Live slots, in row order (aligned with `rows`). */
  private live: number[] = [];
  private readonly byKey = new Map<RowKey, number>();
  /** Per type: groups by share. */
  private groups: Map<number, Group>[] = [];
  private solos: number[] = [];
  private creditedSeen = 0;
  private dead = 0;
  private readonly scaleCount = new Map<number, number>();
  /** Indexed rows with more than one job (space-sharing pairs): picks then check every job of a row. */
  private pairs = 0;
  private stamp = 0;
  // Ledger and allocation columns of each cluster type (-1 where they lack it).
  private ledgerIdx: number[] = [];
  private allocIdx: number[] = [];
  /** The allocation row of the last row entered and its group per type (see `enter`). */
  private lastShares: readonly number[] | undefined | null = null;
  private lastGroups: (Group | undefined)[] = [];
  /** The accounting period (allocation and ledger) in which the index stays idle, and how many more after it. */
  private idle: { readonly allocation: Allocation | undefined; readonly ledger: ShareLedger } | undefined;
  private skipPeriods = 0;
  /** Times the index was rebuilt (tests, profiling). */
  rebuilds = 0;
  /**
   * Below this many rows the plain queues are cheaper than keeping the index (a rebuild at every reset, solo rows
   * for every row that ran): `sync` declines.
   */
  readonly minRows: number;

  /** Idle through periods whose rows hardly group (default true; tests of the index itself turn it off). */
  readonly idleWhenSparse: boolean;

  constructor(opts: { minRows?: number; idleWhenSparse?: boolean } = {}) {
    this.minRows = opts.minRows ?? 1024;
    this.idleWhenSparse = opts.idleWhenSparse ?? true;
  }

  /**
   * Brings the index up to date with a round's input; false when it cannot serve it (the caller then uses the
   * plain queues): fewer than `minRows` rows, or a ledger without its `credited` log (a restored state, until its
   * next reset). Declining keeps the index's state: the next sync checks it against the round as always.
   */
  sync(input: IndexedRound): boolean {
    const { ledger } = input;
    const credited = ledger.credited;
    if (!credited || input.rows.length < this.minRows) return false;
    if (this.idle) {
      if (input.allocation === this.idle.allocation && ledger === this.idle.ledger) return false;
      if (this.skipPeriods > 0) {
        this.skipPeriods--;
        this.idle = { allocation: input.allocation, ledger };
        return false;
      }
      this.idle = undefined;
      this.allocation = null; // stale: rebuild
    }
    const typesKey = input.gpuTypes.join('\n');
    if (
      input.allocation !== this.allocation ||
      ledger !== this.ledger ||
      typesKey !== this.typesKey ||
      input.roundDuration / 2 !== this.seed ||
      (input.rows !== this.rows && !this.follow(input.rows)) ||
      this.dead > this.live.length
    ) {
      this.rebuild(input, typesKey);
      // Rows that hardly group (space-sharing pair rows: one share per pair of job classes) make the index cost more
      // than the plain queues: leave it idle for this accounting period and the next few.
      let groups = 0;
      for (const byShare of this.groups) groups += byShare.size;
      if (this.idleWhenSparse && groups * 8 > this.live.length * input.gpuTypes.length) {
        this.idle = { allocation: input.allocation, ledger };
        this.skipPeriods = 7;
        this.allocation = null;
        return false;
      }
      return true;
    }
    const solo = this.slots.solo;
    for (; this.creditedSeen < credited.length; this.creditedSeen++) {
      const e = this.byKey.get(credited[this.creditedSeen]!);
      if (e !== undefined && solo[e] === 0) {
        solo[e] = 1;
        this.solos.push(e);
      }
    }
    return true;
  }

  private rebuild(input: IndexedRound, typesKey: string): void {
    this.rebuilds++;
    const { ledger, allocation, gpuTypes } = input;
    this.allocation = allocation;
    this.ledger = ledger;
    this.typesKey = typesKey;
    this.seed = input.roundDuration / 2;
    this.ledgerIdx = gpuTypes.map((t) => ledger.gpuTypes.indexOf(t));
    this.allocIdx = allocation ? gpuTypes.map((t) => allocation.gpuTypes.indexOf(t)) : gpuTypes.map(() => -1);
    this.rows = input.rows;
    this.slots = new Slots(gpuTypes.length, input.rows.length + (input.rows.length >> 2));
    this.live = [];
    this.byKey.clear();
    this.groups = gpuTypes.map(() => new Map());
    this.lastShares = null;
    this.lastGroups = gpuTypes.map(() => undefined);
    this.solos = [];
    this.dead = 0;
    this.pairs = 0;
    this.scaleCount.clear();
    for (const row of input.rows) this.live.push(this.enter(row, false));
    for (const byShare of this.groups) for (const g of byShare.values()) g.heapify();
    this.creditedSeen = ledger.credited?.length ?? 0;
  }

  /** Indexes a row: its share and deficit now, and whether its received time is still the seed. */
  private enter(row: IndexedRow, sift: boolean): number {
    const T = this.ledgerIdx.length;
    const ledger = this.ledger!;
    const slots = this.slots;
    const e = slots.add(row);
    const share = slots.share;
    const deficit = slots.deficit;
    const x = this.allocation?.shares.get(row.key);
    const d = ledger.deficits.get(row.key);
    const times = ledger.jobTime.get(row.key);
    let solo = times === undefined;
    for (let k = 0; k < T; k++) {
      const li = this.ledgerIdx[k]!;
      const ai = this.allocIdx[k]!;
      share[e * T + k] = x && ai >= 0 ? x[ai]! : 0;
      deficit[e * T + k] = d && li >= 0 ? d[li]! : 0;
      if (times && li >= 0 && times[li] !== this.seed) solo = true;
    }
    this.byKey.set(row.key, e);
    if (row.jobIds.length > 1) this.pairs++;
    this.scaleCount.set(row.scaleFactor, (this.scaleCount.get(row.scaleFactor) ?? 0) + 1);
    if (solo) {
      slots.solo[e] = 1;
      this.solos.push(e);
      return e;
    }
    // Jobs of one class usually share their allocation row: remember the groups of the last row seen.
    if (x !== this.lastShares || this.lastShares === null) {
      this.lastShares = x;
      this.lastGroups.fill(undefined);
    }
    for (let k = 0; k < T; k++) {
      if (!(row.throughput[k]! > 0)) continue;
      let g = this.lastGroups[k];
      if (!g) {
        const xk = share[e * T + k]!;
        const byShare = this.groups[k]!;
        g = byShare.get(xk);
        if (!g) byShare.set(xk, (g = new Group(xk, k, slots)));
        this.lastGroups[k] = g;
      }
      if (sift) g.push(e);
      else g.append(e);
    }
    return e;
  }

  private leave(e: number): void {
    const row = this.slots.rows[e]!;
    this.slots.dead[e] = 1;
    this.dead++;
    this.byKey.delete(row.key);
    if (row.jobIds.length > 1) this.pairs--;
    const n = this.scaleCount.get(row.scaleFactor)! - 1;
    if (n === 0) this.scaleCount.delete(row.scaleFactor);
    else this.scaleCount.set(row.scaleFactor, n);
  }

  /**
   * Follows a new row list: rows that left are marked dead, new rows (appended, as arrivals are) enter. False when
   * the new list is not the old one minus some rows plus rows at its end (the index then rebuilds).
   */
  private follow(rows: readonly IndexedRow[]): boolean {
    const old = this.live;
    const slotRows = this.slots.rows;
    const kept: number[] = [];
    let i = 0;
    let appended = false;
    for (const row of rows) {
      if (i < old.length && slotRows[old[i]!] === row) {
        if (appended) return false;
        kept.push(old[i++]!);
        continue;
      }
      const e = this.byKey.get(row.key);
      if (e !== undefined && slotRows[e] === row) {
        if (appended) return false;
        // Rows between the old position and this one left.
        while (i < old.length && old[i] !== e) this.leave(old[i++]!);
        if (i === old.length) return false;
        kept.push(old[i++]!);
        continue;
      }
      if (e !== undefined) return false;
      appended = true;
      kept.push(this.enter(row, true));
    }
    while (i < old.length) this.leave(old[i++]!);
    this.live = kept;
    this.rows = rows;
    return true;
  }

  /** Smallest gang among the rows. */
  minScale(): number {
    let m = Infinity;
    for (const s of this.scaleCount.keys()) if (s < m) m = s;
    return m;
  }

  /** Rows of the list whose key is in `keys` (lease-extension opportunities). */
  countKeys(keys: Iterable<RowKey>): number {
    let n = 0;
    for (const k of keys) if (this.byKey.has(k)) n++;
    return n;
  }

  /**
   * Gavel's pick walk over the indexed rows (see `planRound`): for each type of `typeOrder`, rows in queue order,
   * each picked for the first type where it fits and is not yet picked. Returns the picked rows per cluster type.
   */
  pick(typeOrder: readonly number[], left: number[], skipZeroPriority: boolean): IndexedRow[][] {
    const stamp = ++this.stamp;
    const ledger = this.ledger!;
    const slots = this.slots;
    const { T, rows, share, dead, solo, picked } = slots;
    const scheduled: IndexedRow[][] = Array.from({ length: T }, () => []);
    const minScale = this.minScale();
    // With pair rows a row is taken when any of its jobs is; without, when the row itself is (a stamp per slot).
    const pickedJobs = this.pairs > 0 ? new Set<string>() : undefined;
    if (this.solos.some((e) => dead[e] === 1)) this.solos = this.solos.filter((e) => dead[e] === 0);
    for (const k of typeOrder) {
      if (left[k]! < minScale) continue;
      const li = this.ledgerIdx[k]!;
      const wt = li >= 0 ? ledger.workerTime[li]! : 0;
      const streams: Stream[] = [];
      // A group whose priority rules its rows out (FIFO's zero priority) is left out whole: its rows share it.
      for (const g of this.groups[k]!.values()) {
        const priority = g.share === 0 ? 0 : priorityFor(g.share, this.seed, wt, li);
        if (skipZeroPriority && priority <= 0) continue;
        const head = g.top();
        if (head === undefined) continue;
        streams.push({ slot: head, group: g, priority, share: g.share });
      }
      for (const e of this.solos) {
        const row = rows[e]!;
        if (!(row.throughput[k]! > 0) || row.scaleFactor > left[k]!) continue;
        const xk = share[e * T + k]!;
        const priority = xk === 0 ? 0 : priorityFor(xk, li >= 0 ? ledger.jobTime.get(row.key)?.[li] : undefined, wt, li);
        if (skipZeroPriority && priority <= 0) continue;
        streams.push({ slot: e, group: undefined, priority, share: xk });
      }
      const heap = new StreamHeap(streams, k, slots);
      const popped: number[] = [];
      while (left[k]! >= minScale) {
        const s = heap.peek();
        if (!s) break;
        const e = s.slot;
        const row = rows[e]!;
        if (s.group) {
          s.group.pop();
          popped.push(e);
          const next = s.group.top();
          if (next !== undefined) {
            s.slot = next;
            heap.fixTop();
          } else heap.pop();
        } else heap.pop();
        if (pickedJobs ? row.jobIds.some((j) => pickedJobs.has(j)) : picked[e] === stamp) continue;
        if (row.scaleFactor > left[k]!) continue;
        left[k]! -= row.scaleFactor;
        picked[e] = stamp;
        if (pickedJobs) for (const j of row.jobIds) pickedJobs.add(j);
        scheduled[k]!.push(row);
      }
      // Popped group members stay members (their keys did not change); a picked row that runs becomes solo next round.
      const byShare = this.groups[k]!;
      for (const e of popped) if (dead[e] === 0 && solo[e] === 0) byShare.get(share[e * T + k]!)!.push(e);
    }
    return scheduled;
  }
}

/** Max-heap of streams by their head's keys: (priority, deficit, share) descending, then row order. */
class StreamHeap extends BinaryHeap<Stream> {
  constructor(
    streams: Stream[],
    private readonly k: number,
    private readonly slots: Slots,
  ) {
    super(streams);
    this.heapify();
  }

  protected before(a: Stream, b: Stream): boolean {
    if (a.priority !== b.priority) return a.priority > b.priority;
    const T = this.slots.T;
    const d = this.slots.deficit;
    const da = d[a.slot * T + this.k]!;
    const db = d[b.slot * T + this.k]!;
    if (da !== db) return da > db;
    if (a.share !== b.share) return a.share > b.share;
    return a.slot < b.slot;
  }
}
