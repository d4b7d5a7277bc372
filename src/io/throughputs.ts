import { RondoError, preview } from '../model/errors.js';
import { normaliseGpuType } from '../model/cluster.js';
import { jobKey, parseJobKey, type ThroughputEntry, type ThroughputTable } from '../model/throughput.js';
import { bufferToText, readInput, type ReadOptions } from './input.js';
import { jsonPlace, parseJsonText } from './json-locate.js';
import { pythonFloatRepr } from './fields.js';

const UNCONSOLIDATED = '_unconsolidated';
// Python's repr of a (str, int) tuple: ('name', 4), or ("it's", 4) when the name holds a single quote. Linear: the
// quoted part cannot contain its own quote character, so there is one way to match.
const TUPLE_RE = /^\(\s*(?:'([^']*)'|"([^"]*)")\s*,\s*(\d{1,9})\s*\)$/;

/** Parses Gavel's `"('ResNet-18 (batch size 64)', 4)"` into a Rondo job key, or undefined when malformed. */
export function parseGavelKey(s: string): { jobType: string; scaleFactor: number } | undefined {
  if (s.length > 600) return undefined;
  const m = TUPLE_RE.exec(s);
  if (!m) return undefined;
  const jobType = m[1] ?? m[2]!;
  const scaleFactor = Number(m[3]);
  if (jobType.length === 0 || jobType.includes('|') || scaleFactor < 1) return undefined;
  return { jobType, scaleFactor };
}

