import { RondoError, preview } from '../model/errors.js';
import { JOB_MODES, type Job, type JobMode } from '../model/job.js';
import { forEachLine, type TextInput } from './input.js';
import { formatNumber, parseFlagField, parseIntegerField, parseNumberField, type FieldPlace } from './fields.js';
import { IdRegistry, normaliseJob, validatePlaced, type JobDraft, type JobField } from './job-build.js';

/** The tab-separated trace formats of Gavel and Shockwave (no header line, one job per line). */
export type TabFormat = 'gavel-msr' | 'gavel' | 'shockwave';

/** What one column holds. `slo` is Gavel's SLO factor with -1 for none. */
type ColumnKind =
  | 'jobType'
  | 'command'
  | 'workingDirectory'
  | 'numStepsArg'
  | 'needsDataDir'
  | 'totalSteps'
  | 'scaleFactor'
  | 'arrivalTime'
  | 'priorityWeight'
  | 'slo'
  | 'mode'
  | 'durationS';

export const TAB_COLUMNS: Readonly<Record<TabFormat, readonly ColumnKind[]>> = {
  // Philly-derived msr traces (Gavel's older 7-column layout).
  'gavel-msr': ['jobType', 'command', 'numStepsArg', 'needsDataDir', 'totalSteps', 'arrivalTime', 'scaleFactor'],
  // Gavel's current layout, read by its utils.parse_trace.
  gavel: [
    'jobType', 'command', 'workingDirectory', 'numStepsArg', 'needsDataDir', 'totalSteps', 'scaleFactor',
    'priorityWeight', 'slo', 'arrivalTime',
  ],
  shockwave: [
    'jobType', 'command', 'workingDirectory', 'numStepsArg', 'needsDataDir', 'totalSteps', 'scaleFactor', 'mode',
    'priorityWeight', 'slo', 'durationS', 'arrivalTime',
  ],
};

const KIND_FIELD: Record<ColumnKind, JobField> = {
  jobType: 'jobType',
  command: 'command',
  workingDirectory: 'workingDirectory',
  numStepsArg: 'numStepsArg',
  needsDataDir: 'needsDataDir',
  totalSteps: 'totalSteps',
  scaleFactor: 'scaleFactor',
  arrivalTime: 'arrivalTime',
  priorityWeight: 'priorityWeight',
  slo: 'sloFactor',
  mode: 'mode',
  durationS: 'durationS',
};

const KIND_LABEL: Record<ColumnKind, string> = {
  jobType: 'job type',
  command: 'command',
  workingDirectory: 'working directory',
  numStepsArg: 'steps argument',
  needsDataDir: 'needs_data_dir',
  totalSteps: 'total steps',
  scaleFactor: 'scale factor',
  arrivalTime: 'arrival time',
  priorityWeight: 'priority weight',
  slo: 'SLO',
  mode: 'mode',
  durationS: 'duration',
};

/** Splits a line on tabs, with the 1-based column where each field starts. */
export function splitTabs(line: string): { fields: string[]; columns: number[] } {
  const fields: string[] = [];
  const columns: number[] = [];
  let start = 0;
  while (true) {
    const t = line.indexOf('\t', start);
    columns.push(start + 1);
    if (t === -1) {
      fields.push(line.slice(start));
      break;
    }
    fields.push(line.slice(start, t));
    start = t + 1;
  }
  return { fields, columns };
}

export interface TabLine {
  job: Job;
  line: number;
}

/**
 * Parses one tab-separated trace. Jobs get their 0-based index among the job lines as id (Gavel does the same);
 * blank lines are skipped. Throws a placed RondoError on the first bad field.
 */
export function parseTabTrace(input: TextInput, format: TabFormat, file?: string): TabLine[] {
  const kinds = TAB_COLUMNS[format];
  const out: TabLine[] = [];
  const ids = new IdRegistry();
  forEachLine(input, (text, line) => {
    if (text.trim().length === 0) return;
    const { fields, columns } = splitTabs(text);
    if (fields.length !== kinds.length) {
      throw new RondoError({
        code: 'E_COLUMNS',
        file,
        line,
        column: fields.length > kinds.length ? columns[kinds.length]! : text.length + 1,
        problem: `${fields.length} tab-separated columns in a ${format} trace`,
        expected: `${kinds.length} columns (${kinds.map((k) => KIND_LABEL[k]).join(', ')})`,
        found: String(fields.length),
      });
    }
    const d: JobDraft = { id: String(out.length), jobType: '', scaleFactor: 0, arrivalTime: 0 };
    kinds.forEach((kind, i) => {
      const raw = fields[i]!;
      const place: FieldPlace = { file, line, column: columns[i]! };
      const what = KIND_LABEL[kind];
      switch (kind) {
        case 'jobType':
          d.jobType = raw;
          break;
        case 'command':
        case 'workingDirectory':
        case 'numStepsArg':
          // Empty text fields mean "not given" so that writing an absent field and reading it back round-trips.
          if (raw.length > 0) d[kind] = raw;
          break;
        case 'needsDataDir':
          d.needsDataDir = parseFlagField(raw, what, place);
          break;
        case 'totalSteps':
        case 'arrivalTime':
        case 'priorityWeight':
        case 'durationS':
          d[kind] = parseNumberField(raw, what, place);
          break;
        case 'scaleFactor':
          d.scaleFactor = parseIntegerField(raw, what, place);
          break;
        case 'slo': {
          const v = parseNumberField(raw, what, place);
          // Gavel writes -1 for "no SLO". Other negatives are mistakes, not "none".
          if (v === -1) break;
          if (v <= 0) {
            throw new RondoError({ code: 'E_RANGE', ...place, problem: 'bad SLO', expected: 'a factor above 0, or -1 for none', found: raw });
          }
          d.sloFactor = v;
          break;
        }
        case 'mode': {
          const m = raw.trim();
          if (!(JOB_MODES as readonly string[]).includes(m)) {
            throw new RondoError({ code: 'E_RANGE', ...place, problem: 'unknown mode', expected: JOB_MODES.join(' | '), found: JSON.stringify(preview(raw)) });
          }
          d.mode = m as JobMode;
          break;
        }
      }
    });
    const colOf = (f: JobField): number | undefined => {
      const i = kinds.findIndex((k) => KIND_FIELD[k] === f);
      return i === -1 ? undefined : columns[i];
    };
    const job = validatePlaced(normaliseJob(d), { file, line }, colOf);
    ids.add(job.id, file, line, () => 1);
    out.push({ job, line });
  });
  return out;
}

