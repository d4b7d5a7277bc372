import { RondoError, preview } from '../model/errors.js';
import { tierTypeName, type TierKey } from '../model/spot.js';
import type { GpuType } from '../model/cluster.js';
import { readInput, type TextInput } from './input.js';
import { parseIntegerField, parseNumberField } from './fields.js';
import { readCsvRows, readKeyCells, readTime } from './series-csv.js';

/** One row of a capacity trace: from `time` on, `gpus` GPUs of `type` are available. */
export interface CapacityEvent {
  readonly time: number;
  /** Cluster type name (`tierTypeName`). */
  readonly type: GpuType;
  readonly gpus: number;
  /** For a decrease: seconds of warning before `time`; the jobs on the revoked GPUs stop at `time - notice`. */
  readonly notice: number;
}

export interface CapacityTrace {
  /** Every (card, tier, region) the trace names, in order of first appearance, with its cluster type name. */
  readonly keys: ReadonlyArray<TierKey & { readonly type: GpuType }>;
  readonly events: readonly CapacityEvent[];
}

const COLUMNS = ['time_s', 'gpu_type', 'gpus'] as const;
const OPTIONAL = ['tier', 'region', 'notice_s'] as const;

/** Parses a capacity trace (docs/formats.md, "Capacity traces"). */
export function parseCapacity(input: TextInput, file = '<capacity>'): CapacityTrace {
  const rows = readCsvRows(input, file, COLUMNS, OPTIONAL, 'capacity trace');
  const keys: Array<TierKey & { type: GpuType }> = [];
  const events: CapacityEvent[] = [];
  let prev = 0;
  for (const r of rows) {
    const time = readTime(r, file, prev);
    prev = time;
    const k = readKeyCells(r, file);
    const type = tierTypeName(k);
    if (!keys.some((x) => x.type === type)) keys.push({ ...k, type });
    const gpus = parseIntegerField(r.get('gpus'), 'gpus', { file, line: r.line, column: 1 });
    if (gpus < 0 || gpus > 1_000_000) throw new RondoError({ code: 'E_INVALID', file, line: r.line, problem: 'gpus out of range', expected: 'an integer from 0 to 1000000', found: preview(r.get('gpus')) });
    const notice = r.has('notice_s') ? parseNumberField(r.get('notice_s'), 'notice_s', { file, line: r.line, column: 1 }) : 0;
    if (notice < 0 || notice > time) {
      throw new RondoError({ code: 'E_INVALID', file, line: r.line, problem: `notice_s ${notice} is negative or reaches before the trace start`, expected: `0 <= notice_s <= time_s (${time})`, hint: 'give the warning in seconds before time_s, or leave it empty for none' });
    }
    events.push({ time, type, gpus, notice });
  }
  if (events.length === 0) throw new RondoError({ code: 'E_INVALID', file, problem: 'capacity trace has no rows', hint: 'add a row per (gpu_type, tier) at time_s 0' });
  return { keys, events };
}

export function readCapacityFile(file: string): CapacityTrace {
  return parseCapacity(readInput(file), file);
}
