import { Matrix, SingularValueDecomposition, inverse } from 'ml-matrix';

/**
 * Low-rank completion of one new row against a reference matrix, as probabilistic PCA (Tipping & Bishop):
 * each standardised row is `mean + W z + noise`, `z ~ N(0, I_k)`, `noise ~ N(0, sigma2 I)`. Fitting takes the top
 * `k` singular vectors of the reference rows (missing reference entries are filled by iterated rank-k
 * reconstruction, "hard impute"); completing a new row conditions `z` on the row's observed entries, which gives
 * both the estimate of every other entry and its standard deviation. Gavel completes the matrix with its new row
 * by PMF; with a fully measured reference block the closed-form conditional is the same low-rank model without an
 * iterative solve per job, and it yields the uncertainty the scheduler reports.
 *
 * ml-matrix does the SVD and the k x k inverse: it is maintained (mljs), pure JavaScript (no native build), and
 * small; the matrices here are at most a few hundred entries a side.
 */
export interface LowRankModel {
  /** Columns. */
  readonly d: number;
  /** Rank kept. */
  readonly k: number;
  /** Column means and scales (a row is standardised column by column before the factor model applies). */
  readonly mean: Float64Array;
  readonly scale: Float64Array;
  /** d x k loadings, row-major: column c's loading on factor f is `loadings[c * k + f]`. */
  readonly loadings: Float64Array;
  /** Residual variance per standardised entry. */
  readonly sigma2: number;
  /**
   * Prior standard deviation of a free per-row offset (0: none). With `rowOffset`, rows are modelled as
   * `offset + mean + W z + noise`: the factors describe a row's shape and the offset its level, which the observed
   * entries pin down (in log space: a job's overall speed, with the ratios between columns from the references).
   */
  readonly offsetSd: number;
}

export interface FitOptions {
  /** Rank to keep; default: the smallest reaching `energy` of the variance. */
  readonly rank?: number;
  /** Fraction of the variance the kept factors must explain when `rank` is not given (default 0.95). */
  readonly energy?: number;
  /** Floor of the residual variance per standardised entry, so a near-exact fit does not claim certainty. */
  readonly minSigma2?: number;
  /**
   * Give every row a free level (see `LowRankModel.offsetSd`): reference rows are centred on their own mean first,
   * and columns are not rescaled (they must share units, e.g. log throughputs).
   */
  readonly rowOffset?: boolean;
}

/** Conditional estimate of a row: value and standard deviation per column (0 where observed). */
export interface RowEstimate {
  readonly mean: Float64Array;
  readonly sd: Float64Array;
}