/** Tally of what a writer could not express, by field. */
export class LossTally {
  private readonly counts = new Map<string, number>();
  add(what: string): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1);
  }
  /** One line per lost field, e.g. `mode (120 jobs)`, sorted for deterministic output. */
  list(): string[] {
    return [...this.counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([w, n]) => `${w} (${n} job${n === 1 ? '' : 's'})`);
  }
}

function refuse(job: Job, index: number, format: string, problem: string, hint?: string): RondoError {
  return new RondoError({ code: 'E_INVALID', problem: `job ${JSON.stringify(job.id)} (#${index}) cannot be written as ${format}: ${problem}`, hint });
}

function textField(job: Job, index: number, format: TabFormat, name: string, v: string | undefined): string {
  const s = v ?? '';
  if (/[\t\r\n]/.test(s)) throw refuse(job, index, format, `its ${name} contains a tab or line break`);
  return s;
}

/**
 * Writes jobs as a tab-separated trace. Refuses (E_INVALID) jobs the format cannot hold at all (no total steps, text
 * with tabs or line breaks); returns in `lost` the fields it had to drop or round.
 */
export function formatTabTrace(jobs: readonly Job[], format: TabFormat): { text: string; lost: string[] } {
  const kinds = TAB_COLUMNS[format];
  const lost = new LossTally();
  const lines: string[] = [];
  jobs.forEach((job, index) => {
    if (job.totalSteps === undefined) {
      throw refuse(job, index, format, 'it has a duration but no total steps', 'convert to canonical instead, or give totalSteps');
    }
    if (format === 'shockwave' && job.durationS === undefined) {
      throw refuse(job, index, format, 'Shockwave traces need a duration', 'give durationS');
    }
    // Ids are implicit (the line index) in every tab format.
    if (job.id !== String(index)) lost.add('job ids (not equal to the line index)');
    const has = new Set(kinds.map((k) => KIND_FIELD[k]));
    if (job.priorityWeight !== 1 && !has.has('priorityWeight')) lost.add('priorityWeight');
    const optional: JobField[] = [
      'durationS', 'referenceGpuType', 'sloFactor', 'deadlineS', 'tenant', 'user', 'gpuTypes', 'mode',
      'workingDirectory',
    ];
    for (const f of optional) if (job[f] !== undefined && !has.has(f)) lost.add(f);
    let steps = job.totalSteps;
    if (!Number.isInteger(steps)) {
      // Gavel's parser reads steps with int(); keep its files loadable by Gavel itself.
      steps = Math.max(1, Math.round(steps));
      lost.add('fractional totalSteps (rounded to integers)');
    }
    const cells = kinds.map((kind): string => {
      switch (kind) {
        case 'jobType':
          if (job.jobType.length === 0) throw refuse(job, index, format, 'empty job type');
          return textField(job, index, format, 'job type', job.jobType);
        case 'command':
          return textField(job, index, format, 'command', job.command);
        case 'workingDirectory':
          return textField(job, index, format, 'working directory', job.workingDirectory);
        case 'numStepsArg':
          return textField(job, index, format, 'steps argument', job.numStepsArg);
        case 'needsDataDir':
          return job.needsDataDir ? '1' : '0';
        case 'totalSteps':
          return formatNumber(steps);
        case 'scaleFactor':
          return formatNumber(job.scaleFactor);
        case 'arrivalTime':
          return formatNumber(job.arrivalTime);
        case 'priorityWeight':
          return formatNumber(job.priorityWeight);
        case 'slo':
          return job.sloFactor === undefined ? '-1' : formatNumber(job.sloFactor);
        case 'mode':
          return job.mode ?? 'static';
        case 'durationS':
          return formatNumber(job.durationS!);
      }
    });
    lines.push(cells.join('\t'));
  });
  return { text: lines.length ? `${lines.join('\n')}\n` : '', lost: lost.list() };
}
