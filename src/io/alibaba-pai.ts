import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RondoError } from '../model/errors.js';
import type { Job } from '../model/job.js';
import { seededRandom } from '../model/random.js';
import { isolatedThroughput, jobKey, jobKeys, parseJobKey, type ThroughputTable } from '../model/throughput.js';
import { bufferToText, readInput } from './input.js';

/**
 * Alibaba PAI's GPU trace (cluster-trace-gpu-v2020, github.com/alibaba/clusterdata, CC-BY-4.0; cite Weng et al.,
 * "MLaaS in the Wild", NSDI'22) as a canonical trace whose tenants are PAI's users. Reads the two tables of the
 * trace's documented schema, as its tar files unpack (comma-separated, no header line; one is accepted):
 *
 *   pai_job_table.csv:  job_name,inst_id,user,status,start_time,end_time
 *   pai_task_table.csv: job_name,task_name,inst_num,status,start_time,end_time,plan_cpu,plan_mem,plan_gpu,gpu_type
 *
 * What the import assumes (docs/formats.md, "Alibaba PAI"): a job is one Rondo job of tenant = user; its arrival is
 * its submission (`start_time`) minus the trace's first; its GPUs are the sum over its tasks of inst_num x
 * ceil(plan_gpu / 100) (Rondo gives whole GPUs: a 50% GPU instance takes one); its run time is from its first task's
 * launch to its last task's end. Only jobs PAI reports 'Terminated' (the successful ones) with at least one GPU and
 * a positive run time are kept; the others are counted by reason. PAI's own GPU type (V100, P100, T4, MISC) is not
 * kept: the simulated cluster decides. Job types are assigned as Gavel's generator does, with a seed: a model drawn
 * uniformly from the throughput table's models measured at that scale on the reference type (v100), and steps for
 * the recorded run time on it; a scale the table lacks keeps a 1-GPU model and its run time as `durationS`
 * (`--drop-unknown` skips such jobs in a simulation, as for Philly's 12- to 32-GPU jobs).
 */

export const PAI_JOB_COLUMNS = ['job_name', 'inst_id', 'user', 'status', 'start_time', 'end_time'] as const;
export const PAI_TASK_COLUMNS = ['job_name', 'task_name', 'inst_num', 'status', 'start_time', 'end_time', 'plan_cpu', 'plan_mem', 'plan_gpu', 'gpu_type'] as const;
export const PAI_JOB_FILE = 'pai_job_table.csv';
export const PAI_TASK_FILE = 'pai_task_table.csv';

export interface PaiRead {
  readonly jobs: Job[];
  /** Distinct users among the kept jobs, sorted. */
  readonly users: string[];
  /** Jobs of the job table left out, by reason. */
  readonly skipped: Readonly<Record<string, number>>;
}

/** True when `dir` holds PAI's job table (what `rondo convert <folder>` looks for). */
export function isPaiFolder(dir: string): boolean {
  return existsSync(join(dir, PAI_JOB_FILE)) && statSync(join(dir, PAI_JOB_FILE)).isFile();
}

interface Row {
  readonly line: number;
  readonly f: readonly string[];
}

function rows(text: string, file: string, columns: readonly string[]): Row[] {
  const out: Row[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    // Blank lines and `#` lines (none in PAI's files; a fixture's provenance note) carry no row.
    if (raw.trim() === '' || raw.startsWith('#')) return;
    const f = raw.split(',');
    if (i === 0 && f.join(',') === columns.join(',')) return; // the .header line, if prepended
    if (f.length !== columns.length) {
      throw new RondoError({ code: 'E_COLUMNS', file, line: i + 1, problem: `${f.length} comma-separated fields`, expected: `${columns.length}: ${columns.join(',')}`, hint: "PAI's tables as unpacked from cluster-trace-gpu-v2020 (no quoted fields)" });
    }
    out.push({ line: i + 1, f });
  });
  return out;
}

function num(file: string, r: Row, col: number, name: string, opts: { empty?: boolean } = {}): number {
  const s = r.f[col]!.trim();
  if (s === '' && opts.empty) return NaN;
  const v = Number(s);
  if (s === '' || !Number.isFinite(v) || v < 0) throw new RondoError({ code: 'E_NUMBER', file, line: r.line, column: col + 1, problem: `bad ${name}`, expected: 'a number >= 0', found: s });
  return v;
}