/** Fits the model; `rows` may hold NaN for unmeasured entries, but every column needs one finite value. */
export function fitLowRank(reference: readonly (readonly number[])[], opts: FitOptions = {}): LowRankModel {
  let rows = reference;
  const n = rows.length;
  const d = rows[0]?.length ?? 0;
  if (n < 2 || d < 1) throw new Error(`a low-rank model needs at least 2 reference rows and 1 column (got ${n} x ${d})`);
  if (opts.rowOffset) {
    rows = rows.map((r) => {
      const finite = r.filter((v) => Number.isFinite(v));
      const level = finite.reduce((a, b) => a + b, 0) / Math.max(1, finite.length);
      return r.map((v) => v - level);
    });
  }
  const x = rows.map((r) => [...r]);
  const missing: Array<[number, number]> = [];
  for (let c = 0; c < d; c++) {
    const finite = rows.map((r) => r[c]!).filter((v) => Number.isFinite(v));
    if (finite.length === 0) throw new Error(`reference column ${c} has no measured value`);
    const m = finite.reduce((a, b) => a + b, 0) / finite.length;
    rows.forEach((r, i) => {
      if (!Number.isFinite(r[c]!)) {
        x[i]![c] = m;
        missing.push([i, c]);
      }
    });
  }
  const mean = new Float64Array(d);
  const scale = new Float64Array(d);
  const maxRank = Math.max(1, Math.min(n - 1, d - 1, opts.rank ?? Infinity));
  const energy = opts.rank !== undefined ? undefined : (opts.energy ?? 0.95);
  let k = maxRank;
  let svd: SingularValueDecomposition;
  // Hard impute: fill the missing entries with the rank-k reconstruction (in the data's units, so the column means
  // and scales follow the filled values) until it settles.
  for (let it = 0; ; it++) {
    const z = standardise(x, mean, scale, !opts.rowOffset);
    svd = new SingularValueDecomposition(z, { autoTranspose: true });
    k = chooseRank(svd.diagonal, maxRank, energy);
    if (missing.length === 0 || it === 100) break;
    const rec = reconstruct(svd, k);
    let change = 0;
    for (const [i, c] of missing) {
      const v = mean[c]! + scale[c]! * rec.get(i, c);
      change = Math.max(change, Math.abs(v - x[i]![c]!));
      x[i]![c] = v;
    }
    if (change < 1e-10) break;
  }
  const s = svd.diagonal;
  const v = svd.rightSingularVectors;
  // Eigenvalues of the sample covariance; loadings scaled so that z ~ N(0, I).
  const lambda = s.map((x) => (x * x) / n);
  let rest = 0;
  for (let i = k; i < d; i++) rest += lambda[i] ?? 0;
  const sigma2 = Math.max(opts.minSigma2 ?? 1e-3, d > k ? rest / (d - k) : 0);
  const loadings = new Float64Array(d * k);
  for (let c = 0; c < d; c++) {
    for (let f = 0; f < k; f++) loadings[c * k + f] = v.get(c, f) * Math.sqrt(Math.max(0, lambda[f]! - sigma2));
  }
  return { d, k, mean, scale, loadings, sigma2, offsetSd: opts.rowOffset ? OFFSET_PRIOR_SD : 0 };
}

/** Prior sd of a row's level with `rowOffset`: wide enough to be uninformative (e^10 in log throughput). */
const OFFSET_PRIOR_SD = 10;

/** Fills `mean` and `scale` with the columns' statistics and returns the standardised matrix. */
function standardise(x: readonly (readonly number[])[], mean: Float64Array, scale: Float64Array, rescale: boolean): Matrix {
  const n = x.length;
  const d = mean.length;
  for (let c = 0; c < d; c++) {
    let s = 0;
    let s2 = 0;
    for (const r of x) {
      s += r[c]!;
      s2 += r[c]! * r[c]!;
    }
    mean[c] = s / n;
    const variance = Math.max(0, s2 / n - (s / n) ** 2);
    // A constant column carries no information about the row; a unit scale keeps it harmless.
    scale[c] = rescale && variance > 1e-12 ? Math.sqrt(variance) : 1;
  }
  const z = new Matrix(n, d);
  for (let i = 0; i < n; i++) for (let c = 0; c < d; c++) z.set(i, c, (x[i]![c]! - mean[c]!) / scale[c]!);
  return z;
}

function chooseRank(singular: readonly number[], maxRank: number, energy: number | undefined): number {
  if (energy === undefined) return maxRank;
  const total = singular.reduce((a, x) => a + x * x, 0);
  if (total === 0) return 1;
  let acc = 0;
  for (let i = 0; i < maxRank; i++) {
    acc += singular[i]! ** 2;
    if (acc / total >= energy) return i + 1;
  }
  return maxRank;
}

function reconstruct(svd: SingularValueDecomposition, k: number): Matrix {
  const u = svd.leftSingularVectors.subMatrix(0, svd.leftSingularVectors.rows - 1, 0, k - 1);
  const v = svd.rightSingularVectors.subMatrix(0, svd.rightSingularVectors.rows - 1, 0, k - 1);
  const s = Matrix.diag(svd.diagonal.slice(0, k));
  return u.mmul(s).mmul(v.transpose());
}

