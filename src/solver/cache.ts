/**
 * Memo of solved LPs, keyed by the whole model. A simulation asks the same small LP again and again: at low load
 * the same few job classes come and go, and every recompute rebuilds an LP identical to one solved before. HiGHS is
 * deterministic, so the stored answer is exactly what a new solve would return; a cache hit is a lookup instead of
 * a round trip through WASM (about 1 ms for a tiny LP, most of a low-rate simulation's time).
 *
 * Keys are a 32-bit hash over every number of the model and its options; a hit is confirmed by comparing the stored
 * copy word for word, so a hash collision costs a solve, never a wrong answer. Only complete, deterministic solves
 * are stored: no warm start, no time limit, status optimal.
 */

import type { WarmStart } from './lp.js';

export interface ModelWords {
  /** Every number that defines the model, in a fixed order, as raw 32-bit words. */
  readonly words: Uint32Array;
}

export interface CachedSolution {
  readonly objective: number;
  readonly x: Float64Array;
  readonly rowValue: Float64Array;
  readonly rowDual: Float64Array | undefined;
  readonly warmStart: WarmStart | undefined;
}

interface Entry {
  readonly words: Uint32Array;
  readonly solution: CachedSolution;
  readonly bytes: number;
}

export interface SolveCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly entries: number;
  readonly bytes: number;
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** Models above this many words (about 2 MiB) are rare, slow to compare, and unlikely to repeat: not stored. */
const MAX_MODEL_WORDS = 512 * 1024;

function hashWords(w: Uint32Array): number {
  // FNV-1a over 32-bit words, then a final avalanche (murmur3's fmix32).
  let h = 0x811c9dc5;
  for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function copyWarm(w: WarmStart | undefined): WarmStart | undefined {
  if (!w) return undefined;
  return {
    ...(w.colValue ? { colValue: w.colValue.slice() } : {}),
    ...(w.colStatus ? { colStatus: w.colStatus.slice() } : {}),
    ...(w.rowStatus ? { rowStatus: w.rowStatus.slice() } : {}),
  };
}

function copySolution(s: CachedSolution): CachedSolution {
  return { objective: s.objective, x: s.x.slice(), rowValue: s.rowValue.slice(), rowDual: s.rowDual?.slice(), warmStart: copyWarm(s.warmStart) };
}

/**
 * The memo of one `Solver` (lp.ts): exact-match models to their solutions, least recently used out first, within
 * `maxBytes`.
 */
export class SolveCache {
  private maxBytes = DEFAULT_MAX_BYTES;
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  // Map iteration order is insertion order; a hit re-inserts, so the first key is the least recently used.
  private readonly entries = new Map<number, Entry>();

  /**
   * Sets the memory the cache may use (bytes); 0 turns it off and empties it. Benchmarks that time the solver on
   * repeated identical models turn it off, or they would time lookups.
   */
  configure(opts: { maxBytes: number }): void {
    this.maxBytes = Math.max(0, opts.maxBytes);
    this.evict();
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
    this.hits = 0;
    this.misses = 0;
  }

  stats(): SolveCacheStats {
    return { hits: this.hits, misses: this.misses, entries: this.entries.size, bytes: this.bytes };
  }

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  lookup(model: ModelWords): CachedSolution | undefined {
    if (this.maxBytes === 0 || model.words.length > MAX_MODEL_WORDS) return undefined;
    const key = hashWords(model.words);
    const e = this.entries.get(key);
    if (!e || !sameWords(e.words, model.words)) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, e);
    // Copies: callers own what a solve returns and may write to it.
    return copySolution(e.solution);
  }

  store(model: ModelWords, solution: CachedSolution): void {
    if (this.maxBytes === 0 || model.words.length > MAX_MODEL_WORDS) return;
    const key = hashWords(model.words);
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.bytes;
      this.entries.delete(key);
    }
    const kept = copySolution(solution);
    const w = kept.warmStart;
    const size =
      model.words.byteLength +
      8 * (kept.x.length + kept.rowValue.length + (kept.rowDual?.length ?? 0) + (w?.colValue?.length ?? 0)) +
      4 * ((w?.colStatus?.length ?? 0) + (w?.rowStatus?.length ?? 0)) +
      64;
    this.entries.set(key, { words: model.words.slice(), solution: kept, bytes: size });
    this.bytes += size;
    this.evict();
  }

  private evict(): void {
    if (this.maxBytes === 0) {
      this.entries.clear();
      this.bytes = 0;
      return;
    }
    for (const [key, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= e.bytes;
    }
  }
}
