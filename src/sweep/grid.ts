/**
 * A sweep is a grid over policies x arrival rates x seeds x any other `rondo simulate` flag. Each point is exactly a
 * `rondo simulate` run with a set of flags, so any point can be reproduced by hand. The definition (not the points)
 * is what identifies a sweep: resume, shards and merge compare definition hashes.
 */
import { createHash } from 'node:crypto';
import { RondoError } from '../model/errors.js';

/** Flag values as `rondo simulate` takes them (camelCase commander names), e.g. { window: '4000:5000' }. */
export type FlagValues = Readonly<Record<string, string | boolean>>;

export interface VaryAxis {
  /** A simulate flag in camelCase, e.g. `round`, `cluster`, `multiGpu`. */
  readonly flag: string;
  readonly values: readonly string[];
}

export interface SweepDefinition {
  /** Preset name it came from (informational; the rest is what counts). */
  readonly preset?: string;
  /** Flags shared by every point (everything but policy, rate and seed). */
  readonly base: FlagValues;
  readonly policies: readonly string[];
  /** Arrival rates in jobs/hour; empty for a trace sweep (no --rate). */
  readonly rates: readonly number[];
  readonly seeds: readonly number[];
  readonly vary: readonly VaryAxis[];
  /** Record the per-job, per-round timeline for runs with at most this many jobs (0: never). */
  readonly timelineMaxJobs: number;
}

export interface SweepPoint {
  /** Position in grid order (policy, rate, seed, vary...). */
  readonly index: number;
  /** File-name-safe identity, unique within the sweep. */
  readonly key: string;
  readonly policy: string;
  readonly rate: number | null;
  readonly seed: number;
  readonly vary: Readonly<Record<string, string>>;
  /** The complete `rondo simulate` flags of this point. */
  readonly flags: FlagValues;
}

/** Parses `0.4:7.2:0.4` (inclusive range) or `0.4,0.8,1.6`. */
export function parseNumberList(name: string, spec: string, opts: { integer?: boolean; min?: number } = {}): number[] {
  const bad = (found: string): RondoError =>
    new RondoError({
      code: 'E_USAGE',
      problem: `bad ${name}`,
      expected: opts.integer ? 'integers: 0,1,2 or a range 0-2' : 'numbers: 0.4,0.8 or a range start:end:step',
      found: JSON.stringify(found),
    });
  const num = (s: string): number => {
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n) || (opts.integer && !Number.isSafeInteger(n)) || n < (opts.min ?? -Infinity)) throw bad(s);
    return n;
  };
  const s = spec.trim();
  let out: number[];
  const range = opts.integer ? /^(\d+)\s*[-:]\s*(\d+)$/.exec(s) : /^([^:,]+):([^:,]+):([^:,]+)$/.exec(s);
  if (range && opts.integer) {
    const a = num(range[1]!);
    const b = num(range[2]!);
    if (b < a) throw bad(spec);
    out = Array.from({ length: b - a + 1 }, (_, i) => a + i);
  } else if (range) {
    const a = num(range[1]!);
    const b = num(range[2]!);
    const step = num(range[3]!);
    if (!(step > 0) || b < a) throw bad(spec);
    // Count from the rounded number of steps so 0.4:7.2:0.4 gives 18 values, not 17 from float drift.
    const n = Math.floor((b - a) / step + 1e-9) + 1;
    out = Array.from({ length: n }, (_, i) => Number((a + i * step).toFixed(10)));
  } else {
    out = s.split(',').map((p) => num(p.trim()));
  }
  if (out.length === 0) throw bad(spec);
  if (new Set(out).size !== out.length) throw bad(spec);
  return out;
}

/** Stable JSON: object keys sorted, so equal definitions hash equally whatever order flags were given in. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Identity of a sweep: the hash of everything that changes its points (the preset name does not). */
export function definitionHash(def: SweepDefinition): string {
  const { preset: _preset, ...rest } = def;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex').slice(0, 16);
}

const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_');

/** Every point of the grid, in grid order: policy, then rate, then seed, then each vary axis. */
export function expandGrid(def: SweepDefinition): SweepPoint[] {
  if (def.policies.length === 0) throw new RondoError({ code: 'E_USAGE', problem: 'a sweep needs at least one policy' });
  if (def.seeds.length === 0) throw new RondoError({ code: 'E_USAGE', problem: 'a sweep needs at least one seed' });
  for (const a of def.vary) {
    if (['policy', 'rate', 'seed'].includes(a.flag)) {
      throw new RondoError({ code: 'E_USAGE', problem: `--vary ${a.flag}: use --policies, --rates or --seeds for that axis` });
    }
    if (a.values.length === 0) throw new RondoError({ code: 'E_USAGE', problem: `--vary ${a.flag} has no values` });
  }
  let combos: Array<Record<string, string>> = [{}];
  for (const a of def.vary) combos = combos.flatMap((c) => a.values.map((v) => ({ ...c, [a.flag]: v })));
  const rates: Array<number | null> = def.rates.length ? [...def.rates] : [null];
  const points: SweepPoint[] = [];
  for (const policy of def.policies) {
    for (const rate of rates) {
      for (const seed of def.seeds) {
        for (const vary of combos) {
          // A boolean flag varied as true/false (e.g. multiGpu=true,false) must reach simulate as a boolean.
          const typed = Object.fromEntries(Object.entries(vary).map(([k, v]) => [k, v === 'true' ? true : v === 'false' ? false : v]));
          const flags: Record<string, string | boolean> = { ...def.base, ...typed, seed: String(seed) };
          if (rate !== null) flags.rate = String(rate);
          let key = `${safe(policy)}__rate-${rate ?? 'trace'}__seed-${seed}`;
          for (const [k, v] of Object.entries(vary)) key += `__${safe(k)}-${safe(v)}`;
          points.push({ index: points.length, key, policy, rate, seed, vary, flags });
        }
      }
    }
  }
  const keys = new Set(points.map((p) => p.key));
  if (keys.size !== points.length) {
    throw new RondoError({ code: 'E_USAGE', problem: 'two sweep points map to the same file name', hint: 'use vary values that differ in letters or digits' });
  }
  return points;
}

export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Parses `i/n` (0-based i < n). */
export function parseShard(spec: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(spec);
  const i = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || !(n >= 1) || !(i < n)) {
    throw new RondoError({ code: 'E_USAGE', problem: 'bad --shard', expected: 'i/n with 0 <= i < n, e.g. 0/4 (Slurm: $SLURM_ARRAY_TASK_ID/N)', found: JSON.stringify(spec) });
  }
  return { index: i, count: n };
}

/**
 * The points of one shard: every n-th point of the grid starting at i. Interleaving (rather than contiguous
 * blocks) spreads the slow high-rate points evenly over the shards. The shards of 0..n-1 partition the grid.
 */
export function shardPoints(points: readonly SweepPoint[], shard: Shard | undefined): SweepPoint[] {
  if (!shard) return [...points];
  return points.filter((p) => p.index % shard.count === shard.index);
}
