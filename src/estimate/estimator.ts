import {
  colocatedThroughput,
  isolatedThroughput,
  jobKey,
  jobKeys,
  jobTypes,
  parseJobKey,
  seededRandom,
  type GpuType,
  type ThroughputTable,
} from '../model/index.js';
import { completeRow, fitLowRank, type LowRankModel } from './lowrank.js';

/**
 * Throughput estimation for jobs the table does not know (src/estimate, pure: no I/O, no clock).
 *
 * Isolated throughputs: the reference rows are the table's `(job type, scale factor)` keys of the reference job
 * types, one column per GPU type holding log(steps/s). A job's measured types are the observed entries of a new
 * row; `completeRow` fills the others (log space, so a job's overall speed is one shift and the model learns the
 * ratios between types). With nothing measured the estimate is the reference mean: the typical ratios between
 * types, which is already better than "equally fast everywhere".
 *
 * Co-located throughputs (Gavel's estimator): per scale factor, the reference rows hold each reference key's
 * co-located throughput with every other reference key of that scale factor on every type, divided by its isolated
 * throughput there. An unseen job profiled against some of those (`profileColocations`) is completed by the same
 * low-rank model and matched to the nearest reference key by cosine distance; its co-located throughputs are then
 * the matched key's, relative to its own isolated throughputs.
 */

/** Where a throughput the scheduler uses comes from. */
export type ThroughputSource = 'table' | 'measured' | 'estimated' | 'default';

export interface TypeThroughput {
  readonly gpuType: GpuType;
  /** Steps per second. */
  readonly value: number;
  readonly source: ThroughputSource;
  /** 1 for measured or table values; exp(-sd of log throughput) for estimates; 0 for a default with no basis. */
  readonly confidence: number;
  /** Standard deviation of log(value): about the relative error one standard deviation away (0 when measured). */
  readonly uncertainty: number;
}

export interface EstimatorOptions {
  /** How many of the table's job types (model names) serve as references, drawn with `seed` (default: all). */
  readonly referenceJobTypes?: number;
  readonly seed?: number;
  /** Rank of the isolated-throughput model (default: the smallest explaining 95% of the variance). */
  readonly rank?: number;
}

export interface IsolatedQuery {
  readonly jobType: string;
  readonly scaleFactor: number;
  /** Steps/s measured so far per GPU type. */
  readonly measured?: Readonly<Record<GpuType, number>>;
  /** Use the table's row when it measures this key (default: unless `excludeSelf`). */
  readonly useTable?: boolean;
  /** Leave this job type's own rows out of the references (evaluation, and simulations of unseen jobs). */
  readonly excludeSelf?: boolean;
}

/** Observed entries of a co-location row: column (see `colocationColumn`) -> normalised co-located throughput. */
export type ColocationProfile = ReadonlyMap<number, number>;

interface ColocationModel {
  readonly refs: readonly string[];
  readonly rows: readonly (readonly number[])[];
  readonly model: LowRankModel;
}

/**
 * Variance of the row shapes (log throughput less the row's level) the isolated model keeps. On Gavel's table
 * (3 types, so shapes of rank 2) it keeps both; leave-one-job-type-out error is lowest there and the reported
 * standard deviations are about calibrated (bench/results/estimate.json: ~72% / 93% of true values within 1 / 2 sd).
 */
const ISOLATED_ENERGY = 0.9;

export class ThroughputEstimator {
  /** Reference job types (model names), sorted. */
  readonly referenceJobTypes: readonly string[];
  /** The table's GPU types: the model's columns. */
  readonly gpuTypes: readonly GpuType[];
  private readonly isoModels = new Map<string, LowRankModel | null>();
  private readonly colocModels = new Map<string, ColocationModel | null>();

  constructor(
    readonly table: ThroughputTable,
    private readonly opts: EstimatorOptions = {},
  ) {
    const all = jobTypes(table);
    const want = opts.referenceJobTypes ?? all.length;
    if (!Number.isInteger(want) || want < 1 || want > all.length) {
      throw new Error(`the number of reference job types must be an integer from 1 to ${all.length} (the table's job types), not ${want}`);
    }
    this.referenceJobTypes = want === all.length ? all : drawSorted(all, want, opts.seed ?? 0);
    this.gpuTypes = table.gpuTypes;
  }

  /** True when the table measures this key on at least one type. */
  known(jobType: string, scaleFactor: number): boolean {
    const key = jobKey(jobType, scaleFactor);
    return this.gpuTypes.some((t) => (isolatedThroughput(this.table, t, key) ?? 0) > 0);
  }

