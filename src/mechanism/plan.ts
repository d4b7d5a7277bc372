/**
 * Gavel's round planner (section 4; scheduler.py `_update_priorities`, `_schedule_jobs_on_workers_helper`,
 * `_schedule_jobs_on_workers`, `_assign_workers_to_job`), as a pure function from a snapshot to a RoundPlan.
 *
 * 1. Priority of (row, type k) = X[row][k] / (fraction of type-k time the row received since the last reset).
 *    A row with a share but no credited time gets share x 1e9 (finite, so ordering among such rows still follows
 *    the share). Rows absent from the allocation, or with zero share or zero throughput on k, get 0.
 * 2. For each type in `typeOrder`, rows sorted by (priority, deficit, share) descending (stable: ties keep row
 *    order, i.e. arrival order); the per-type queues are concatenated and walked once: a row is picked for the first
 *    type where it fits (all `scaleFactor` GPUs of one type, gang-scheduled) and is not yet picked.
 * 3. Placement per type, largest gangs first: a row that ran on this type last round keeps exactly its GPUs when
 *    they are still free (lease extension); others are placed by the fragmentation rule of `FreeGpus` (best-fitting
 *    single server, else spread over the emptiest servers; with one GPU per server, Gavel's strided walk).
 *
 * Rows are single jobs or space-sharing pairs (Gavel's job combinations): a pair is one candidate with its own share,
 * received time and deficit, gang-scheduled on `scaleFactor` GPUs of one type that both jobs share. A job is in at
 * most one assignment per round: once a row is picked, every other row containing one of its jobs is skipped.
 */
import { rowKeyOf, type Allocation, type Assignment, type ClusterSpec, type GpuType, type RoundPlan, type RowKey } from '../model/index.js';
import { BinaryHeap } from './heap.js';
import type { ShareLedger } from './ledger.js';
import { explainRound, roundExplainer } from './explain.js';
import { priorityFor, type QueueIndex } from './queue-index.js';
import { samePlacement, withinBudget, type BudgetPlacer } from './budget.js';

/** A candidate for this round: a single job (key = job id) or a space-sharing pair (key = `pairKey(a, b)`). */
export interface MechanismRow {
  readonly key: RowKey;
  readonly jobIds: readonly string[];
  /** GPUs the gang needs (for a pair: the common scale factor). */
  readonly scaleFactor: number;
  /** Throughput per `cluster.gpuTypes`; <= 0 means the row cannot run on that type (a pair: either job). */
  readonly throughput: readonly number[];
}

export interface MechanismInput {
  readonly round: number;
  readonly now: number;
  readonly roundDuration: number;
  readonly cluster: ClusterSpec;
  /** Active rows in arrival order; this order breaks priority ties. */
  readonly rows: readonly MechanismRow[];
  /** Current allocation; rows without a share in it are not placed (Gavel: they wait for the next recompute). */
  readonly allocation: Allocation | undefined;
  readonly ledger: ShareLedger;
  /** Last round's placement (for lease extension). */
  readonly previous: readonly Assignment[];
  /** Order in which per-type queues are walked; default `cluster.gpuTypes`. */
  readonly typeOrder?: readonly GpuType[];
  /** FIFO policies: never pick a row with priority 0 (Gavel does this for policies named FIFO*). */
  readonly skipZeroPriority?: boolean;
  /**
   * The caller's index of the queues, kept from round to round (see `QueueIndex`): same plan, much less work per
   * round when thousands of rows wait.
   */
  readonly index?: QueueIndex;
  /**
   * The change budget: at most this many jobs whose placement the round changes (start, stop or move; see
   * budget.ts). Undefined: no limit (Gavel's mechanism as is).
   */
  readonly maxChanges?: number;
}

export interface MechanismOutput {
  readonly plan: RoundPlan;
  /**
   * Priority of a row per `cluster.gpuTypes` (for logs and tests); undefined for unknown rows. Computed from the
   * ledger as it is at the first call: call it before the ledger is credited for the round.
   */
  readonly priorityOf: (key: RowKey) => readonly number[] | undefined;
  /** Rows that ran last round and are still candidates (lease-extension opportunities). */
  readonly leaseOpportunities: number;
  readonly leaseExtensions: number;
  /** With `maxChanges`: the jobs whose placement this plan changes. */
  readonly changes?: number;
}

