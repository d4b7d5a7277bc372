import { RondoError, preview } from '../model/errors.js';
import type { Job } from '../model/job.js';
import { LineIndex, arrayElementOffsets, jsonPlace, parseJsonText } from './json-locate.js';
import { IdRegistry, normaliseJob, validatePlaced, type JobDraft, type JobField } from './job-build.js';

/** Keys of one element of Gavel's generated-jobs JSON array, and the Job field each fills. */
const GAVEL_JSON_KEYS: Readonly<Record<string, JobField>> = {
  job_id: 'id',
  arrival_time: 'arrivalTime',
  job_type: 'jobType',
  scale_factor: 'scaleFactor',
  total_steps: 'totalSteps',
  duration_s: 'durationS',
  priority_weight: 'priorityWeight',
  SLO: 'sloFactor',
};
const REQUIRED = ['job_id', 'arrival_time', 'job_type', 'scale_factor'];

export interface JsonJob {
  job: Job;
  line: number;
}

/**
 * Reads the JSON array of jobs Gavel's generator dumps (`generated_jobs.json`): exact (unrounded) steps and
 * durations. `SLO` null or -1 means none.
 */
export function parseGavelJson(text: string, file?: string): JsonJob[] {
  const doc = parseJsonText(text, file);
  if (!Array.isArray(doc)) {
    throw new RondoError({ code: 'E_SCHEMA', file, line: 1, column: 1, problem: 'not a JSON array of jobs', expected: '[{"job_id": ..., ...}, ...]' });
  }
  const ids = new IdRegistry();
  const out: JsonJob[] = [];
  // Element lines in one pass (a search per element would make large files quadratic); key places only on errors.
  const starts = arrayElementOffsets(text);
  const lines = new LineIndex(text);
  doc.forEach((el: unknown, i) => {
    const at = (key?: string): { file?: string; line: number; column: number } =>
      key === undefined ? { file, ...lines.at(starts[i] ?? 0) } : { file, ...jsonPlace(text, [i, key], true) };
    if (el === null || typeof el !== 'object' || Array.isArray(el)) {
      throw new RondoError({ code: 'E_SCHEMA', ...at(), problem: `element ${i} is not a job object`, found: preview(el) });
    }
    const o = el as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!(k in GAVEL_JSON_KEYS)) {
        throw new RondoError({ code: 'E_SCHEMA', ...at(k), problem: `unknown key ${JSON.stringify(preview(k))} in job ${i}`, expected: Object.keys(GAVEL_JSON_KEYS).join(', ') });
      }
    }
    for (const k of REQUIRED) {
      if (o[k] === undefined || o[k] === null) {
        throw new RondoError({ code: 'E_SCHEMA', ...at(), problem: `job ${i} lacks ${k}` });
      }
    }
    const num = (k: string, allowNull = false): number | undefined => {
      const v = o[k];
      if (v === undefined || (allowNull && v === null)) return undefined;
      if (typeof v !== 'number') {
        throw new RondoError({ code: 'E_SCHEMA', ...at(k), problem: `${k} of job ${i} is not a number`, found: preview(v) });
      }
      return v;
    };
    const rawId = o.job_id;
    let id: string;
    if (typeof rawId === 'number' && Number.isSafeInteger(rawId) && rawId >= 0) id = String(rawId);
    else if (typeof rawId === 'string' && rawId.length > 0) id = rawId;
    else throw new RondoError({ code: 'E_SCHEMA', ...at('job_id'), problem: `bad job_id of job ${i}`, expected: 'an integer >= 0 or a string', found: preview(rawId) });
    if (typeof o.job_type !== 'string') {
      throw new RondoError({ code: 'E_SCHEMA', ...at('job_type'), problem: `job_type of job ${i} is not a string`, found: preview(o.job_type) });
    }
    const slo = num('SLO', true);
    if (slo !== undefined && slo !== -1 && slo <= 0) {
      throw new RondoError({ code: 'E_RANGE', ...at('SLO'), problem: 'bad SLO', expected: 'a factor above 0, or null / -1 for none', found: String(slo) });
    }
    const d: JobDraft = {
      id,
      jobType: o.job_type,
      scaleFactor: num('scale_factor')!,
      arrivalTime: num('arrival_time')!,
      totalSteps: num('total_steps', true),
      durationS: num('duration_s', true),
      priorityWeight: num('priority_weight', true),
      sloFactor: slo === -1 ? undefined : slo,
    };
    const keyOf = (f: JobField): string | undefined => Object.keys(GAVEL_JSON_KEYS).find((k) => GAVEL_JSON_KEYS[k] === f);
    const place = at();
    const job = validatePlaced(normaliseJob(d), place, (f) => {
      const k = keyOf(f);
      return k && k in o ? at(k).column : undefined;
    });
    ids.add(job.id, file, place.line, () => at('job_id').column);
    out.push({ job, line: place.line });
  });
  return out;
}
