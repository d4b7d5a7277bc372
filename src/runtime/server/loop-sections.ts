/**
 * How long the server's named synchronous sections held the event loop: a request that arrives meanwhile waits for
 * the section to end, so the longest ones set the API's tail latency. Each section is a stretch of code that runs
 * without yielding (a route handler up to its first await, a store transaction with its fsync, a stage of the
 * engine between two yields). Kept per process (the server has one event loop), always on: a section costs two
 * `performance.now()` calls and a few array writes. Read by `bench:server` (bench/server/server-process.ts).
 */

/** Samples kept per section for the percentiles: a ring of the most recent ones. */
const RING = 4096;

interface Book {
  count: number;
  totalMs: number;
  maxMs: number;
  readonly ring: Float64Array;
}

export interface SectionStats {
  readonly name: string;
  readonly count: number;
  readonly totalMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export class LoopSections {
  private readonly books = new Map<string, Book>();

  /** Records that the section `name` held the loop for `ms`. */
  add(name: string, ms: number): void {
    let b = this.books.get(name);
    if (!b) this.books.set(name, (b = { count: 0, totalMs: 0, maxMs: 0, ring: new Float64Array(RING) }));
    b.ring[b.count % RING] = ms;
    b.count++;
    b.totalMs += ms;
    if (ms > b.maxMs) b.maxMs = ms;
  }

  /** Runs `fn` (synchronous) as the section `name`. */
  time<T>(name: string, fn: () => T): T {
    const t = performance.now();
    try {
      return fn();
    } finally {
      this.add(name, performance.now() - t);
    }
  }

  /** Every section seen since the last reset, longest p99 first. */
  stats(): SectionStats[] {
    const out: SectionStats[] = [];
    for (const [name, b] of this.books) {
      const xs = Array.from(b.ring.subarray(0, Math.min(b.count, RING))).sort((x, y) => x - y);
      const at = (p: number): number => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;
      out.push({ name, count: b.count, totalMs: b.totalMs, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: b.maxMs });
    }
    return out.sort((a, b) => b.p99Ms - a.p99Ms);
  }

  reset(): void {
    this.books.clear();
  }
}

/** The server process' sections. */
export const loopSections = new LoopSections();