/** Per row and type (flat, row-major): priority, deficit and share, the three sort keys of Gavel's queues. */
interface RowTables {
  readonly priority: Float64Array;
  readonly deficit: Float64Array;
  readonly share: Float64Array;
}

function rowTables(
  rows: readonly MechanismRow[],
  allocation: Allocation | undefined,
  ledger: ShareLedger,
  gpuTypes: readonly GpuType[],
): RowTables {
  const T = gpuTypes.length;
  const priority = new Float64Array(rows.length * T);
  const deficit = new Float64Array(rows.length * T);
  const share = new Float64Array(rows.length * T);
  const ledgerIdx = gpuTypes.map((t) => ledger.gpuTypes.indexOf(t));
  const allocIdx = allocation ? gpuTypes.map((t) => allocation.gpuTypes.indexOf(t)) : [];
  const workerTime = ledgerIdx.map((li) => (li >= 0 ? ledger.workerTime[li]! : 0));
  // Runs every round over every active row (tens of thousands when a queue builds up): locals, no closures.
  const shares = allocation?.shares;
  const jobTime = ledger.jobTime;
  const deficits = ledger.deficits;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const base = i * T;
    const d = deficits.get(row.key);
    if (d) {
      for (let k = 0; k < T; k++) {
        const li = ledgerIdx[k]!;
        if (li >= 0) deficit[base + k] = d[li]!;
      }
    }
    const x = shares?.get(row.key);
    if (!x) continue;
    const times = jobTime.get(row.key);
    for (let k = 0; k < T; k++) {
      const ai = allocIdx[k]!;
      const xk = ai >= 0 ? x[ai]! : 0;
      share[base + k] = xk;
      if (xk === 0 || !(row.throughput[k]! > 0)) continue;
      const li = ledgerIdx[k]!;
      priority[base + k] = priorityFor(xk, times && li >= 0 ? times[li] : undefined, workerTime[k]!, li);
    }
  }
  return { priority, deficit, share };
}

export function computePriorities(
  rows: readonly MechanismRow[],
  allocation: Allocation | undefined,
  ledger: ShareLedger,
  gpuTypes: readonly GpuType[],
): Map<RowKey, number[]> {
  const { priority } = rowTables(rows, allocation, ledger, gpuTypes);
  const T = gpuTypes.length;
  return new Map(rows.map((r, i) => [r.key, Array.from(priority.subarray(i * T, i * T + T))]));
}

/**
 * Rows of one type's queue in Gavel's order, produced lazily: (priority, deficit, share) descending, then row order
 * (Python's stable sort). A binary heap, so a round costs O(n + picks x log n) rather than a full sort per type.
 */
class TypeQueue extends BinaryHeap<number> {
  // This type's column of the row tables for the candidates only, contiguous (compared O(m) times per round).
  private readonly priority: Float64Array;
  private readonly deficit: Float64Array;
  private readonly share: Float64Array;

  /**
   * `candidates`: the row indices, ascending, that may still be picked on type k (the heap needs no others). The
   * heap holds positions in `candidates`; ascending positions are ascending rows, so the row-order tie-break
   * compares them.
   */
  constructor(
    private readonly candidates: readonly number[],
    k: number,
    T: number,
    t: RowTables,
  ) {
    const m = candidates.length;
    const positions: number[] = [];
    for (let c = 0; c < m; c++) positions.push(c);
    super(positions);
    this.priority = new Float64Array(m);
    this.deficit = new Float64Array(m);
    this.share = new Float64Array(m);
    for (let c = 0; c < m; c++) {
      const i = candidates[c]!;
      this.priority[c] = t.priority[i * T + k]!;
      this.deficit[c] = t.deficit[i * T + k]!;
      this.share[c] = t.share[i * T + k]!;
    }
    this.heapify();
  }

  /** True when candidate a comes before candidate b. */
  protected before(a: number, b: number): boolean {
    const pa = this.priority[a]!;
    const pb = this.priority[b]!;
    if (pa !== pb) return pa > pb;
    const da = this.deficit[a]!;
    const db = this.deficit[b]!;
    if (da !== db) return da > db;
    const sa = this.share[a]!;
    const sb = this.share[b]!;
    if (sa !== sb) return sa > sb;
    return a < b;
  }

