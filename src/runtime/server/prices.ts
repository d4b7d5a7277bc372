/**
 * Live GPU prices for `rondo serve --prices FILE | --prices-url URL` (docs/spot.md): the price file format of the
 * simulator (docs/formats.md, "Price trace"), where each type's last row is its price now. The source is read again
 * every interval; a price that changed takes effect from the moment it was read. A read that fails (unreachable,
 * HTTP error, a bad row) is logged with the source, line and fix, and the last good prices stay in force. Every
 * change is kept in the store (meta key `spot.prices`), so the cost of past GPU time survives a restart.
 */
import { readFile } from 'node:fs/promises';
import { parsePrices } from '../../io/prices.js';
import { RondoError } from '../../model/errors.js';
import type { GpuType } from '../../model/index.js';
import type { PriceFeed } from '../../engine/config.js';
import type { PriceStatus } from '../dashboard-api.js';

export type Prices = Readonly<Record<GpuType, number>>;

export interface PriceChange {
  /** Unix ms from which these prices are in force. */
  readonly atMs: number;
  readonly prices: Prices;
}

export interface PriceSource {
  readonly file?: string;
  readonly url?: string;
  /** Milliseconds between reads (default 60 s). */
  readonly intervalMs?: number;
  /** Relative move that re-solves the allocation (the engine's price feed; default 0.1). */
  readonly threshold?: number;
}

/** What `GET /api/v1/prices` shows: one definition with the dashboard's (dashboard-api.ts). */

interface MetaStore {
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
}

const META_KEY = 'spot.prices';
/** Changes kept in the store: enough for years of hourly changes per type. */
const MAX_CHANGES = 20_000;
const FETCH_TIMEOUT_MS = 10_000;

/** Each type's last row of a price file: its price now. */
export function latestPrices(text: string, source: string): Record<GpuType, number> {
  const out: Record<GpuType, number> = {};
  for (const p of parsePrices(text, source).points) out[p.type] = p.usdPerGpuHour;
  return out;
}

function samePrices(a: Prices, b: Prices): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

export class LivePrices {
  readonly source: string;
  readonly threshold: number;
  private readonly intervalMs: number;
  private changes: PriceChange[] = [];
  private readAt: number | null = null;
  private error: string | null = null;
  private errorAt: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly src: PriceSource,
    private readonly store: MetaStore,
    private readonly log: (m: string) => void = () => {},
    private readonly fetchText: (url: string) => Promise<string> = fetchPriceText,
  ) {
    if ((src.file === undefined) === (src.url === undefined)) {
      throw new RondoError({ code: 'E_USAGE', problem: 'give one of --prices FILE and --prices-url URL' });
    }
    if (src.url !== undefined && !/^https?:\/\//i.test(src.url)) {
      throw new RondoError({ code: 'E_USAGE', problem: `bad --prices-url ${JSON.stringify(src.url)}`, expected: 'an http:// or https:// URL' });
    }
    this.source = src.file ?? src.url!;
    this.intervalMs = src.intervalMs ?? 60_000;
    this.threshold = src.threshold ?? 0.1;
    if (!(this.intervalMs >= 1000)) throw new RondoError({ code: 'E_USAGE', problem: 'bad --prices-interval', expected: 'at least 1 second', found: String(this.intervalMs / 1000) });
    if (!(this.threshold >= 0)) throw new RondoError({ code: 'E_USAGE', problem: 'bad --reprice-threshold', expected: 'a relative move >= 0, e.g. 0.1', found: String(this.threshold) });
    const saved = store.getMeta(META_KEY);
    if (saved) {
      try {
        this.changes = (JSON.parse(saved) as { changes: PriceChange[] }).changes;
      } catch {
        this.log(`prices: the saved price history in the store is unreadable; starting a new one`);
      }
    }
  }

  /**
   * The first read. A price file that cannot be read or parsed refuses the start (the operator is there to fix it);
   * a URL that fails is logged and polled again, with the saved prices in force meanwhile.
   */
  async start(): Promise<void> {
    if (this.src.file !== undefined) {
      const text = await readFile(this.src.file, 'utf8').catch((e: Error) => {
        throw new RondoError({ code: 'E_IO', file: this.src.file, problem: `cannot read --prices: ${e.message}` });
      });
      this.adopt(latestPrices(text, this.src.file), Date.now());
    } else await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Reads the source once more; a failure keeps the last good prices. */
  refresh(): Promise<void> {
    this.reading ??= this.readOnce().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    const now = Date.now();
    try {
      const text = this.src.file !== undefined ? await readFile(this.src.file, 'utf8') : await this.fetchText(this.src.url!);
      this.adopt(latestPrices(text, this.source), now);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (this.error !== msg) this.log(`prices: cannot use ${this.source}: ${msg}; keeping the prices read ${this.readAt ? new Date(this.readAt).toISOString() : 'never (no prices yet)'}`);
      this.error = msg;
      this.errorAt = now;
    }
  }

  private adopt(prices: Prices, now: number): void {
    this.readAt = now;
    this.error = null;
    this.errorAt = null;
    const last = this.changes[this.changes.length - 1];
    if (last && samePrices(last.prices, prices)) return;
    this.changes.push({ atMs: now, prices });
    if (this.changes.length > MAX_CHANGES) this.changes = this.changes.slice(-MAX_CHANGES);
    this.store.setMeta(META_KEY, JSON.stringify({ changes: this.changes }));
    this.log(`prices: ${Object.entries(prices).map(([t, p]) => `${t} $${p}/h`).join(', ')} (from ${this.source})`);
  }

  /** The prices in force now ({} before any). */
  current(): Prices {
    return this.changes[this.changes.length - 1]?.prices ?? {};
  }

  /** The engine's price feed: the prices in force whenever the engine looks (the live clock is the wall clock). */
  feed(): PriceFeed {
    return { pricesAt: () => this.current(), threshold: this.threshold };
  }

  status(): PriceStatus {
    return { source: this.source, prices: this.current(), readAt: this.readAt, error: this.error, errorAt: this.errorAt, threshold: this.threshold };
  }

  /**
   * Dollars for `gpus` GPUs of `type` held over [fromMs, toMs] at the prices in force over the span. Time before
   * the type's first known price is not billed.
   */
  cost(type: GpuType, gpus: number, fromMs: number, toMs: number): number {
    let usd = 0;
    // The last change at or before fromMs (binary search: the history may hold thousands of changes).
    let lo = 0;
    let hi = this.changes.length - 1;
    let first = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.changes[mid]!.atMs <= fromMs) {
        first = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let i = first; i < this.changes.length && this.changes[i]!.atMs < toMs; i++) {
      const c = this.changes[i]!;
      const end = this.changes[i + 1]?.atMs ?? Infinity;
      const a = Math.max(fromMs, c.atMs);
      const b = Math.min(toMs, end);
      const p = c.prices[type];
      if (b > a && p !== undefined) usd += (p * gpus * (b - a)) / 3_600_000;
    }
    return usd;
  }
}

async function fetchPriceText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
  return res.text();
}
