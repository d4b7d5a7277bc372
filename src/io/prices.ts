import { RondoError, preview } from '../model/errors.js';
import { tierTypeName } from '../model/spot.js';
import type { GpuType } from '../model/cluster.js';
import { readInput, type TextInput } from './input.js';
import { parseNumberField } from './fields.js';
import { readCsvRows, readKeyCells, readTime } from './series-csv.js';

/** One price change: from `time` on, a GPU of `type` costs `usdPerGpuHour`. */
export interface PricePoint {
  readonly time: number;
  readonly type: GpuType;
  readonly usdPerGpuHour: number;
}

export interface PriceTrace {
  readonly points: readonly PricePoint[];
}

/** Parses a price trace (docs/formats.md, "Price traces"). */
export function parsePrices(input: TextInput, file = '<prices>'): PriceTrace {
  const rows = readCsvRows(input, file, ['time_s', 'gpu_type', 'usd_per_gpu_hour'], ['tier', 'region'], 'price trace');
  const points: PricePoint[] = [];
  const first = new Map<GpuType, number>();
  let prev = 0;
  for (const r of rows) {
    const time = readTime(r, file, prev);
    prev = time;
    const type = tierTypeName(readKeyCells(r, file));
    const usd = parseNumberField(r.get('usd_per_gpu_hour'), 'usd_per_gpu_hour', { file, line: r.line, column: 1 });
    if (usd < 0) throw new RondoError({ code: 'E_INVALID', file, line: r.line, problem: 'negative price', expected: 'USD per GPU-hour, >= 0', found: preview(r.get('usd_per_gpu_hour')) });
    if (!first.has(type)) {
      if (time > 0) {
        throw new RondoError({ code: 'E_INVALID', file, line: r.line, problem: `the first price of ${type} is at time_s ${time}, so its price before then is unknown`, hint: `add a row for ${type} at time_s 0` });
      }
      first.set(type, time);
    }
    points.push({ time, type, usdPerGpuHour: usd });
  }
  if (points.length === 0) throw new RondoError({ code: 'E_INVALID', file, problem: 'price trace has no rows', hint: 'add a row per (gpu_type, tier) at time_s 0' });
  return { points };
}

export function readPricesFile(file: string): PriceTrace {
  return parsePrices(readInput(file), file);
}
