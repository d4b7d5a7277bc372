/**
 * The change budget (`maxChanges`): at most N jobs whose placement a round changes. On Kubernetes every change is API
 * writes (a stop = suspend; a start = patch + /status + Secret; plus Events), so an unbounded rotation of thousands
 * of time-shared jobs makes a round's last write come seconds after its start (docs/kubernetes.md, "Scale").
 *
 * A job's placement changes when it starts (it did not run last round), stops (it ran and is still active but gets
 * no GPUs) or moves (other type or GPUs). A job that keeps its type and GPUs is free, and so are jobs that finished
 * or were cancelled (they are not among the rows): their GPUs are simply free.
 *
 * The rule, as a pass over the unbudgeted plan: every running job starts out keeping its placement. The plan's
 * assignments are then walked in the mechanism's own order (types in walk order, rows in pick order within a type);
 * each one that differs from what runs is applied when its cost (its jobs that change, plus the running jobs on the
 * GPUs it needs, which stop) still fits the budget. One that does not fit is skipped: a running row keeps its
 * placement, and a waiting row may still take GPUs that are free now (cost: its jobs). Every GPU used is either the
 * plan's (applied only after its occupants stop), a running job's own, or a free one, so capacity is never exceeded,
 * and gangs are placed whole or not at all.
 *
 * The budget is per plan, and backfill plans (src/engine/backfill.ts: partial plans on free GPUs between rounds)
 * are plans too: each starts at most N jobs. A plan the budget cut that places something and leaves GPUs free is
 * marked (`RoundPlan.budgetLimited`), and the engine's backfill phase follows it with another partial plan, so a
 * cluster with thousands of free GPUs fills at N starts a plan within one round. Why per plan and not a per-round
 * remainder: the budget bounds the burst of API writes one plan causes (from its start to its last write) and the
 * churn it causes; backfill starts are writes too, but stop nobody, so a remainder per round would only keep GPUs
 * idle (at start-up: for as many rounds as it takes N to cover the cluster) without bounding any burst better.
 */
import { rowKeyOf, type Assignment, type ClusterSpec, type GpuType } from '../model/index.js';

/** What the budget pass needs of the placement code in plan.ts (free-GPU tracking per type). */
export interface BudgetPlacer {
  /** Global GPU id -> server id of `t`'s GPUs (undefined for a GPU that is not of type t in the cluster). */
  serverOf(t: GpuType): ReadonlyMap<number, number>;
  /**
   * Takes `size` free GPUs of type t by the fragmentation rule; undefined when too few. `used` is read at the first
   * call for a type only: later calls for it see the GPUs in use then plus those it handed out since.
   */
  take(t: GpuType, size: number, used: ReadonlySet<number>): number[] | undefined;
}

interface BudgetResult {
  readonly assignments: Assignment[];
  /** Jobs whose placement changed (<= maxChanges). */
  readonly changes: number;
}

/** Jobs whose placement differs between `previous` and `next` (both restricted to jobs in `activeJobs`). */
export function countChanges(previous: readonly Assignment[], next: readonly Assignment[], activeJobs?: ReadonlySet<string>): number {
  const before = placementsByJob(previous);
  const after = placementsByJob(next);
  let n = 0;
  for (const [j, p] of after) if (before.get(j) !== p) n++;
  for (const j of before.keys()) if (!after.has(j) && (!activeJobs || activeJobs.has(j))) n++;
  return n;
}

function placementsByJob(as: readonly Assignment[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of as) {
    const p = `${a.gpuType}:${[...a.gpus].sort((x, y) => x - y).join(',')}`;
    for (const j of a.jobIds) m.set(j, p);
  }
  return m;
}

/** The plan itself when it changes at most `maxChanges` jobs, else the budgeted plan (the rule above). */
export function withinBudget(
  maxChanges: number,
  cluster: ClusterSpec,
  rows: readonly { readonly key: string; readonly jobIds: readonly string[] }[],
  previous: readonly Assignment[],
  planned: Assignment[],
  placer: BudgetPlacer,
): { assignments: Assignment[]; changes: number; limited: boolean } {
  const activeJobs = new Set<string>();
  for (const r of rows) for (const j of r.jobIds) activeJobs.add(j);
  const changes = countChanges(previous, planned, activeJobs);
  if (changes <= maxChanges) return { assignments: planned, changes, limited: false };
  const b = applyBudget(maxChanges, cluster, previous, planned, activeJobs, new Set(rows.map((r) => r.key)), placer);
  // Worth a follow-up plan only when this one places something (else the next would be cut the same way: a gang
  // larger than the budget) and GPUs stay free.
  let used = 0;
  for (const a of b.assignments) used += a.gpus.length;
  return { ...b, limited: b.assignments.length > 0 && used < cluster.totalGpus };
}