  /**
   * Isolated throughput on each of `types`: measured where measured; the table's row (scaled to the job's
   * measured speed) for a known key; otherwise the low-rank estimate. A type the table has no column for gets the
   * mean of the measurements as a `default` with confidence 0 (with none: the mean of the other types' values, or 1).
   */
  isolated(q: IsolatedQuery, types: readonly GpuType[]): TypeThroughput[] {
    const row = this.isolatedOrDefault(q, types);
    if (values(q.measured).length > 0 || !row.some((r) => r.source === 'default')) return row;
    // Nothing measured: a type the table lacks counts as fast as the job's mean estimate elsewhere (same units).
    const known = row.filter((r) => r.source !== 'default').map((r) => r.value);
    if (known.length === 0) return row;
    const mean = known.reduce((a, b) => a + b, 0) / known.length;
    return row.map((r) => (r.source === 'default' ? { ...r, value: mean } : r));
  }

  private isolatedOrDefault(q: IsolatedQuery, types: readonly GpuType[]): TypeThroughput[] {
    const measured = q.measured ?? {};
    const key = jobKey(q.jobType, q.scaleFactor);
    const got = values(measured);
    const fallback = got.length > 0 ? got.reduce((a, b) => a + b, 0) / got.length : 1;
    const out = types.map((t): TypeThroughput | undefined => {
      const m = measured[t];
      return m !== undefined && m > 0 ? { gpuType: t, value: m, source: 'measured', confidence: 1, uncertainty: 0 } : undefined;
    });
    if ((q.useTable ?? !q.excludeSelf) && this.known(q.jobType, q.scaleFactor)) {
      // The job's units may differ from the table's: scale the row by the measured/table ratio (geometric mean).
      let logRatio = 0;
      let n = 0;
      for (const [t, v] of Object.entries(measured)) {
        const ref = isolatedThroughput(this.table, t, key);
        if (v > 0 && ref !== undefined && ref > 0) {
          logRatio += Math.log(v / ref);
          n++;
        }
      }
      const f = n > 0 ? Math.exp(logRatio / n) : 1;
      return types.map((t, i) => {
        if (out[i]) return out[i];
        const ref = isolatedThroughput(this.table, t, key);
        if (ref !== undefined) return { gpuType: t, value: ref * f, source: 'table', confidence: 1, uncertainty: 0 };
        return { gpuType: t, value: fallback, source: 'default', confidence: 0, uncertainty: 0 };
      });
    }
    const model = this.isoModel(q.excludeSelf ? q.jobType : '');
    const observed = new Map<number, number>();
    for (const [t, v] of Object.entries(measured)) {
      const c = this.gpuTypes.indexOf(t);
      if (c >= 0 && v > 0) observed.set(c, Math.log(v));
    }
    const est = model ? completeRow(model, observed) : undefined;
    return types.map((t, i) => {
      if (out[i]) return out[i];
      const c = this.gpuTypes.indexOf(t);
      if (!est || c < 0) return { gpuType: t, value: fallback, source: 'default', confidence: 0, uncertainty: 0 };
      const sd = est.sd[c]!;
      return { gpuType: t, value: Math.exp(est.mean[c]!), source: 'estimated', confidence: Math.exp(-sd), uncertainty: sd };
    });
  }

  /** Just the values of `isolated`, aligned with `types`. */
  isolatedRow(q: IsolatedQuery, types: readonly GpuType[]): number[] {
    return this.isolated(q, types).map((x) => x.value);
  }

  /** Reference keys of one scale factor that a co-location profile is measured against (its columns per type). */
  colocationReferences(scaleFactor: number, excludeJobType = ''): readonly string[] {
    return this.colocModel(scaleFactor, excludeJobType)?.refs ?? [];
  }

  /** Column of (GPU type index, reference index) in a co-location row. */
  colocationColumn(scaleFactor: number, typeIndex: number, refIndex: number, excludeJobType = ''): number {
    return typeIndex * this.colocationReferences(scaleFactor, excludeJobType).length + refIndex;
  }

  /**
   * Gavel's profiling, from the table: each (type, reference key) co-location of `key` is measured with
   * probability `fraction` (draws from `random`, type-major as Gavel's loop).
   */
  profileColocations(key: string, fraction: number, random: () => number, excludeJobType = ''): ColocationProfile {
    const { scaleFactor } = parseJobKey(key);
    const refs = this.colocationReferences(scaleFactor, excludeJobType);
    const out = new Map<number, number>();
    this.gpuTypes.forEach((t, ti) => {
      refs.forEach((r, ri) => {
        if (random() <= fraction) {
          const v = normalisedColocated(this.table, t, key, r);
          if (v !== undefined) out.set(ti * refs.length + ri, v);
        }
      });
    });
    return out;
  }