  /** The next row index in queue order. */
  next(): number | undefined {
    const c = this.pop();
    return c === undefined ? undefined : this.candidates[c];
  }
}

function anyPicked(jobIds: readonly string[], picked: ReadonlySet<string>): boolean {
  for (let j = 0; j < jobIds.length; j++) if (picked.has(jobIds[j]!)) return true;
  return false;
}

export function planRound(input: MechanismInput): MechanismOutput {
  const { cluster, rows, allocation, ledger } = input;
  const types = cluster.gpuTypes;
  const T = types.length;
  const typeOrder = (input.typeOrder ?? types).filter((t) => types.includes(t));
  // Computed on demand: the indexed walk below does not need them (only `priorityOf` does).
  let tables: RowTables | undefined;
  const tablesNow = (): RowTables => (tables ??= rowTables(rows, allocation, ledger, types));

  // 2. Pick rows: walk each type's queue in `typeOrder` (Gavel concatenates the sorted per-type queues).
  const left = types.map((t) => cluster.gpus[t] ?? 0);
  const index = input.index?.sync({ rows, allocation, ledger, gpuTypes: types, roundDuration: input.roundDuration }) ? input.index : undefined;
  let scheduled: MechanismRow[][];
  if (index) {
    scheduled = index.pick(
      typeOrder.map((t) => types.indexOf(t)),
      left,
      !!input.skipZeroPriority,
    ) as MechanismRow[][];
  } else {
    const t = tablesNow();
    // Without pair rows every job has exactly one row, so "one of its jobs is picked" is "this row is picked": a
    // flag per row instead of set look-ups by job id over every queued row.
    const hasPairs = rows.some((r) => r.jobIds.length > 1);
    const minScale = rows.reduce((m, r) => Math.min(m, r.scaleFactor), Infinity);
    const picked = new Set<string>();
    const pickedRow = new Uint8Array(rows.length);
    const taken = (i: number): boolean => (hasPairs ? anyPicked(rows[i]!.jobIds, picked) : pickedRow[i] === 1);
    scheduled = types.map(() => []);
    for (const ty of typeOrder) {
      const k = types.indexOf(ty);
      if (left[k]! < minScale) continue;
      // Rows the walk below would skip whatever their place in the queue stay out of it: picked only grows, left
      // only shrinks, throughputs and priorities are fixed. The queue orders the rest exactly as it would order all.
      const candidates: number[] = [];
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        if (!(row.throughput[k]! > 0) || row.scaleFactor > left[k]!) continue;
        if (input.skipZeroPriority && t.priority[i * T + k]! <= 0) continue;
        if (picked.size > 0 && taken(i)) continue;
        candidates.push(i);
      }
      const q = new TypeQueue(candidates, k, T, t);
      for (let i = q.next(); i !== undefined && left[k]! >= minScale; i = q.next()) {
        const row = rows[i]!;
        if (taken(i)) continue;
        if (row.scaleFactor > left[k]!) continue;
        left[k]! -= row.scaleFactor;
        for (const j of row.jobIds) picked.add(j);
        pickedRow[i] = 1;
        scheduled[k]!.push(row);
      }
    }
  }

  // 3. Place on GPUs.
  const prevByKey = new Map<string, Assignment>();
  for (const a of input.previous) prevByKey.set(rowKeyOf(a.jobIds), a);
  const assignments: Assignment[] = [];
  let leaseExtensions = 0;
  for (const t of typeOrder) {
    const k = types.indexOf(t);
    const jobs = scheduled[k]!;
    if (jobs.length === 0) continue;
    const free = new FreeGpus(serverLayout(cluster, t));
    const placed = new Map<string, { gpus: number[]; extended: boolean }>();
    const sizes = [...new Set(jobs.map((e) => e.scaleFactor))].sort((a, b) => b - a);
    for (const size of sizes) {
      const group = jobs.filter((e) => e.scaleFactor === size);
      // Keep rows on last round's GPUs where possible.
      for (const e of group) {
        const prev = prevByKey.get(e.key);
        if (!prev || prev.gpuType !== t || !free.allFree(prev.gpus)) continue;
        free.takeExactly(prev.gpus);
        placed.set(e.key, { gpus: [...prev.gpus], extended: true });
      }
      for (const e of group) {
        if (placed.has(e.key)) continue;
        // A row without a share in the allocation holds its slot this round but is not started (Gavel).
        if (!allocation?.shares.has(e.key)) continue;
        const got = free.take(size);
        if (!got) throw new Error(`mechanism: could not place ${e.key} on ${size} ${t} GPUs`);
        placed.set(e.key, { gpus: got, extended: false });
      }
    }
    const serverOf = free.layout.serverOf;
    for (const e of jobs) {
      const p = placed.get(e.key);
      if (!p) continue;
      const prev = prevByKey.get(e.key);
      const same = !!prev && samePlacement(prev, { gpuType: t, gpus: p.gpus });
      if (same) leaseExtensions++;
      const srv = new Set(p.gpus.map((g) => serverOf.get(g)));
      assignments.push({
        jobIds: e.jobIds,
        gpuType: t,
        gpus: p.gpus,
        consolidated: srv.size === 1,
        leaseExtended: same,
      });
    }
  }
  let changes: number | undefined;
  let limited = false;
  if (input.maxChanges !== undefined) {
    const b = withinBudget(input.maxChanges, cluster, rows, input.previous, assignments, budgetPlacer(cluster));
    changes = b.changes;
    limited = b.limited;
    if (b.assignments !== assignments) {
      assignments.splice(0, assignments.length, ...b.assignments);
      leaseExtensions = assignments.filter((a) => a.leaseExtended).length;
    }
  }
  let leaseOpportunities = 0;
  if (index) leaseOpportunities = index.countKeys(prevByKey.keys());
  else if (prevByKey.size > 0) for (const r of rows) if (prevByKey.has(r.key)) leaseOpportunities++;
  let position: Map<RowKey, number> | undefined;
  const priorityOf = (key: RowKey): readonly number[] | undefined => {
    position ??= new Map(rows.map((r, i) => [r.key, i]));
    const i = position.get(key);
    return i === undefined ? undefined : Array.from(tablesNow().priority.subarray(i * T, i * T + T));
  };
  const plan: RoundPlan = { round: input.round, start: input.now, duration: input.roundDuration, assignments, ...(limited ? { budgetLimited: true } : {}) };
  // Lazy and non-enumerable: a simulation never calls it, and plans compare and serialise as before.
  Object.defineProperty(plan, 'explain', { value: () => explainRound(input, plan), enumerable: false });
  Object.defineProperty(plan, 'explainer', { value: () => roundExplainer(input, plan), enumerable: false });
  return {
    plan,
    priorityOf,
    leaseOpportunities,
    leaseExtensions,
    ...(changes !== undefined ? { changes } : {}),
  };
}

