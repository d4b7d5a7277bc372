/**
 * Throughputs for tiered cluster types (issue 23). A spot type runs at its card's throughput; a card the table does
 * not measure (Gavel's table has k80, p100 and v100 only) borrows a measured row scaled by a factor. The default
 * factors are modelling assumptions from spec-sheet ratios (mainly memory bandwidth, which bounds most of Gavel's
 * models), not measurements: docs/formats.md, "GPU types without a throughput row".
 */
import { RondoError, parseTierType, type GpuType, type ThroughputEntry, type ThroughputTable } from '../model/index.js';

export interface RowMapping {
  readonly row: GpuType;
  readonly factor: number;
}

export const DEFAULT_GPU_MAP: Readonly<Record<GpuType, RowMapping>> = {
  t4: { row: 'p100', factor: 0.8 },
  l4: { row: 'v100', factor: 0.8 },
  a10g: { row: 'v100', factor: 1.0 },
  a100: { row: 'v100', factor: 2.0 },
  'a100-80gb': { row: 'v100', factor: 2.2 },
  h100: { row: 'v100', factor: 3.5 },
};

/** Parses `t4=p100*0.8,a100=v100*2` (the factor may be left out: 1). */
export function parseGpuMap(spec: string): Record<GpuType, RowMapping> {
  const out: Record<GpuType, RowMapping> = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z0-9][a-z0-9_-]*)=([a-z0-9][a-z0-9_-]*)(?:\*([0-9]*\.?[0-9]+))?$/.exec(part.toLowerCase());
    if (!m || (m[3] !== undefined && !(Number(m[3]) > 0))) {
      throw new RondoError({ code: 'E_USAGE', problem: 'bad --gpu-map entry', expected: 'CARD=ROW or CARD=ROW*FACTOR, e.g. t4=p100*0.8', found: part });
    }
    out[m[1]!] = { row: m[2]!, factor: m[3] === undefined ? 1 : Number(m[3]) };
  }
  return out;
}

function scaleEntries(rows: Readonly<Record<string, ThroughputEntry>>, f: number): Record<string, ThroughputEntry> {
  const out: Record<string, ThroughputEntry> = {};
  for (const [key, e] of Object.entries(rows)) {
    const colocated: Record<string, readonly [number, number]> = {};
    for (const [b, v] of Object.entries(e.colocated)) colocated[b] = [v[0] * f, v[1] * f];
    out[key] = { isolated: e.isolated * f, colocated };
  }
  return out;
}

/**
 * A table with one entry per cluster type: the card's own row, or its mapped row, times `factor` (the share of run
 * time left after checkpoint writes, 1 without checkpoints).
 */
export function tieredTable(table: ThroughputTable, types: readonly GpuType[], map: Readonly<Record<GpuType, RowMapping>>, factor: number): ThroughputTable {
  const consolidated: Record<GpuType, Record<string, ThroughputEntry>> = {};
  const unconsolidated: Record<GpuType, Record<string, ThroughputEntry>> = {};
  for (const type of types) {
    const { gpu } = parseTierType(type);
    const own = table.consolidated[gpu] !== undefined;
    const m = own ? { row: gpu, factor: 1 } : map[gpu];
    if (!m || table.consolidated[m.row] === undefined) {
      throw new RondoError({
        code: 'E_UNKNOWN_JOB_TYPE',
        problem: `GPU type ${gpu} has no throughput row${m ? ` (mapped to ${m.row}, which the table lacks)` : ''}`,
        hint: `map it to a measured type, e.g. --gpu-map ${gpu}=v100*1 (measured: ${table.gpuTypes.join(', ')})`,
      });
    }
    consolidated[type] = scaleEntries(table.consolidated[m.row]!, m.factor * factor);
    if (table.unconsolidated[m.row]) unconsolidated[type] = scaleEntries(table.unconsolidated[m.row]!, m.factor * factor);
  }
  return { gpuTypes: [...types], consolidated, unconsolidated };
}