  /**
   * The reference key an unseen job of `scaleFactor` behaves most like when sharing GPUs, from its profile: the
   * completed co-location row's nearest reference row by cosine distance (Gavel). Undefined without references.
   */
  matchReference(scaleFactor: number, profile: ColocationProfile, excludeJobType = ''): { key: string; distance: number } | undefined {
    const cm = this.colocModel(scaleFactor, excludeJobType);
    if (!cm) return undefined;
    const row = completeRow(cm.model, profile).mean;
    let best: { key: string; distance: number } | undefined;
    cm.refs.forEach((r, i) => {
      const dist = cosineDistance(cm.rows[i]!, row);
      if (!best || dist < best.distance) best = { key: r, distance: dist };
    });
    return best;
  }

  /**
   * Co-located steps/s `[job, partner]` on `gpuType` for a job that behaves like reference key `like` and runs at
   * `isoJob` alone there, sharing with `partner` (a table key) that runs at `isoPartner` alone.
   */
  colocatedLike(like: string, partner: string, gpuType: GpuType, isoJob: number, isoPartner: number): readonly [number, number] | undefined {
    const pair = colocatedThroughput(this.table, gpuType, like, partner);
    const a = isolatedThroughput(this.table, gpuType, like);
    const b = isolatedThroughput(this.table, gpuType, partner);
    if (!pair || !a || !b) return undefined;
    return [(isoJob * pair[0]) / a, (isoPartner * pair[1]) / b];
  }

  private referenceKeys(excludeJobType: string): string[] {
    const refs = new Set(this.referenceJobTypes.filter((t) => t !== excludeJobType));
    return jobKeys(this.table).filter((k) => refs.has(parseJobKey(k).jobType));
  }

  private isoModel(excludeJobType: string): LowRankModel | null {
    let m = this.isoModels.get(excludeJobType);
    if (m === undefined) {
      const rows = this.referenceKeys(excludeJobType).map((k) =>
        this.gpuTypes.map((t) => {
          const v = isolatedThroughput(this.table, t, k);
          return v !== undefined && v > 0 ? Math.log(v) : NaN;
        }),
      );
      m = rows.length >= 2 && this.gpuTypes.every((_, c) => rows.some((r) => Number.isFinite(r[c])))
        ? fitLowRank(rows, { rowOffset: true, ...(this.opts.rank !== undefined ? { rank: this.opts.rank } : { energy: ISOLATED_ENERGY }) })
        : null;
      this.isoModels.set(excludeJobType, m);
    }
    return m;
  }

  private colocModel(scaleFactor: number, excludeJobType: string): ColocationModel | null {
    const id = `${scaleFactor}\n${excludeJobType}`;
    let m = this.colocModels.get(id);
    if (m === undefined) {
      m = null;
      const refs = this.referenceKeys(excludeJobType).filter((k) => parseJobKey(k).scaleFactor === scaleFactor);
      if (refs.length >= 2) {
        const rows = refs.map((k) => this.gpuTypes.flatMap((t) => refs.map((r) => normalisedColocated(this.table, t, k, r) ?? NaN)));
        const usable = rows[0]!.every((_, c) => rows.some((r) => Number.isFinite(r[c])));
        if (usable) m = { refs, rows, model: fitLowRank(rows) };
      }
      this.colocModels.set(id, m);
    }
    return m;
  }
}

function values(measured: Readonly<Record<GpuType, number>> | undefined): number[] {
  return Object.values(measured ?? {}).filter((v) => v > 0);
}

/** Co-located throughput of `key` next to `other` on `gpuType`, divided by its isolated throughput there. */
export function normalisedColocated(table: ThroughputTable, gpuType: GpuType, key: string, other: string): number | undefined {
  const iso = isolatedThroughput(table, gpuType, key);
  const pair = colocatedThroughput(table, gpuType, key, other) ?? flip(colocatedThroughput(table, gpuType, other, key));
  return iso && iso > 0 && pair ? pair[0] / iso : undefined;
}

function flip(p: readonly [number, number] | undefined): readonly [number, number] | undefined {
  return p ? [p[1], p[0]] : undefined;
}

function cosineDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? 1 - dot / Math.sqrt(na * nb) : 1;
}

/** `count` of `items` drawn without replacement with a seeded generator, in sorted order. */
function drawSorted(items: readonly string[], count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const pool = [...items];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count).sort();
}
