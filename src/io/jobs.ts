import { RondoError, preview } from '../model/errors.js';
import { validateJobs, type Job } from '../model/job.js';
import { bufferToText, checkBytes, firstContentLine, readInput, type ReadOptions, type TextInput } from './input.js';
import { splitTabs, parseTabTrace, formatTabTrace, TAB_COLUMNS, type TabFormat } from './trace-tab.js';
import { parseGavelJson } from './gavel-json.js';
import { formatCanonical, parseCanonical, type CanonicalHeader } from './canonical.js';
import { orderByArrival, type ArrivalOrder } from './job-build.js';
import { writeFileAtomic } from './atomic.js';

/** Every job-list format Rondo reads. */
export type TraceFormat = TabFormat | 'gavel-json' | 'canonical';
export const TRACE_FORMATS: readonly TraceFormat[] = ['gavel-msr', 'gavel', 'shockwave', 'gavel-json', 'canonical'];
/** Formats `writeJobs` can produce (Gavel's generator JSON is input only). */
export type WriteFormat = TabFormat | 'canonical';
export const WRITE_FORMATS: readonly WriteFormat[] = ['canonical', 'gavel', 'gavel-msr', 'shockwave'];

const ALIASES: Readonly<Record<string, TraceFormat>> = {
  'gavel-msr': 'gavel-msr',
  msr: 'gavel-msr',
  gavel7: 'gavel-msr',
  gavel: 'gavel',
  gavel10: 'gavel',
  'gavel-10': 'gavel',
  shockwave: 'shockwave',
  'gavel-json': 'gavel-json',
  'gavel-generated': 'gavel-json',
  canonical: 'canonical',
  jsonl: 'canonical',
  rondo: 'canonical',
};

/** Resolves a user-typed format name (`msr`, `gavel`, `jsonl`, ...); E_USAGE listing the names otherwise. */
export function parseTraceFormat(name: string): TraceFormat {
  const f = ALIASES[name.trim().toLowerCase()];
  if (!f) {
    throw new RondoError({ code: 'E_USAGE', problem: `unknown trace format ${JSON.stringify(preview(name))}`, expected: TRACE_FORMATS.join(', ') });
  }
  return f;
}

export function parseWriteFormat(name: string): WriteFormat {
  const f = parseTraceFormat(name);
  if (f === 'gavel-json') {
    throw new RondoError({ code: 'E_USAGE', problem: 'gavel-json is an input format only', expected: WRITE_FORMATS.join(', ') });
  }
  return f;
}

/**
 * Tells the format from the content: a JSON array is Gavel's generator output, JSON objects one per line are canonical,
 * otherwise the number of tab-separated columns of the first line (7 msr, 10 Gavel, 12 Shockwave) decides.
 */
export function detectFormat(input: TextInput, file?: string): TraceFormat {
  if (typeof input !== 'string') checkBytes(input, file);
  const first = firstContentLine(input);
  if (!first) throw new RondoError({ code: 'E_EMPTY', file, line: 1, column: 1, problem: 'no jobs (the file is blank)' });
  const t = first.text.trimStart();
  if (t.startsWith('[')) return 'gavel-json';
  if (t.startsWith('{')) {
    try {
      const v: unknown = JSON.parse(first.text);
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) return 'canonical';
    } catch {
      // fall through to the explanation below
    }
    throw new RondoError({
      code: 'E_FORMAT',
      file,
      line: first.lineNo,
      column: 1,
      problem: 'a JSON document that is not one job object per line',
      expected: 'canonical JSON Lines, a JSON array of Gavel jobs, or a tab-separated trace',
      hint: 'is this a throughput file? pass it with --throughputs',
    });
  }
  const n = splitTabs(first.text).fields.length;
  for (const f of ['gavel-msr', 'gavel', 'shockwave'] as const) if (TAB_COLUMNS[f].length === n) return f;
  throw new RondoError({
    code: 'E_FORMAT',
    file,
    line: first.lineNo,
    column: 1,
    problem: `cannot tell the trace format from a line of ${n} tab-separated column${n === 1 ? '' : 's'}`,
    expected: '7 (Gavel msr), 10 (Gavel), 12 (Shockwave) tab-separated columns, or JSON',
    found: JSON.stringify(preview(first.text)),
  });
}

export interface ParseJobsOptions {
  /** Skip detection. */
  format?: TraceFormat;
  /** For error messages. */
  file?: string;
  /** Unsorted arrivals: sort stably (default) or refuse with E_UNSORTED. */
  arrivalOrder?: ArrivalOrder;
}

export interface JobsRead {
  /** Valid jobs with unique ids, in arrival order (ties keep file order). */
  jobs: Job[];
  format: TraceFormat;
  header?: CanonicalHeader;
  /** Jobs that were not in arrival order in the file and were moved by the stable sort. */
  reordered: number;
}

/** Parses a job list of any supported format (detected from the content unless given). */
export function parseJobs(input: TextInput, opts: ParseJobsOptions = {}): JobsRead {
  const { file } = opts;
  if (typeof input !== 'string') checkBytes(input, file);
  const format = opts.format ?? detectFormat(input, file);
  let rows: { job: Job; line: number }[];
  let header: CanonicalHeader | undefined;
  switch (format) {
    case 'gavel-msr':
    case 'gavel':
    case 'shockwave':
      rows = parseTabTrace(input, format, file);
      break;
    case 'gavel-json':
      rows = parseGavelJson(typeof input === 'string' ? input : bufferToText(input, file), file);
      break;
    case 'canonical': {
      const r = parseCanonical(input, file);
      rows = r.jobs;
      header = r.header;
      break;
    }
  }
  if (rows.length === 0) throw new RondoError({ code: 'E_EMPTY', file, line: 1, column: 1, problem: 'no jobs in the file' });
  const { jobs, reordered } = orderByArrival(
    rows.map((r) => r.job),
    rows.map((r) => r.line),
    opts.arrivalOrder ?? 'sort',
    file,
  );
  try {
    validateJobs(jobs);
  } catch (e) {
    // Readers already checked each job and id with its line; this is a backstop.
    throw e instanceof RondoError ? e.at({ file, line: 1, column: 1 }) : e;
  }
  return header ? { jobs, format, header, reordered } : { jobs, format, reordered };
}

/** Reads a job list from a file (size, emptiness and binary checks first). */
export function readJobs(path: string, opts: Omit<ParseJobsOptions, 'file'> & ReadOptions = {}): JobsRead {
  const buf = readInput(path, opts);
  // Decode once when the text fits in a string (fast path); huge files are read line by line from the bytes.
  const input: TextInput = buf.length < 256 * 1024 * 1024 ? bufferToText(buf, path) : buf;
  return parseJobs(input, { ...opts, file: path });
}

export interface FormatJobsOptions {
  /** Canonical only: provenance header written as the first line. */
  header?: Omit<CanonicalHeader, 'rondoJobs'>;
}

/** Serialises jobs; `lost` lists what the target format could not carry (empty for canonical). */
export function formatJobs(jobs: readonly Job[], format: WriteFormat, opts: FormatJobsOptions = {}): { text: string; lost: string[] } {
  if (format === 'canonical') return { text: formatCanonical(jobs, opts.header), lost: [] };
  return formatTabTrace(jobs, format);
}

/** Writes jobs atomically (no partial file on error). Returns what the format could not carry. */
export function writeJobs(path: string, jobs: readonly Job[], format: WriteFormat, opts: FormatJobsOptions = {}): { lost: string[] } {
  const { text, lost } = formatJobs(jobs, format, opts);
  writeFileAtomic(path, text);
  return { lost };
}