function applyBudget(
  maxChanges: number,
  cluster: ClusterSpec,
  previous: readonly Assignment[],
  planned: readonly Assignment[],
  activeJobs: ReadonlySet<string>,
  rowKeys: ReadonlySet<string>,
  placer: BudgetPlacer,
): BudgetResult {
  // What runs now: last round's assignments of rows whose jobs are all still active, on GPUs the cluster still has.
  // A row that is no candidate any more (a pair the allocation dropped) or lost its GPUs must stop: its active jobs
  // count as changes from the start (the only way a round can exceed the budget: when such stops alone do).
  const running = new Map<string, Assignment>();
  const gpuOwner = new Map<number, string>();
  const changed = new Set<string>();
  for (const a of previous) {
    const key = rowKeyOf(a.jobIds);
    const serverOf = placer.serverOf(a.gpuType);
    const stays = a.jobIds.every((j) => activeJobs.has(j)) && rowKeys.has(key) && a.gpus.every((g) => serverOf.has(g) && !gpuOwner.has(g));
    if (!stays) {
      for (const j of a.jobIds) if (activeJobs.has(j)) changed.add(j);
      continue;
    }
    running.set(key, a);
    for (const g of a.gpus) gpuOwner.set(g, key);
  }
  const placed = new Map<string, Assignment>();
  const jobRow = new Map<string, string>();
  for (const [key, a] of running) for (const j of a.jobIds) jobRow.set(j, key);
  const skipped: Assignment[] = [];

  for (const a of planned) {
    const key = rowKeyOf(a.jobIds);
    const cur = running.get(key);
    if (cur && samePlacement(cur, a)) continue; // kept: free
    // Rows that must stop: those on a GPU this assignment needs, and those holding one of its jobs in another row.
    const stop = new Set<string>();
    for (const g of a.gpus) {
      const o = gpuOwner.get(g);
      if (o !== undefined && o !== key) stop.add(o);
    }
    for (const j of a.jobIds) {
      const o = jobRow.get(j);
      if (o !== undefined && o !== key) stop.add(o);
    }
    const newlyChanged = new Set<string>();
    for (const j of a.jobIds) if (!changed.has(j)) newlyChanged.add(j);
    for (const o of stop) for (const j of (placed.get(o) ?? running.get(o))!.jobIds) if (!changed.has(j)) newlyChanged.add(j);
    if (changed.size + newlyChanged.size > maxChanges || [...stop].some((o) => placed.has(o))) {
      skipped.push(a);
      continue;
    }
    for (const o of stop) release(o);
    if (cur) release(key);
    for (const j of newlyChanged) changed.add(j);
    placed.set(key, a);
    running.set(key, a);
    for (const g of a.gpus) gpuOwner.set(g, key);
    for (const j of a.jobIds) jobRow.set(j, key);
  }

  // Skipped waiting rows may take GPUs that are free now, while the budget lasts (and the type's count allows: the
  // cluster may count fewer GPUs than its servers hold, e.g. GPUs held by pods Rondo does not manage).
  const used = new Set(gpuOwner.keys());
  const inUse = new Map<GpuType, number>();
  for (const r of running.values()) inUse.set(r.gpuType, (inUse.get(r.gpuType) ?? 0) + r.gpus.length);
  for (const a of skipped) {
    const key = rowKeyOf(a.jobIds);
    if (running.has(key) || a.jobIds.some((j) => jobRow.has(j))) continue;
    if (changed.size + a.jobIds.length > maxChanges) continue;
    const n = inUse.get(a.gpuType) ?? 0;
    if (n + a.gpus.length > (cluster.gpus[a.gpuType] ?? 0)) continue;
    const gpus = placer.take(a.gpuType, a.gpus.length, used);
    if (!gpus) continue;
    inUse.set(a.gpuType, n + gpus.length);
    for (const j of a.jobIds) {
      changed.add(j);
      jobRow.set(j, key);
    }
    // consolidated and leaseExtended are set when the row is emitted.
    const b: Assignment = { ...a, gpus };
    placed.set(key, b);
    running.set(key, b);
    for (const g of gpus) gpuOwner.set(g, key);
  }

  // The result: in the planned order for the rows of the plan, then the running rows kept against the plan.
  const out: Assignment[] = [];
  const emitted = new Set<string>();
  const emit = (key: string, a: Assignment, kept: boolean): void => {
    if (emitted.has(key)) return;
    emitted.add(key);
    const serverOf = placer.serverOf(a.gpuType);
    out.push({ ...a, consolidated: new Set(a.gpus.map((g) => serverOf.get(g))).size === 1, leaseExtended: kept });
  };
  const prevByKey = new Map(previous.map((p) => [rowKeyOf(p.jobIds), p]));
  for (const a of planned) {
    const key = rowKeyOf(a.jobIds);
    const r = running.get(key);
    if (!r) continue;
    const p = prevByKey.get(key);
    emit(key, r, !!p && samePlacement(p, r));
  }
  for (const [key, r] of running) {
    if (emitted.has(key)) continue;
    const p = prevByKey.get(key);
    emit(key, r, !!p && samePlacement(p, r));
  }
  return { assignments: out, changes: changed.size };

  function release(key: string): void {
    const r = running.get(key);
    if (!r) return;
    running.delete(key);
    placed.delete(key);
    for (const g of r.gpus) if (gpuOwner.get(g) === key) gpuOwner.delete(g);
    for (const j of r.jobIds) if (jobRow.get(j) === key) jobRow.delete(j);
  }
}

/** The same GPU type and the same GPUs, in any order: a lease that is extended rather than a change. */
export function samePlacement(a: { readonly gpuType: GpuType; readonly gpus: readonly number[] }, b: { readonly gpuType: GpuType; readonly gpus: readonly number[] }): boolean {
  if (a.gpuType !== b.gpuType || a.gpus.length !== b.gpus.length) return false;
  const s = new Set(a.gpus);
  return b.gpus.every((g) => s.has(g));
}
