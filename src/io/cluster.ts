import { existsSync } from 'node:fs';
import { RondoError, preview } from '../model/errors.js';
import { makeCluster, normaliseGpuType, type ClusterSpec } from '../model/cluster.js';
import { bufferToText, readInput } from './input.js';
import { jsonPlace, parseJsonText } from './json-locate.js';

/** Gavel's positional cluster and per-server strings (`36:36:36`, `1:1:1`) list these types in this order. */
export const GAVEL_POSITIONAL_TYPES = ['v100', 'p100', 'k80'] as const;

const COUNT_RE = /^\d{1,9}$/;

export interface ClusterOptions {
  /** GPU types the caller can model (e.g. the throughput table's); any other type is refused with E_UNKNOWN_GPU. */
  knownTypes?: readonly string[];
}

interface Segment {
  text: string;
  column: number;
}

function segments(spec: string, sep: string): Segment[] {
  const out: Segment[] = [];
  let start = 0;
  for (const part of spec.split(sep)) {
    const lead = part.length - part.trimStart().length;
    out.push({ text: part.trim(), column: start + lead + 1 });
    start += part.length + sep.length;
  }
  return out;
}

function count(seg: Segment, what: string, file: string): number {
  if (!COUNT_RE.test(seg.text)) {
    throw new RondoError({ code: 'E_CLUSTER', file, line: 1, column: seg.column, problem: `bad ${what}`, expected: 'a whole number', found: JSON.stringify(preview(seg.text)) });
  }
  return Number(seg.text);
}

function typeName(seg: Segment, file: string, known: readonly string[] | undefined): string {
  let t: string;
  try {
    t = normaliseGpuType(seg.text);
  } catch (e) {
    throw e instanceof RondoError ? e.at({ file, line: 1, column: seg.column }) : e;
  }
  if (known && !known.includes(t)) {
    throw new RondoError({
      code: 'E_UNKNOWN_GPU',
      file,
      line: 1,
      column: seg.column,
      problem: `unknown GPU type ${JSON.stringify(t)}`,
      expected: `one of ${known.join(', ')}`,
      hint: 'the throughput table has no measurements for it',
    });
  }
  return t;
}

/**
 * GPU counts from `v100:36,p100:36,k80:36`, or Gavel's positional `36:36:36` (v100:p100:k80). Order is kept: it is
 * the order of every per-type array in Rondo.
 */
export function parseGpuCounts(spec: string, opts: ClusterOptions = {}, file = '<cluster>'): Array<[string, number]> {
  const s = spec.trim();
  if (s.length === 0) throw new RondoError({ code: 'E_CLUSTER', file, line: 1, column: 1, problem: 'empty cluster spec', expected: 'e.g. v100:36,p100:36,k80:36' });
  if (s.length > 10_000) throw new RondoError({ code: 'E_CLUSTER', file, line: 1, column: 1, problem: 'cluster spec is too long' });
  if (!s.includes(',') && s.split(':').every((p) => COUNT_RE.test(p.trim()))) {
    const segs = segments(spec, ':');
    if (segs.length > GAVEL_POSITIONAL_TYPES.length) {
      throw new RondoError({ code: 'E_CLUSTER', file, line: 1, column: 1, problem: `positional cluster spec has ${segs.length} counts`, expected: 'at most 3 (v100:p100:k80), or name the types: a100:8,v100:4' });
    }
    return segs.map((seg, i) => {
      const t = GAVEL_POSITIONAL_TYPES[i]!;
      typeName({ text: t, column: seg.column }, file, opts.knownTypes);
      return [t, count(seg, `GPU count of ${t}`, file)];
    });
  }
  return segments(spec, ',').map((seg) => {
    const parts = segments(seg.text, ':');
    if (parts.length !== 2) {
      throw new RondoError({ code: 'E_CLUSTER', file, line: 1, column: seg.column, problem: 'bad cluster entry', expected: 'type:count, e.g. v100:36', found: JSON.stringify(preview(seg.text)) });
    }
    const at = (p: Segment): Segment => ({ text: p.text, column: seg.column + p.column - 1 });
    const t = typeName(at(parts[0]!), file, opts.knownTypes);
    return [t, count(at(parts[1]!), `GPU count of ${t}`, file)];
  });
}

/**
 * GPUs per server: one number for every type (`4`), per type (`v100=4,k80=2`; types not named get 1), or Gavel's
 * positional `4:4:4` (v100:p100:k80).
 */