/** Free-GPU tracking for the budget pass (budget.ts), with the same fragmentation rule as the plan's placement. */
function budgetPlacer(cluster: ClusterSpec): BudgetPlacer {
  const free = new Map<GpuType, FreeGpus>();
  return {
    serverOf: (t) => serverLayout(cluster, t).serverOf,
    take(t, size, used) {
      let f = free.get(t);
      if (!f) {
        f = new FreeGpus(serverLayout(cluster, t));
        f.takeExactly([...used].filter((g) => f!.layout.localOf.has(g)));
        free.set(t, f);
      }
      return f.take(size);
    },
  };
}

interface TypeLayout {
  readonly servers: ReadonlyArray<{ readonly id: number; readonly gpus: readonly number[] }>;
  /** Global GPU id -> cluster server id. */
  readonly serverOf: ReadonlyMap<number, number>;
  /** Global GPU id -> index in `servers`. */
  readonly localOf: ReadonlyMap<number, number>;
  /** Largest server of the type (GPUs). */
  readonly maxGpus: number;
}

/** Servers and GPU ids of one type, computed once per cluster (the cluster is immutable). */
const layouts = new WeakMap<ClusterSpec, Map<GpuType, TypeLayout>>();

function serverLayout(cluster: ClusterSpec, t: GpuType): TypeLayout {
  let byType = layouts.get(cluster);
  if (!byType) {
    byType = new Map();
    layouts.set(cluster, byType);
  }
  let l = byType.get(t);
  if (!l) {
    const servers = cluster.servers
      .filter((s) => s.gpuType === t)
      .map((s) => ({ id: s.id, gpus: Array.from({ length: s.gpus }, (_, i) => s.firstGpu + i) }));
    const serverOf = new Map<number, number>();
    const localOf = new Map<number, number>();
    servers.forEach((s, i) => {
      for (const g of s.gpus) {
        serverOf.set(g, s.id);
        localOf.set(g, i);
      }
    });
    l = { servers, serverOf, localOf, maxGpus: Math.max(0, ...servers.map((s) => s.gpus.length)) };
    byType.set(t, l);
  }
  return l;
}

