import { RondoError, preview } from '../model/errors.js';
import { normaliseGpuType } from '../model/cluster.js';
import { JOB_MODES, type Job } from '../model/job.js';
import { forEachLine, type TextInput } from './input.js';
import { jsonPlace, parseJsonText } from './json-locate.js';
import { IdRegistry, JOB_FIELDS, normaliseJob, validatePlaced, type JobDraft, type JobField } from './job-build.js';

/** Version of the canonical job format written in the header's `rondoJobs` member. */
export const CANONICAL_VERSION = 1;

/**
 * Optional first line of a canonical file: provenance. Only `rondoJobs` is required; the named members are checked
 * when present and anything else is kept as given.
 */
export interface CanonicalHeader {
  rondoJobs: number;
  /** File the jobs were converted from. */
  source?: string;
  /** Format of that file. */
  sourceFormat?: string;
  /** Seed of the generator or job-type assignment that produced the jobs. */
  seed?: number;
  /** GPU type on which durations were measured (default v100). */
  referenceGpuType?: string;
  [key: string]: unknown;
}

export interface CanonicalRead {
  header?: CanonicalHeader;
  jobs: { job: Job; line: number }[];
}

type FieldType = 'string' | 'number' | 'numberOrNull' | 'boolean' | 'gpuTypes' | 'mode' | 'id' | 'gpuType';
const FIELD_TYPES: Readonly<Record<JobField, FieldType>> = {
  id: 'id',
  jobType: 'string',
  scaleFactor: 'number',
  arrivalTime: 'number',
  totalSteps: 'number',
  durationS: 'number',
  referenceGpuType: 'gpuType',
  priorityWeight: 'number',
  sloFactor: 'numberOrNull',
  deadlineS: 'numberOrNull',
  tenant: 'string',
  user: 'string',
  gpuTypes: 'gpuTypes',
  mode: 'mode',
  command: 'string',
  workingDirectory: 'string',
  numStepsArg: 'string',
  needsDataDir: 'boolean',
};
const REQUIRED: readonly JobField[] = ['id', 'jobType', 'scaleFactor', 'arrivalTime'];

function checkHeader(o: Record<string, unknown>, file: string | undefined, line: number, text: string): CanonicalHeader {
  const place = (k: string): { file?: string; line: number; column: number } => ({ file, ...jsonPlace(text, [k], true, line - 1) });
  if (o.rondoJobs !== CANONICAL_VERSION) {
    throw new RondoError({ code: 'E_SCHEMA', ...place('rondoJobs'), problem: 'unsupported canonical format version', expected: String(CANONICAL_VERSION), found: preview(o.rondoJobs) });
  }
  for (const k of ['source', 'sourceFormat', 'referenceGpuType'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'string') {
      throw new RondoError({ code: 'E_SCHEMA', ...place(k), problem: `header ${k} is not a string`, found: preview(o[k]) });
    }
  }
  if (o.seed !== undefined && (typeof o.seed !== 'number' || !Number.isFinite(o.seed))) {
    throw new RondoError({ code: 'E_SCHEMA', ...place('seed'), problem: 'header seed is not a number', found: preview(o.seed) });
  }
  return o as CanonicalHeader;
}

/**
 * Reads canonical JSON Lines: one job object per line in the `Job` type's camelCase names, optionally preceded by a
 * `{"rondoJobs": 1, ...}` header. Unknown members are refused (they are usually typos of optional fields).
 */
