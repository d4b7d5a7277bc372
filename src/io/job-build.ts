import { RondoError } from '../model/errors.js';
import { validateJob, type Job, type JobMode } from '../model/job.js';

/** Mutable draft of a job while a reader fills it in. */
export interface JobDraft {
  id: string;
  jobType: string;
  scaleFactor: number;
  arrivalTime: number;
  totalSteps?: number;
  durationS?: number;
  referenceGpuType?: string;
  priorityWeight?: number;
  sloFactor?: number;
  deadlineS?: number;
  tenant?: string;
  user?: string;
  gpuTypes?: string[];
  mode?: JobMode;
  command?: string;
  workingDirectory?: string;
  numStepsArg?: string;
  needsDataDir?: boolean;
}

/** Every Job field in the order Rondo writes them. */
export const JOB_FIELDS = [
  'id',
  'jobType',
  'scaleFactor',
  'arrivalTime',
  'totalSteps',
  'durationS',
  'referenceGpuType',
  'priorityWeight',
  'sloFactor',
  'deadlineS',
  'tenant',
  'user',
  'gpuTypes',
  'mode',
  'command',
  'workingDirectory',
  'numStepsArg',
  'needsDataDir',
] as const satisfies readonly (keyof Job)[];

export type JobField = (typeof JOB_FIELDS)[number];

/**
 * A job with its fields in one fixed order and no `undefined` members, so that jobs from different readers compare
 * equal field by field and serialise identically.
 */
export function normaliseJob(d: JobDraft | Job): Job {
  const out: Record<string, unknown> = {};
  for (const k of JOB_FIELDS) {
    const v = k === 'priorityWeight' ? (d.priorityWeight ?? 1) : d[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? [...v] : v;
  }
  return out as unknown as Job;
}

// validateJob names the field in its `problem`; map it back to the field so readers can point at the column.
const PROBLEM_FIELD: ReadonlyArray<[string, JobField]> = [
  ['bad job id', 'id'],
  ['bad job type', 'jobType'],
  ['bad scale factor', 'scaleFactor'],
  ['bad arrival time', 'arrivalTime'],
  ['bad total steps', 'totalSteps'],
  ['bad duration', 'durationS'],
  ['bad priority weight', 'priorityWeight'],
  ['bad SLO factor', 'sloFactor'],
  ['bad deadline', 'deadlineS'],
  ['bad mode', 'mode'],
  ['bad allowed GPU types', 'gpuTypes'],
];

/**
 * validateJob with the error placed: `columnOf(field)` gives the column of the field that broke (column 1 when the
 * field cannot be told, e.g. "neither steps nor duration").
 */
export function validatePlaced(
  job: Job,
  place: { file?: string; line: number },
  columnOf: (field: JobField) => number | undefined,
): Job {
  try {
    return validateJob(job);
  } catch (e) {
    if (!(e instanceof RondoError)) throw e;
    const hit = PROBLEM_FIELD.find(([p]) => e.problem.startsWith(p));
    const column = (hit && columnOf(hit[1])) ?? 1;
    throw e.at({ file: place.file, line: place.line, column });
  }
}

/** Tracks ids to report a duplicate with the line of both occurrences. */
export class IdRegistry {
  private readonly seen = new Map<string, number>();
  /** `column` is a function so that it is only worked out for an error. */
  add(id: string, file: string | undefined, line: number, column: () => number): void {
    const prev = this.seen.get(id);
    if (prev !== undefined) {
      throw new RondoError({
        code: 'E_DUPLICATE',
        file,
        line,
        column: column(),
        problem: `duplicate job id ${JSON.stringify(id)} (first on line ${prev})`,
        hint: 'job ids must be unique',
      });
    }
    this.seen.set(id, line);
  }
}

/** How a reader treats arrivals that go back in time. */
export type ArrivalOrder = 'sort' | 'error';

/**
 * Jobs in arrival order. Gavel's traces are sorted; an unsorted file is either sorted stably (ties and ids keep file
 * order, default) or refused with E_UNSORTED naming the first line that goes back in time.
 */
export function orderByArrival(
  jobs: Job[],
  lines: number[],
  order: ArrivalOrder,
  file: string | undefined,
): { jobs: Job[]; reordered: number } {
  let firstBad = -1;
  for (let i = 1; i < jobs.length; i++) {
    if (jobs[i]!.arrivalTime < jobs[i - 1]!.arrivalTime) {
      firstBad = i;
      break;
    }
  }
  if (firstBad === -1) return { jobs, reordered: 0 };
  if (order === 'error') {
    throw new RondoError({
      code: 'E_UNSORTED',
      file,
      line: lines[firstBad],
      column: 1,
      problem: `arrival time ${jobs[firstBad]!.arrivalTime} is before the previous job's ${jobs[firstBad - 1]!.arrivalTime}`,
      expected: 'jobs sorted by arrival time',
      hint: 'sort the file, or let Rondo sort it (the default)',
    });
  }
  const idx = jobs.map((_, i) => i);
  idx.sort((a, b) => jobs[a]!.arrivalTime - jobs[b]!.arrivalTime || a - b);
  let moved = 0;
  idx.forEach((from, to) => {
    if (from !== to) moved++;
  });
  return { jobs: idx.map((i) => jobs[i]!), reordered: moved };
}
