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

let maxBytes = DEFAULT_MAX_BYTES;
let bytes = 0;
let hits = 0;
let misses = 0;
// Map iteration order is insertion order; a hit re-inserts, so the first key is the least recently used.
const entries = new Map<number, Entry>();

/**
 * Sets the memory the cache may use (bytes); 0 turns it off and empties it. Benchmarks that time the solver on
 * repeated identical models turn it off, or they would time lookups.
 */
export function configureSolveCache(opts: { maxBytes: number }): void {
  maxBytes = Math.max(0, opts.maxBytes);
  evict();
}

export function clearSolveCache(): void {
  entries.clear();
  bytes = 0;
  hits = 0;
  misses = 0;
}

export function solveCacheStats(): SolveCacheStats {
  return { hits, misses, entries: entries.size, bytes };
}

export function solveCacheEnabled(): boolean {
  return maxBytes > 0;
}

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

export function lookupSolve(model: ModelWords): CachedSolution | undefined {
  if (maxBytes === 0 || model.words.length > MAX_MODEL_WORDS) return undefined;
  const key = hashWords(model.words);
  const e = entries.get(key);
  if (!e || !sameWords(e.words, model.words)) {
    misses++;
    return undefined;
  }
  hits++;
  entries.delete(key);
  entries.set(key, e);
  // Copies: callers own what a solve returns and may write to it.
  return copySolution(e.solution);
}

export function storeSolve(model: ModelWords, solution: CachedSolution): void {
  if (maxBytes === 0 || model.words.length > MAX_MODEL_WORDS) return;
  const key = hashWords(model.words);
  const old = entries.get(key);
  if (old) {
    bytes -= old.bytes;
    entries.delete(key);
  }
  const kept = copySolution(solution);
  const w = kept.warmStart;
  const size =
    model.words.byteLength +
    8 * (kept.x.length + kept.rowValue.length + (kept.rowDual?.length ?? 0) + (w?.colValue?.length ?? 0)) +
    4 * ((w?.colStatus?.length ?? 0) + (w?.rowStatus?.length ?? 0)) +
    64;
  entries.set(key, { words: model.words.slice(), solution: kept, bytes: size });
  bytes += size;
  evict();
}

function evict(): void {
  if (maxBytes === 0) {
    entries.clear();
    bytes = 0;
    return;
  }
  for (const [key, e] of entries) {
    if (bytes <= maxBytes) break;
    entries.delete(key);
    bytes -= e.bytes;
  }
}
