/**
 * Capacity that comes and goes, and prices that change (issue 23; docs/formats.md, "Capacity traces"): the step
 * functions the spot executor (src/sim/spot-executor.ts) and the cost-aware policies read.
 */
import { RondoError, type GpuType } from '../model/index.js';
import type { CapacityTrace, PriceTrace } from '../io/index.js';

interface Steps {
  readonly times: number[];
  readonly values: number[];
}

/** Index of the last step at or before t, or -1. */
function stepAt(s: Steps, t: number): number {
  let lo = 0;
  let hi = s.times.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (s.times[mid]! <= t) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/**
 * GPUs available per cluster type over time, as the scheduler must see them: a decrease takes effect at its notice
 * time (`time - notice`), since from then on the revoked GPUs' jobs stop and nothing new may start there. With
 * `loopS` the trace repeats with that period (a short measured trace under a long workload).
 */
export class CapacitySchedule {
  readonly types: readonly GpuType[];
  private readonly steps = new Map<GpuType, Steps>();
  /** All effective change times within one period, sorted, distinct. */
  private readonly changeTimes: number[];

  /** `rank` orders the types (stable; lower first), e.g. by price so that idle-GPU filling takes the cheapest first. */
  constructor(trace: CapacityTrace, readonly loopS?: number, rank?: (type: GpuType) => number) {
    const types = trace.keys.map((k) => k.type);
    this.types = rank ? types.map((t, i) => ({ t, i, r: rank(t) })).sort((a, b) => a.r - b.r || a.i - b.i).map((x) => x.t) : types;
    const last = new Map<GpuType, number>();
    const raw = new Map<GpuType, Array<{ t: number; v: number; i: number }>>();
    trace.events.forEach((e, i) => {
      const before = last.get(e.type) ?? 0;
      const t = e.gpus < before ? e.time - e.notice : e.time;
      last.set(e.type, e.gpus);
      const list = raw.get(e.type) ?? [];
      list.push({ t, v: e.gpus, i });
      raw.set(e.type, list);
    });
    let maxT = 0;
    for (const [type, list] of raw) {
      list.sort((a, b) => a.t - b.t || a.i - b.i);
      const times: number[] = [];
      const values: number[] = [];
      for (const x of list) {
        if (times.length > 0 && times[times.length - 1] === x.t) values[values.length - 1] = x.v;
        else {
          times.push(x.t);
          values.push(x.v);
        }
        maxT = Math.max(maxT, x.t);
      }
      this.steps.set(type, { times, values });
    }
    if (loopS !== undefined && !(loopS > maxT)) {
      throw new RondoError({ code: 'E_USAGE', problem: `capacity loop period ${loopS} s does not cover the trace (last change at ${maxT} s)`, hint: `give a period above ${maxT}` });
    }
    this.changeTimes = [...new Set([...this.steps.values()].flatMap((s) => s.times))].filter((t) => t > 0).sort((a, b) => a - b);
  }

  private local(t: number): number {
    return this.loopS === undefined ? t : t - Math.floor(t / this.loopS) * this.loopS;
  }

  /** GPUs of `type` available at time t (0 before the type's first row). */
  countAt(type: GpuType, t: number): number {
    const s = this.steps.get(type);
    if (!s) return 0;
    const i = stepAt(s, this.local(t));
    if (i >= 0) return s.values[i]!;
    // Looping: before the first row of a period the previous period's last value holds.
    return this.loopS !== undefined && t >= this.loopS ? s.values[s.values.length - 1]! : 0;
  }

  countsAt(t: number): Record<GpuType, number> {
    const out: Record<GpuType, number> = {};
    for (const type of this.types) out[type] = this.countAt(type, t);
    return out;
  }

  /** Most GPUs of each type ever available. */
  maxCounts(): Record<GpuType, number> {
    const out: Record<GpuType, number> = {};
    for (const type of this.types) out[type] = Math.max(0, ...(this.steps.get(type)?.values ?? [0]));
    return out;
  }

  /** The first change strictly after t, or undefined when none will come. */
  nextChangeAfter(t: number): number | undefined {
    const lt = this.local(t);
    const base = t - lt;
    const next = this.changeTimes.find((c) => c > lt + 1e-9);
    if (next !== undefined) return base + next;
    if (this.loopS === undefined) return undefined;
    // Next period: its first change, or its start when the period's start differs from the value at its end.
    const first = this.changeTimes[0];
    const wraps = this.types.some((type) => this.countAt(type, base + this.loopS!) !== this.countAt(type, base + this.loopS! - 1e-6));
    if (wraps) return base + this.loopS;
    return first === undefined ? undefined : base + this.loopS + first;
  }

  /** Revocations per GPU-hour of available capacity, per type, over one period (or the whole trace). */
  revocationRates(): Record<GpuType, number> {
    const out: Record<GpuType, number> = {};
    for (const type of this.types) {
      const s = this.steps.get(type)!;
      const end = this.loopS ?? Math.max(s.times[s.times.length - 1]!, 1);
      let lost = 0;
      let gpuSeconds = 0;
      for (let i = 0; i < s.times.length; i++) {
        if (i > 0 && s.values[i]! < s.values[i - 1]!) lost += s.values[i - 1]! - s.values[i]!;
        const until = i + 1 < s.times.length ? s.times[i + 1]! : end;
        gpuSeconds += s.values[i]! * Math.max(0, until - s.times[i]!);
      }
      out[type] = gpuSeconds > 0 ? lost / (gpuSeconds / 3600) : 0;
    }
    return out;
  }
}

/** Prices per GPU-hour per cluster type over time (step functions, from time 0). */
export class PriceSchedule {
  private readonly steps = new Map<GpuType, Steps>();

  constructor(trace: PriceTrace) {
    for (const p of trace.points) {
      const s = this.steps.get(p.type) ?? { times: [], values: [] };
      if (s.times.length > 0 && s.times[s.times.length - 1] === p.time) s.values[s.values.length - 1] = p.usdPerGpuHour;
      else {
        s.times.push(p.time);
        s.values.push(p.usdPerGpuHour);
      }
      this.steps.set(p.type, s);
    }
  }

  has(type: GpuType): boolean {
    return this.steps.has(type);
  }

  /** $ per GPU-hour of `type` at t. */
  priceAt(type: GpuType, t: number): number {
    const s = this.steps.get(type);
    if (!s) return 0;
    return s.values[Math.max(0, stepAt(s, t))]!;
  }

  pricesAt(types: readonly GpuType[], t: number): Record<GpuType, number> {
    const out: Record<GpuType, number> = {};
    for (const type of types) if (this.steps.has(type)) out[type] = this.priceAt(type, t);
    return out;
  }

  /** Dollars for `gpus` GPUs of `type` held over [a, b], at the prices in force over the span. */
  cost(type: GpuType, gpus: number, a: number, b: number): number {
    const s = this.steps.get(type);
    if (!s || b <= a) return 0;
    let usd = 0;
    let i = Math.max(0, stepAt(s, a));
    let t = a;
    while (t < b) {
      const until = i + 1 < s.times.length ? Math.min(b, s.times[i + 1]!) : b;
      usd += (s.values[i]! * gpus * (until - t)) / 3600;
      t = until;
      i++;
    }
    return usd;
  }

  /** Fails when a type the cluster uses has no price. */
  check(types: readonly GpuType[], file: string): void {
    const missing = types.filter((t) => !this.steps.has(t));
    if (missing.length > 0) {
      throw new RondoError({ code: 'E_INVALID', file, problem: `no price for ${missing.join(', ')}`, hint: 'add rows for these (gpu_type, tier, region) at time_s 0' });
    }
  }
}
