import { RondoError, preview } from '../model/errors.js';
import { parseTier, type Tier } from '../model/spot.js';
import { normaliseGpuType } from '../model/cluster.js';
import { forEachLine, type TextInput } from './input.js';
import { parseNumberField } from './fields.js';

/**
 * The shared shape of the capacity and price traces (docs/formats.md): comma-separated, a header naming the
 * columns (any order, extra columns ignored), `#` comment lines and blank lines skipped, rows in time order.
 */
export interface CsvRow {
  readonly line: number;
  readonly get: (col: string) => string;
  readonly has: (col: string) => boolean;
}

export function readCsvRows(input: TextInput, file: string, required: readonly string[], optional: readonly string[], what: string): CsvRow[] {
  let header: string[] | undefined;
  const rows: CsvRow[] = [];
  forEachLine(input, (text, line) => {
    const t = text.trim();
    if (t === '' || t.startsWith('#')) return;
    const cells = text.split(',').map((c) => c.trim());
    if (!header) {
      header = cells.map((c) => c.toLowerCase());
      const missing = required.filter((c) => !header!.includes(c));
      if (missing.length > 0) {
        throw new RondoError({
          code: 'E_INVALID', file, line, problem: `${what} header lacks column(s) ${missing.join(', ')}`,
          expected: [...required, ...optional].join(','), found: preview(text), hint: `start the file with a header line: ${[...required, ...optional].join(',')}`,
        });
      }
      return;
    }
    if (cells.length > header.length) {
      throw new RondoError({ code: 'E_INVALID', file, line, problem: `row has ${cells.length} fields, the header has ${header.length}`, found: preview(text), hint: 'remove the extra commas' });
    }
    const h = header;
    rows.push({
      line,
      get: (col) => cells[h.indexOf(col)] ?? '',
      has: (col) => h.includes(col) && (cells[h.indexOf(col)] ?? '') !== '',
    });
  });
  if (!header) throw new RondoError({ code: 'E_INVALID', file, problem: `${what} is empty`, hint: `give a header line (${required.join(',')}) and rows` });
  return rows;
}

export interface KeyCells {
  readonly gpu: string;
  readonly tier: Tier;
  readonly region: string;
}

export function readKeyCells(r: CsvRow, file: string): KeyCells {
  const place = { file, line: r.line };
  let gpu: string;
  try {
    gpu = normaliseGpuType(r.get('gpu_type'));
  } catch {
    throw new RondoError({ code: 'E_INVALID', ...place, problem: 'bad gpu_type', expected: 'a lower-case card name such as v100, t4, a100', found: preview(r.get('gpu_type')) });
  }
  const tier = parseTier(r.has('tier') ? r.get('tier') : 'on-demand');
  if (!tier) throw new RondoError({ code: 'E_INVALID', ...place, problem: 'bad tier', expected: 'on-demand or spot', found: preview(r.get('tier')) });
  const region = r.get('region').toLowerCase();
  if (region && !/^[a-z0-9][a-z0-9_-]*$/.test(region)) {
    throw new RondoError({ code: 'E_INVALID', ...place, problem: 'bad region', expected: 'letters, digits, "-" or "_" (e.g. us-east1), or empty', found: preview(region) });
  }
  if (gpu.includes('.') || gpu.endsWith('-spot')) {
    throw new RondoError({ code: 'E_INVALID', ...place, problem: `gpu_type ${gpu} carries a tier or region`, hint: 'give the card name alone (a100) and put the tier and region in their columns' });
  }
  return { gpu, tier, region };
}

/** A time column: seconds, finite, >= 0, never before the previous row's. */
export function readTime(r: CsvRow, file: string, prev: number): number {
  const place = { file, line: r.line, column: 1 };
  const t = parseNumberField(r.get('time_s'), 'time_s', place);
  if (t < 0) throw new RondoError({ code: 'E_INVALID', file, line: r.line, problem: 'time_s is negative', expected: 'seconds since the trace start, >= 0', found: String(t) });
  if (t < prev) {
    throw new RondoError({ code: 'E_INVALID', file, line: r.line, problem: `time_s ${t} comes before the previous row's ${prev}`, hint: 'sort the rows by time_s' });
  }
  return t;
}