/**
 * What conditioning on one set of observed columns needs, whatever their values: the gain from each observed
 * (standardised) value to each column's posterior mean, and each column's posterior sd. It depends only on which
 * columns are observed, so it is computed once per set (a server completes thousands of rows per allocation).
 */
interface Conditioner {
  readonly cols: readonly number[];
  /** d x |cols|, row-major. */
  readonly gain: Float64Array;
  /** Standard deviation per column in the model's units (0 for observed columns). */
  readonly sd: Float64Array;
}

const conditioners = new WeakMap<LowRankModel, Map<string, Conditioner>>();

function conditioner(model: LowRankModel, cols: readonly number[]): Conditioner {
  let byModel = conditioners.get(model);
  if (!byModel) conditioners.set(model, (byModel = new Map()));
  const id = cols.join(',');
  const hit = byModel.get(id);
  if (hit) return hit;
  const { d, scale, sigma2 } = model;
  // The row's level, when free, is one more factor whose loading on every (unscaled) column is its prior sd.
  const k = model.k + (model.offsetSd > 0 ? 1 : 0);
  const w = (c: number, f: number): number => (f < model.k ? model.loadings[c * model.k + f]! : model.offsetSd);
  // Posterior covariance of z: (I + W_O^T W_O / sigma2)^-1.
  const prec = Matrix.eye(k, k);
  for (const c of cols) for (let f = 0; f < k; f++) for (let g = 0; g < k; g++) prec.set(f, g, prec.get(f, g) + (w(c, f) * w(c, g)) / sigma2);
  const cov = inverse(prec);
  // Posterior mean of z = B y with B = cov W_O^T / sigma2 (k x |cols|).
  const o = cols.length;
  const b = new Float64Array(k * o);
  for (let f = 0; f < k; f++) {
    for (let i = 0; i < o; i++) {
      let v = 0;
      for (let g = 0; g < k; g++) v += cov.get(f, g) * w(cols[i]!, g);
      b[f * o + i] = v / sigma2;
    }
  }
  const gain = new Float64Array(d * o);
  const sd = new Float64Array(d);
  const observed = new Set(cols);
  for (let c = 0; c < d; c++) {
    if (observed.has(c)) continue;
    for (let i = 0; i < o; i++) {
      let v = 0;
      for (let f = 0; f < k; f++) v += w(c, f) * b[f * o + i]!;
      gain[c * o + i] = v;
    }
    let v = sigma2;
    for (let f = 0; f < k; f++) for (let g = 0; g < k; g++) v += w(c, f) * cov.get(f, g) * w(c, g);
    sd[c] = scale[c]! * Math.sqrt(Math.max(0, v));
  }
  const out = { cols, gain, sd };
  byModel.set(id, out);
  return out;
}

/**
 * The row completed from its observed entries (column -> value, in the model's units): the posterior mean of each
 * column and its standard deviation. With nothing observed this is the reference mean and spread.
 */
export function completeRow(model: LowRankModel, observed: ReadonlyMap<number, number>): RowEstimate {
  const { d, mean, scale } = model;
  for (const [c, x] of observed) {
    if (!Number.isInteger(c) || c < 0 || c >= d || !Number.isFinite(x)) throw new Error(`observed column ${c} is out of range or not finite`);
  }
  const cols = [...observed.keys()].sort((a, b) => a - b);
  const cond = conditioner(model, cols);
  const y = cols.map((c) => (observed.get(c)! - mean[c]!) / scale[c]!);
  const outMean = new Float64Array(d);
  const o = cols.length;
  for (let c = 0; c < d; c++) {
    const x = observed.get(c);
    if (x !== undefined) {
      outMean[c] = x;
      continue;
    }
    let m = 0;
    for (let i = 0; i < o; i++) m += cond.gain[c * o + i]! * y[i]!;
    outMean[c] = mean[c]! + scale[c]! * m;
  }
  return { mean: outMean, sd: Float64Array.from(cond.sd) };
}