/** Gavel's key text for a Rondo job key (Python tuple repr). */
export function gavelKey(key: string): string {
  const { jobType, scaleFactor } = parseJobKey(key);
  const q = jobType.includes("'") && !jobType.includes('"') ? '"' : "'";
  return `(${q}${jobType}${q}, ${scaleFactor})`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Reads Gavel's throughput JSON: `{worker_type: {"('<job type>', <sf>)": {"null": isolated steps/s,
 * "('<other>', <sf>)": [self, other]}}}`. `<type>_unconsolidated` worker types fill `unconsolidated`. Every error
 * names the line and column of the offending key or value.
 */
export function parseThroughputs(text: string, file?: string): ThroughputTable {
  const doc = parseJsonText(text, file);
  const place = (path: (string | number)[], atKey = true): { file?: string; line: number; column: number } => ({
    file,
    ...jsonPlace(text, path, atKey),
  });
  if (!isObject(doc)) {
    throw new RondoError({ code: 'E_SCHEMA', file, line: 1, column: 1, problem: 'throughput file is not a JSON object', expected: '{"v100": {...}, ...}' });
  }
  const gpuTypes: string[] = [];
  const consolidated: Record<string, Record<string, ThroughputEntry>> = {};
  const unconsolidated: Record<string, Record<string, ThroughputEntry>> = {};
  // Hot path (tens of thousands of values): check cheaply, build messages only on failure.
  const number = (v: unknown, path: () => (string | number)[], what: () => string): number => {
    if (typeof v === 'number' && v >= 0 && v <= 1e12) return v;
    throw new RondoError({ code: typeof v === 'number' ? 'E_RANGE' : 'E_SCHEMA', ...place(path(), false), problem: `bad ${what()}`, expected: 'steps/s, a number from 0 to 1e12', found: preview(v) });
  };
  // The same pair keys recur under every entry; parse each text once.
  const keyCache = new Map<string, string | null>();
  const rondoKey = (raw: string): string | null => {
    let k = keyCache.get(raw);
    if (k === undefined) {
      const p = parseGavelKey(raw);
      k = p ? jobKey(p.jobType, p.scaleFactor) : null;
      keyCache.set(raw, k);
    }
    return k;
  };
  for (const [rawType, byKey] of Object.entries(doc)) {
    const isUncons = rawType.endsWith(UNCONSOLIDATED);
    let t: string;
    try {
      t = normaliseGpuType(isUncons ? rawType.slice(0, -UNCONSOLIDATED.length) : rawType);
    } catch (e) {
      throw e instanceof RondoError ? e.at(place([rawType])) : e;
    }
    if (!isObject(byKey)) {
      throw new RondoError({ code: 'E_SCHEMA', ...place([rawType], false), problem: `worker type ${rawType} is not an object of job keys` });
    }
    const target = isUncons ? unconsolidated : consolidated;
    if (target[t]) throw new RondoError({ code: 'E_DUPLICATE', ...place([rawType]), problem: `worker type ${rawType} appears twice (after normalising case)` });
    if (!isUncons) gpuTypes.push(t);
    const entries: Record<string, ThroughputEntry> = {};
    for (const [rawKey, entry] of Object.entries(byKey)) {
      const key = rondoKey(rawKey);
      if (key === null) {
        throw new RondoError({ code: 'E_SCHEMA', ...place([rawType, rawKey]), problem: 'bad job key', expected: "\"('<job type>', <scale factor>)\"", found: preview(rawKey) });
      }
      if (!isObject(entry)) {
        throw new RondoError({ code: 'E_SCHEMA', ...place([rawType, rawKey], false), problem: `entry of ${rawKey} is not an object` });
      }
      if (!('null' in entry)) {
        throw new RondoError({ code: 'E_SCHEMA', ...place([rawType, rawKey]), problem: `${rawKey} on ${rawType} has no isolated throughput ("null")` });
      }
      const isolated = number(entry.null, () => [rawType, rawKey, 'null'], () => `isolated throughput of ${rawKey} on ${rawType}`);
      const colocated: Record<string, readonly [number, number]> = {};
      for (const [rawOther, pair] of Object.entries(entry)) {
        if (rawOther === 'null') continue;
        const other = rondoKey(rawOther);
        if (other === null) {
          throw new RondoError({ code: 'E_SCHEMA', ...place([rawType, rawKey, rawOther]), problem: 'bad co-located job key', expected: "\"('<job type>', <scale factor>)\"", found: preview(rawOther) });
        }
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new RondoError({ code: 'E_SCHEMA', ...place([rawType, rawKey, rawOther], false), problem: `co-located throughput of ${rawKey} with ${rawOther} is not a pair`, expected: '[self, other]', found: preview(pair) });
        }
        const what = (): string => `co-located throughput of ${rawKey} with ${rawOther}`;
        colocated[other] = [
          number(pair[0], () => [rawType, rawKey, rawOther, 0], what),
          number(pair[1], () => [rawType, rawKey, rawOther, 1], what),
        ];
      }
      if (entries[key]) throw new RondoError({ code: 'E_DUPLICATE', ...place([rawType, rawKey]), problem: `job key ${rawKey} appears twice on ${rawType}` });
      entries[key] = { isolated, colocated };
    }
    target[t] = entries;
  }
  for (const t of Object.keys(unconsolidated)) {
    if (!consolidated[t]) {
      throw new RondoError({ code: 'E_SCHEMA', ...place([`${t}${UNCONSOLIDATED}`]), problem: `${t}${UNCONSOLIDATED} has no consolidated type ${t}` });
    }
  }
  if (gpuTypes.length === 0) {
    throw new RondoError({ code: 'E_SCHEMA', file, line: 1, column: 1, problem: 'throughput file has no GPU types', expected: '{"v100": {...}, ...}' });
  }
  // Every value and type was checked above with its place, so validateThroughputTable (a second full pass) is not
  // needed here; the tests check that its invariants hold for what this returns.
  return { gpuTypes, consolidated, unconsolidated };
}

export function readThroughputs(path: string, opts: ReadOptions = {}): ThroughputTable {
  return parseThroughputs(bufferToText(readInput(path, opts), path), path);
}

/**
 * Gavel's form of a table, byte for byte as Gavel's Python writes it (json.dump, indent 4, float reprs): consolidated
 * types first, then `<type>_unconsolidated` in the same order.
 */
export function formatThroughputs(table: ThroughputTable): string {
  const out: string[] = [];
  const ind = (n: number): string => ' '.repeat(4 * n);
  const str = (s: string): string => JSON.stringify(s);
  const blocks: [string, Readonly<Record<string, ThroughputEntry>>][] = [];
  for (const t of table.gpuTypes) blocks.push([t, table.consolidated[t] ?? {}]);
  // Unconsolidated types keep their own order (Gavel's files list them differently from the consolidated ones).
  for (const [t, u] of Object.entries(table.unconsolidated)) blocks.push([`${t}${UNCONSOLIDATED}`, u]);
  out.push('{');
  blocks.forEach(([name, entries], bi) => {
    const keys = Object.keys(entries);
    const comma = bi < blocks.length - 1 ? ',' : '';
    if (keys.length === 0) {
      out.push(`${ind(1)}${str(name)}: {}${comma}`);
      return;
    }
    out.push(`${ind(1)}${str(name)}: {`);
    keys.forEach((k, ki) => {
      const e = entries[k]!;
      out.push(`${ind(2)}${str(gavelKey(k))}: {`);
      const members = [`${ind(3)}"null": ${pythonFloatRepr(e.isolated)}`];
      for (const [o, pair] of Object.entries(e.colocated)) {
        members.push(`${ind(3)}${str(gavelKey(o))}: [\n${ind(4)}${pythonFloatRepr(pair[0])},\n${ind(4)}${pythonFloatRepr(pair[1])}\n${ind(3)}]`);
      }
      out.push(members.join(',\n'));
      out.push(`${ind(2)}}${ki < keys.length - 1 ? ',' : ''}`);
    });
    out.push(`${ind(1)}}${comma}`);
  });
  out.push('}');
  return out.join('\n');
}