/**
 * Free GPUs of one type during placement, and the fragmentation rule (docs/architecture.md, "Placement"):
 *
 * - A gang that fits on one server goes to the server with the FEWEST free GPUs that can still hold it (best fit;
 *   ties: lowest server id), so that large holes stay free for large gangs placed later. Gangs are placed largest
 *   first, so a 4-GPU gang is never pushed off a whole server by 1-GPU jobs of the same round.
 * - A gang that fits on no single server is spread: it takes the servers with the MOST free GPUs first (ties: lowest
 *   id), which spans the fewest servers possible.
 * - Within a server, the lowest free GPU ids.
 *
 * With one GPU per server (Gavel's simulated clusters) both rules reduce to "free GPUs in server order", Gavel's
 * strided walk. Servers are kept in buckets by free count (lazy-deleting min-heaps of server index), so a placement
 * costs O(GPUs per server + log servers), not a scan of the type's servers.
 */
class FreeGpus {
  private readonly freeCount: Int32Array;
  private readonly taken: Set<number> = new Set();
  /** buckets[f]: servers that had f free GPUs when pushed (stale entries are skipped). */
  private readonly buckets: MinHeap[];

  constructor(readonly layout: TypeLayout) {
    const n = layout.servers.length;
    this.freeCount = new Int32Array(n);
    this.buckets = Array.from({ length: layout.maxGpus + 1 }, () => new MinHeap());
    for (let i = 0; i < n; i++) {
      const f = layout.servers[i]!.gpus.length;
      this.freeCount[i] = f;
      this.buckets[f]!.push(i);
    }
  }

  allFree(gpus: readonly number[]): boolean {
    return gpus.every((g) => this.layout.localOf.has(g) && !this.taken.has(g));
  }

  takeExactly(gpus: readonly number[]): void {
    for (const g of gpus) this.takeOne(g);
  }

  /** Places a gang of `size` GPUs by the rule above; undefined when fewer than `size` are free. */
  take(size: number): number[] | undefined {
    const fit = this.bestFit(size);
    if (fit !== undefined) return this.fromServer(fit, size);
    const got: number[] = [];
    for (let f = Math.min(size - 1, this.layout.maxGpus); f >= 1 && got.length < size; f--) {
      for (let s = this.top(f); s !== undefined && got.length < size; s = this.top(f)) {
        got.push(...this.fromServer(s, Math.min(f, size - got.length)));
      }
    }
    if (got.length === size) return got;
    // Only reachable when the caller over-counted free GPUs; give them back so the state stays consistent.
    for (const g of got) this.untakeOne(g);
    return undefined;
  }

  private bestFit(size: number): number | undefined {
    for (let f = size; f <= this.layout.maxGpus; f++) {
      const s = this.top(f);
      if (s !== undefined) return s;
    }
    return undefined;
  }

  /** Lowest-index server whose current free count is f. */
  private top(f: number): number | undefined {
    const h = this.buckets[f]!;
    for (;;) {
      const s = h.peek();
      if (s === undefined || this.freeCount[s] === f) return s;
      h.pop();
    }
  }

  private fromServer(s: number, n: number): number[] {
    const got: number[] = [];
    for (const g of this.layout.servers[s]!.gpus) {
      if (got.length === n) break;
      if (!this.taken.has(g)) got.push(g);
    }
    for (const g of got) this.takeOne(g);
    return got;
  }

  private takeOne(g: number): void {
    const s = this.layout.localOf.get(g)!;
    this.taken.add(g);
    const f = --this.freeCount[s]!;
    this.buckets[f]!.push(s);
  }

  private untakeOne(g: number): void {
    const s = this.layout.localOf.get(g)!;
    this.taken.delete(g);
    const f = ++this.freeCount[s]!;
    this.buckets[f]!.push(s);
  }
}

/** Server indices, smallest first. */
class MinHeap extends BinaryHeap<number> {
  protected before(a: number, b: number): boolean {
    return a < b;
  }
}

