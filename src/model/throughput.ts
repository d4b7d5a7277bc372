import { RondoError } from './errors.js';
import type { GpuType } from './cluster.js';

/** `(job type, scale factor)`: the unit a throughput table is measured for. */
export function jobKey(jobType: string, scaleFactor: number): string {
  return `${jobType}|${scaleFactor}`;
}

export function parseJobKey(key: string): { jobType: string; scaleFactor: number } {
  const i = key.lastIndexOf('|');
  return { jobType: key.slice(0, i), scaleFactor: Number(key.slice(i + 1)) };
}

/** Throughputs of one job key on one GPU type. */
export interface ThroughputEntry {
  /** Steps per second when the job runs alone on its GPUs. */
  readonly isolated: number;
  /**
   * Space sharing: for another job key `b`, `[steps/s of this job, steps/s of b]` when both share the same GPUs.
   */
  readonly colocated: Readonly<Record<string, readonly [number, number]>>;
}

/**
 * Measured throughputs, as in Gavel's throughput files. Consolidated placement (all GPUs of the job on one server)
 * is the normal case; `unconsolidated` holds the throughput when a multi-GPU job is spread over servers, for types
 * where it was measured.
 */
export interface ThroughputTable {
  /** GPU types with consolidated measurements, in file order. */
  readonly gpuTypes: readonly GpuType[];
  readonly consolidated: Readonly<Record<GpuType, Readonly<Record<string, ThroughputEntry>>>>;
  readonly unconsolidated: Readonly<Record<GpuType, Readonly<Record<string, ThroughputEntry>>>>;
}

/** Isolated throughput of a job key on a type, or undefined when not measured. */
export function isolatedThroughput(
  table: ThroughputTable,
  gpuType: GpuType,
  key: string,
  consolidated = true,
): number | undefined {
  const byType = consolidated ? table.consolidated : table.unconsolidated;
  return byType[gpuType]?.[key]?.isolated;
}

/**
 * Throughput when spread over servers: the unconsolidated measurement where one exists, else the consolidated one
 * (single-GPU jobs are always consolidated).
 */
export function spreadThroughput(table: ThroughputTable, gpuType: GpuType, key: string): number | undefined {
  return isolatedThroughput(table, gpuType, key, false) ?? isolatedThroughput(table, gpuType, key, true);
}

/** Co-located throughputs `[a, b]` of keys a and b sharing GPUs of a type, or undefined. */
export function colocatedThroughput(
  table: ThroughputTable,
  gpuType: GpuType,
  a: string,
  b: string,
): readonly [number, number] | undefined {
  return table.consolidated[gpuType]?.[a]?.colocated[b];
}

/** Every job key with a consolidated measurement on at least one type, sorted. */
export function jobKeys(table: ThroughputTable): string[] {
  const keys = new Set<string>();
  for (const t of table.gpuTypes) for (const k of Object.keys(table.consolidated[t] ?? {})) keys.add(k);
  return [...keys].sort();
}

/** Distinct job types (model names), sorted. */
export function jobTypes(table: ThroughputTable): string[] {
  return [...new Set(jobKeys(table).map((k) => parseJobKey(k).jobType))].sort();
}

/** True when the key has a usable (finite, > 0) isolated throughput on at least one of `types`. */
export function hasThroughput(table: ThroughputTable, key: string, types: readonly GpuType[] = table.gpuTypes): boolean {
  return types.some((t) => {
    const v = isolatedThroughput(table, t, key);
    return v !== undefined && v > 0;
  });
}

/**
 * Per-type isolated throughputs of a key, aligned with `types`; a type without a measurement gets 0 (the job
 * cannot usefully run there).
 */
export function throughputRow(table: ThroughputTable, key: string, types: readonly GpuType[]): number[] {
  return types.map((t) => isolatedThroughput(table, t, key) ?? 0);
}

/** Checks a table's invariants (finite, non-negative throughputs; unconsolidated types have a base type). */
export function validateThroughputTable(table: ThroughputTable): ThroughputTable {
  if (table.gpuTypes.length === 0) {
    throw new RondoError({ code: 'E_SCHEMA', problem: 'throughput table has no GPU types' });
  }
  const check = (where: string, v: number): void => {
    if (!Number.isFinite(v) || v < 0 || v > 1e12) {
      throw new RondoError({ code: 'E_RANGE', problem: `bad throughput at ${where}`, expected: 'steps/s from 0 to 1e12', found: String(v) });
    }
  };
  for (const [kind, byType] of [['', table.consolidated], ['_unconsolidated', table.unconsolidated]] as const) {
    for (const [t, entries] of Object.entries(byType)) {
      if (kind && !table.gpuTypes.includes(t)) {
        throw new RondoError({ code: 'E_SCHEMA', problem: `${t}_unconsolidated has no consolidated type ${t}` });
      }
      for (const [k, e] of Object.entries(entries)) {
        check(`${t}${kind} ${k}`, e.isolated);
        for (const [other, pair] of Object.entries(e.colocated)) {
          check(`${t}${kind} ${k} with ${other}`, pair[0]);
          check(`${t}${kind} ${k} with ${other}`, pair[1]);
        }
      }
    }
  }
  return table;
}