/** Reads `pai_job_table.csv` and `pai_task_table.csv` from `dir`. */
export function readAlibabaPai(dir: string, table: ThroughputTable, opts: { seed?: number; referenceGpuType?: string } = {}): PaiRead {
  const jobFile = join(dir, PAI_JOB_FILE);
  const taskFile = join(dir, PAI_TASK_FILE);
  for (const f of [jobFile, taskFile]) {
    if (!existsSync(f)) throw new RondoError({ code: 'E_IO', file: f, problem: 'missing', hint: `a folder with ${PAI_JOB_FILE} and ${PAI_TASK_FILE} (unpack pai_job_table.tar.gz and pai_task_table.tar.gz from cluster-trace-gpu-v2020)` });
  }
  const jobRows = rows(bufferToText(readInput(jobFile, { maxBytes: 4 * 2 ** 30 }), jobFile), jobFile, PAI_JOB_COLUMNS);
  const taskRows = rows(bufferToText(readInput(taskFile, { maxBytes: 4 * 2 ** 30 }), taskFile), taskFile, PAI_TASK_COLUMNS);

  // Per job: GPUs asked, first task launch, last task end.
  const tasks = new Map<string, { gpus: number; start: number; end: number }>();
  for (const r of taskRows) {
    const name = r.f[0]!;
    const inst = num(taskFile, r, 2, 'inst_num');
    const planGpu = num(taskFile, r, 8, 'plan_gpu', { empty: true });
    const start = num(taskFile, r, 4, 'start_time', { empty: true });
    const end = num(taskFile, r, 5, 'end_time', { empty: true });
    const t = tasks.get(name) ?? { gpus: 0, start: Infinity, end: -Infinity };
    if (Number.isFinite(planGpu) && planGpu > 0) t.gpus += Math.round(inst) * Math.ceil(planGpu / 100 - 1e-9);
    if (Number.isFinite(start)) t.start = Math.min(t.start, start);
    if (Number.isFinite(end)) t.end = Math.max(t.end, end);
    tasks.set(name, t);
  }

  const ref = opts.referenceGpuType ?? 'v100';
  // Gavel's generator draws a model per job; at a scale above 1, only models measured at that scale.
  const byScale = new Map<number, string[]>();
  for (const k of jobKeys(table)) {
    if (isolatedThroughput(table, ref, k) === undefined) continue;
    const { jobType, scaleFactor } = parseJobKey(k);
    const l = byScale.get(scaleFactor) ?? [];
    l.push(jobType);
    byScale.set(scaleFactor, l);
  }
  const ones = byScale.get(1) ?? [];
  if (ones.length === 0) throw new RondoError({ code: 'E_INVALID', problem: `the throughput table has no 1-GPU model measured on ${ref}`, hint: 'use a Gavel throughput table (--throughputs)' });
  const rnd = seededRandom(opts.seed ?? 0);

  const skipped: Record<string, number> = {};
  const skip = (why: string): void => {
    skipped[why] = (skipped[why] ?? 0) + 1;
  };
  const kept: Array<{ name: string; user: string; submit: number; gpus: number; seconds: number }> = [];
  const seen = new Set<string>();
  for (const r of jobRows) {
    const [name, , user, status] = r.f as [string, string, string, string];
    if (seen.has(name)) throw new RondoError({ code: 'E_DUPLICATE', file: jobFile, line: r.line, problem: `job_name ${name} appears twice` });
    seen.add(name);
    if (status !== 'Terminated') {
      skip(`status ${status || '(empty)'}`);
      continue;
    }
    if (user.trim() === '') {
      skip('no user');
      continue;
    }
    const submit = num(jobFile, r, 4, 'start_time');
    const t = tasks.get(name);
    if (!t) {
      skip('no task rows');
      continue;
    }
    if (t.gpus <= 0) {
      skip('no GPU (CPU-only)');
      continue;
    }
    const seconds = t.end - t.start;
    if (!Number.isFinite(seconds) || seconds <= 0) {
      skip('no positive run time');
      continue;
    }
    kept.push({ name, user, submit, gpus: t.gpus, seconds });
  }
  // Arrival order, ties by the job table's order (a stable sort).
  kept.sort((a, b) => a.submit - b.submit);
  const t0 = kept.length > 0 ? kept[0]!.submit : 0;
  const jobs: Job[] = kept.map((k) => {
    const models = byScale.get(k.gpus);
    const jobType = (models ?? ones)[Math.floor(rnd() * (models ?? ones).length)]!;
    const steps = models ? isolatedThroughput(table, ref, jobKey(jobType, k.gpus))! * k.seconds : undefined;
    return {
      id: `pai:${k.name}`,
      jobType,
      scaleFactor: k.gpus,
      arrivalTime: k.submit - t0,
      ...(steps !== undefined ? { totalSteps: Math.max(1, Math.round(steps)) } : { durationS: k.seconds, referenceGpuType: ref }),
      priorityWeight: 1,
      tenant: k.user,
      user: k.user,
    };
  });
  return { jobs, users: [...new Set(jobs.map((j) => j.user!))].sort(), skipped };
}