export function parseGpusPerServer(spec: string, file = '<gpus per server>'): number | Record<string, number> {
  const s = spec.trim();
  if (COUNT_RE.test(s)) return Number(s);
  if (s.length > 10_000) throw new RondoError({ code: 'E_CLUSTER', file, line: 1, column: 1, problem: 'GPUs-per-server setting is too long' });
  if (!s.includes('=') && s.includes(':') && s.split(':').every((p) => COUNT_RE.test(p.trim()))) {
    const segs = segments(spec, ':');
    if (segs.length > GAVEL_POSITIONAL_TYPES.length) {
      throw new RondoError({ code: 'E_CLUSTER', file, line: 1, column: 1, problem: `positional GPUs-per-server has ${segs.length} values`, expected: 'at most 3 (v100:p100:k80)' });
    }
    return Object.fromEntries(segs.map((seg, i) => [GAVEL_POSITIONAL_TYPES[i]!, count(seg, 'GPUs per server', file)]));
  }
  const out: Record<string, number> = {};
  for (const seg of segments(spec, ',')) {
    const parts = segments(seg.text, '=');
    if (parts.length !== 2) {
      throw new RondoError({ code: 'E_CLUSTER', file, line: 1, column: seg.column, problem: 'bad GPUs-per-server entry', expected: 'a number (4) or type=number pairs (v100=4,k80=2)', found: JSON.stringify(preview(seg.text)) });
    }
    const at = (p: Segment): Segment => ({ text: p.text, column: seg.column + p.column - 1 });
    const t = typeName(at(parts[0]!), file, undefined);
    out[t] = count(at(parts[1]!), `GPUs per server of ${t}`, file);
  }
  return out;
}

function fromJson(text: string, file: string, gpusPerServer: string | undefined, opts: ClusterOptions): ClusterSpec {
  const doc = parseJsonText(text, file);
  const at = (path: string[]): { file: string; line: number; column: number } => ({ file, ...jsonPlace(text, path, true) });
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new RondoError({ code: 'E_CLUSTER', file, line: 1, column: 1, problem: 'cluster JSON is not an object', expected: '{"gpus": {"v100": 36}, "gpusPerServer": 4}' });
  }
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'gpus' && k !== 'gpusPerServer') {
      throw new RondoError({ code: 'E_CLUSTER', ...at([k]), problem: `unknown member ${JSON.stringify(preview(k))} in cluster JSON`, expected: 'gpus, gpusPerServer' });
    }
  }
  const gpus = o.gpus;
  if (gpus === null || typeof gpus !== 'object' || Array.isArray(gpus)) {
    throw new RondoError({ code: 'E_CLUSTER', ...at(['gpus']), problem: 'cluster JSON needs "gpus": {type: count}' });
  }
  const counts: Array<[string, number]> = [];
  for (const [rawT, n] of Object.entries(gpus as Record<string, unknown>)) {
    const place = at(['gpus', rawT]);
    const t = typeName({ text: rawT, column: place.column }, file, opts.knownTypes);
    if (typeof n !== 'number') throw new RondoError({ code: 'E_CLUSTER', ...place, problem: `GPU count of ${t} is not a number`, found: preview(n) });
    counts.push([t, n]);
  }
  let per: number | Record<string, number> | undefined;
  if (gpusPerServer !== undefined) per = parseGpusPerServer(gpusPerServer);
  else if (typeof o.gpusPerServer === 'number') per = o.gpusPerServer;
  else if (typeof o.gpusPerServer === 'string') per = parseGpusPerServer(o.gpusPerServer, file);
  else if (o.gpusPerServer !== null && typeof o.gpusPerServer === 'object' && !Array.isArray(o.gpusPerServer)) {
    per = {};
    for (const [t, n] of Object.entries(o.gpusPerServer as Record<string, unknown>)) {
      if (typeof n !== 'number') throw new RondoError({ code: 'E_CLUSTER', ...at(['gpusPerServer', t]), problem: `GPUs per server of ${t} is not a number`, found: preview(n) });
      per[t] = n;
    }
  } else if (o.gpusPerServer !== undefined) {
    throw new RondoError({ code: 'E_CLUSTER', ...at(['gpusPerServer']), problem: 'bad gpusPerServer', expected: 'a number or {type: number}', found: preview(o.gpusPerServer) });
  }
  try {
    return makeCluster(counts, per);
  } catch (e) {
    throw e instanceof RondoError ? e.at({ file, line: 1, column: 1 }) : e;
  }
}

/**
 * A cluster from a spec: `v100:36,p100:36,k80:36`, Gavel's `36:36:36`, inline JSON
 * (`{"gpus": {...}, "gpusPerServer": ...}`) or the path of such a JSON file. `gpusPerServer` (a setting string, see
 * parseGpusPerServer) overrides the JSON's; default 1 GPU per server, as in Gavel's simulator.
 */
export function parseCluster(spec: string, gpusPerServer?: string, opts: ClusterOptions = {}): ClusterSpec {
  const s = spec.trim();
  if (s.startsWith('{')) return fromJson(s, '<cluster>', gpusPerServer, opts);
  if (s.toLowerCase().endsWith('.json') || (!/^[\w.-]+:\d/.test(s) && existsSync(s))) {
    return fromJson(bufferToText(readInput(s, { maxBytes: 16 * 1024 * 1024 }), s), s, gpusPerServer, opts);
  }
  const counts = parseGpuCounts(s, opts);
  const per = gpusPerServer === undefined ? undefined : parseGpusPerServer(gpusPerServer);
  try {
    return makeCluster(counts, per);
  } catch (e) {
    throw e instanceof RondoError ? e.at({ file: '<cluster>', line: 1, column: 1 }) : e;
  }
}
