/**
 * Seeded what-if traces (docs/formats.md, "Generated traces"): spot capacity as a birth-death process and spot prices
 * as a bounded random walk, written in the capacity and price trace formats so they go through the same readers.
 */
import { RondoError, seededRandom } from '../model/index.js';

export interface CapacityGenOptions {
  readonly gpu: string;
  readonly region?: string;
  /** GPUs in the pool when nothing is revoked. */
  readonly gpus: number;
  /** Revocations per GPU-hour of running capacity. */
  readonly revocationsPerGpuHour: number;
  /** Mean seconds until a revoked GPU can be had again. */
  readonly meanReturnS: number;
  readonly noticeS: number;
  readonly hours: number;
  readonly seed: number;
  /** Also list an on-demand pool of this many GPUs of the same card (default none). */
  readonly onDemandGpus?: number;
}

const expo = (r: () => number, mean: number): number => -Math.log(1 - r()) * mean;

export function generateCapacityCsv(o: CapacityGenOptions): string {
  if (!(o.gpus >= 0) || !(o.revocationsPerGpuHour >= 0) || !(o.meanReturnS > 0) || !(o.hours > 0) || !(o.noticeS >= 0)) {
    throw new RondoError({ code: 'E_USAGE', problem: 'capacity generator: gpus, rate and notice must be >= 0; return time and hours > 0' });
  }
  const r = seededRandom(o.seed);
  const region = o.region ?? '';
  const end = o.hours * 3600;
  const lines = ['time_s,gpu_type,tier,region,gpus,notice_s'];
  if (o.onDemandGpus !== undefined) lines.push(`0,${o.gpu},on-demand,${region},${o.onDemandGpus},`);
  lines.push(`0,${o.gpu},spot,${region},${o.gpus},`);
  let up = o.gpus;
  const returns: number[] = [];
  let t = 0;
  for (;;) {
    const rate = (up * o.revocationsPerGpuHour) / 3600;
    const nextRevoke = rate > 0 ? t + expo(r, 1 / rate) : Infinity;
    const nextReturn = returns.length > 0 ? Math.min(...returns) : Infinity;
    t = Math.min(nextRevoke, nextReturn);
    if (!(t < end)) break;
    if (t === nextReturn) {
      returns.splice(returns.indexOf(nextReturn), 1);
      up++;
      lines.push(`${round(t)},${o.gpu},spot,${region},${up},`);
    } else {
      up--;
      returns.push(t + expo(r, o.meanReturnS));
      lines.push(`${round(t)},${o.gpu},spot,${region},${up},${Math.min(o.noticeS, round(t))}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export interface PriceGenOptions {
  readonly gpu: string;
  readonly region?: string;
  readonly onDemand: number;
  /** Starting spot price, $/GPU-hour. */
  readonly spot: number;
  /** Relative standard deviation of each step's move. */
  readonly volatility: number;
  readonly stepHours: number;
  readonly hours: number;
  readonly seed: number;
}

/** Spot price random walk, kept within [10%, 100%] of the on-demand price (spot never costs more). */
export function generatePricesCsv(o: PriceGenOptions): string {
  const r = seededRandom(o.seed);
  const region = o.region ?? '';
  const lines = ['time_s,gpu_type,tier,region,usd_per_gpu_hour', `0,${o.gpu},on-demand,${region},${o.onDemand}`, `0,${o.gpu},spot,${region},${o.spot}`];
  let p = o.spot;
  for (let t = o.stepHours * 3600; t < o.hours * 3600; t += o.stepHours * 3600) {
    // Sum of 12 uniforms - 6: a seeded, dependency-free approximately normal draw.
    let z = -6;
    for (let i = 0; i < 12; i++) z += r();
    p = Math.min(o.onDemand, Math.max(0.1 * o.onDemand, p * (1 + o.volatility * z)));
    lines.push(`${round(t)},${o.gpu},spot,${region},${Math.round(p * 1e6) / 1e6}`);
  }
  return `${lines.join('\n')}\n`;
}

const round = (t: number): number => Math.round(t * 1000) / 1000;
