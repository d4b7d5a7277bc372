/**
 * Which round's decision each admission or stop the API server received carries out, for `npm run bench:kube`.
 * By the plans in the store, not by arrival time: the driver acts on its leases' start and end a few ms ahead of the
 * stored round start (it dates a lease from when it sent the sync, before the server answered), so a time window
 * [start_i, start_i+1) would count round i+1's first writes as round i's last ones.
 *
 * - An admission carries out the plan row that created its attempt (the admit patch's `rondo.dev/attempt`; without
 *   one, its `rondo.dev/round`): a regular round or a backfill plan (a partial plan starting mid-round).
 * - A stop (a suspend) carries out the first regular round after the last plan row that held the attempt it ends
 *   (the Job's `rondo.dev/attempt` before the patch): that round's plan did not extend the lease.
 * Latency is arrival minus the row's start, negative for a write that came before it. A write no row explains is
 * returned as unattributed, with why.
 */

/** A row of the store's `rounds` table: its start and the attempts its plan placed (new or extended). */
export interface PlanRow {
  readonly round: number;
  /** ms since the epoch. */
  readonly start: number;
  readonly assignments: ReadonlyArray<{ readonly attempt: number; readonly leaseExtended: boolean }>;
}

/** A Job PATCH the API server accepted (200) that set `spec.suspend`. */
export interface DecisionWrite {
  /** Arrival, ms since the epoch. */
  readonly at: number;
  readonly job: string;
  /** false: an admission; true: a stop. */
  readonly suspend: boolean;
  /** Admission: the attempt it starts (the patch's annotation). Stop: the attempt it ends (the Job's, before it). */
  readonly attempt?: number;
  /** Admission: the patch's `rondo.dev/round`, used when it names no attempt. */
  readonly round?: number;
}

export interface Attributed {
  readonly write: DecisionWrite;
  /** The plan row (round number) the write carries out. */
  readonly round: number;
  /** Arrival minus the row's start (negative: early). */
  readonly ms: number;
}

export interface Attribution {
  /** Per regular round: its admissions and the stops at its start. */
  readonly regular: ReadonlyMap<number, { readonly admissions: Attributed[]; readonly stops: Attributed[] }>;
  /** Per backfill plan: its admissions (backfill plans stop nothing). */
  readonly backfill: ReadonlyMap<number, { readonly admissions: Attributed[] }>;
  readonly unattributed: ReadonlyArray<{ readonly write: DecisionWrite; readonly why: string }>;
}

/**
 * The regular rounds among plan rows in round order: regular rounds start at least a round length after the one
 * before (later after a late plan or a backfill plan); a backfill plan starts inside the current round and ends
 * with it. `toleranceMs` absorbs the store's rounding of starts to whole ms.
 */
export function regularRounds(rows: ReadonlyArray<Pick<PlanRow, 'round' | 'start'>>, roundMs: number, toleranceMs = 2): Set<number> {
  const out = new Set<number>();
  let last: number | undefined;
  for (const r of [...rows].sort((a, b) => a.round - b.round)) {
    if (last === undefined || r.start >= last + roundMs - toleranceMs) {
      out.add(r.round);
      last = r.start;
    }
  }
  return out;
}

export function attribute(rows: readonly PlanRow[], regular: ReadonlySet<number>, writes: readonly DecisionWrite[]): Attribution {
  const sorted = [...rows].sort((a, b) => a.round - b.round);
  const byRound = new Map(sorted.map((r) => [r.round, r]));
  const createdIn = new Map<number, PlanRow>();
  const lastIn = new Map<number, PlanRow>();
  for (const r of sorted) {
    for (const a of r.assignments) {
      if (!a.leaseExtended && !createdIn.has(a.attempt)) createdIn.set(a.attempt, r);
      lastIn.set(a.attempt, r);
    }
  }
  const regularRows = sorted.filter((r) => regular.has(r.round));
  const reg = new Map<number, { admissions: Attributed[]; stops: Attributed[] }>(regularRows.map((r) => [r.round, { admissions: [], stops: [] }]));
  const back = new Map<number, { admissions: Attributed[] }>(sorted.filter((r) => !regular.has(r.round)).map((r) => [r.round, { admissions: [] }]));
  const unattributed: Array<{ write: DecisionWrite; why: string }> = [];
  const to = (w: DecisionWrite, r: PlanRow): Attributed => ({ write: w, round: r.round, ms: w.at - r.start });

  for (const w of writes) {
    if (!w.suspend) {
      const r = w.attempt !== undefined ? createdIn.get(w.attempt) : w.round !== undefined ? byRound.get(w.round) : undefined;
      if (!r) {
        unattributed.push({ write: w, why: w.attempt !== undefined ? 'admission of an attempt no plan row created' : w.round !== undefined ? 'admission naming a round with no plan row' : 'admission naming no attempt or round' });
        continue;
      }
      (reg.get(r.round) ?? back.get(r.round)!).admissions.push(to(w, r));
      continue;
    }
    const last = w.attempt === undefined ? undefined : lastIn.get(w.attempt);
    if (!last) {
      unattributed.push({ write: w, why: w.attempt === undefined ? 'stop of a Job that carried no Rondo attempt' : 'stop of an attempt no plan row holds' });
      continue;
    }
    if (last !== createdIn.get(w.attempt!) && w.at < last.start) {
      // The plan extended the lease, yet the Job was stopped before that round began: not a decision of any plan.
      unattributed.push({ write: w, why: 'stop of a lease the next plan extended' });
      continue;
    }
    const next = regularRows.find((r) => r.round > last.round);
    if (!next) {
      unattributed.push({ write: w, why: 'stop with no later regular round (withdrawn, cancelled or pending too long)' });
      continue;
    }
    reg.get(next.round)!.stops.push(to(w, next));
  }
  return { regular: reg, backfill: back, unattributed };
}

/** The largest and smallest latency of a set of attributed writes, and how many came before their row's start. */
export function spanOf(xs: readonly Attributed[]): { lastMs: number | null; firstMs: number | null; early: number } {
  if (xs.length === 0) return { lastMs: null, firstMs: null, early: 0 };
  let lastMs = -Infinity;
  let firstMs = Infinity;
  let early = 0;
  for (const x of xs) {
    lastMs = Math.max(lastMs, x.ms);
    firstMs = Math.min(firstMs, x.ms);
    if (x.ms < 0) early++;
  }
  return { lastMs, firstMs, early };
}