export function parseCanonical(input: TextInput, file?: string): CanonicalRead {
  const out: CanonicalRead = { jobs: [] };
  const ids = new IdRegistry();
  let first = true;
  forEachLine(input, (text, line) => {
    if (text.trim().length === 0) return;
    const v = parseJsonText(text, file, line - 1);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new RondoError({ code: 'E_SCHEMA', file, line, column: 1, problem: 'line is not a JSON object', expected: 'one job object per line', found: preview(text) });
    }
    const o = v as Record<string, unknown>;
    if (first && 'rondoJobs' in o) {
      first = false;
      out.header = checkHeader(o, file, line, text);
      return;
    }
    first = false;
    const place = (k?: string): { file?: string; line: number; column: number } =>
      k === undefined ? { file, line, column: 1 } : { file, ...jsonPlace(text, [k], true, line - 1) };
    if ('rondoJobs' in o) {
      throw new RondoError({ code: 'E_SCHEMA', ...place('rondoJobs'), problem: 'header object after the first line', hint: 'the {"rondoJobs": 1} header may only be the first line' });
    }
    const d: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(o)) {
      const type = FIELD_TYPES[k as JobField];
      if (type === undefined) {
        throw new RondoError({ code: 'E_SCHEMA', ...place(k), problem: `unknown job field ${JSON.stringify(preview(k))}`, expected: `one of ${JOB_FIELDS.join(', ')}` });
      }
      const wrong = (expected: string): RondoError =>
        new RondoError({ code: 'E_SCHEMA', ...place(k), problem: `bad ${k}`, expected, found: preview(val) });
      switch (type) {
        case 'id':
          if (typeof val === 'string') d[k] = val;
          else if (typeof val === 'number' && Number.isSafeInteger(val) && val >= 0) d[k] = String(val);
          else throw wrong('a string (or an integer >= 0)');
          break;
        case 'string':
          if (typeof val !== 'string') throw wrong('a string');
          d[k] = val;
          break;
        case 'number':
          if (typeof val !== 'number') throw wrong('a number');
          d[k] = val;
          break;
        case 'numberOrNull':
          if (val === null) break;
          if (typeof val !== 'number') throw wrong('a number or null');
          d[k] = val;
          break;
        case 'boolean':
          if (typeof val !== 'boolean') throw wrong('true or false');
          d[k] = val;
          break;
        case 'gpuType':
          if (typeof val !== 'string') throw wrong('a GPU type name');
          try {
            d[k] = normaliseGpuType(val);
          } catch (e) {
            throw e instanceof RondoError ? e.at(place(k)) : e;
          }
          break;
        case 'gpuTypes':
          if (!Array.isArray(val) || val.length === 0 || !val.every((t) => typeof t === 'string')) {
            throw wrong('a non-empty list of GPU type names');
          }
          try {
            d[k] = [...new Set(val.map((t: string) => normaliseGpuType(t)))];
          } catch (e) {
            throw e instanceof RondoError ? e.at(place(k)) : e;
          }
          break;
        case 'mode':
          if (typeof val !== 'string' || !(JOB_MODES as readonly string[]).includes(val)) throw wrong(JOB_MODES.join(' | '));
          d[k] = val;
          break;
      }
    }
    for (const k of REQUIRED) {
      if (d[k] === undefined) {
        throw new RondoError({ code: 'E_SCHEMA', file, line, column: 1, problem: `job lacks ${k}`, expected: `members ${REQUIRED.join(', ')}` });
      }
    }
    const job = validatePlaced(normaliseJob(d as unknown as JobDraft), { file, line }, (f) => (f in o ? place(f).column : undefined));
    ids.add(job.id, file, line, () => place('id').column);
    out.jobs.push({ job, line });
  });
  return out;
}

/** One job as a canonical line: fields in JOB_FIELDS order, absent fields omitted. */
export function canonicalLine(job: Job): string {
  return JSON.stringify(normaliseJob(job));
}

/** A canonical file: the header (if given) then one line per job. Nothing is lost in this format. */
export function formatCanonical(jobs: readonly Job[], header?: Omit<CanonicalHeader, 'rondoJobs'>): string {
  const lines: string[] = [];
  if (header) {
    const { rondoJobs: _ignored, ...rest } = header as CanonicalHeader;
    lines.push(JSON.stringify({ rondoJobs: CANONICAL_VERSION, ...rest }));
  }
  for (const j of jobs) lines.push(canonicalLine(j));
  return lines.length ? `${lines.join('\n')}\n` : '';
}
