/**
 * Workload generator reproducing Gavel's continuous-arrival experiments (scheduler.py `simulate` with `lam`,
 * utils.generate_job): Poisson arrivals at `rate` jobs/hour starting at time 0; job type uniform over the job types
 * of the throughput table (Gavel's JobTable: 26 types); scale factor 1, or 1/2/4/8 with probabilities
 * 0.7/0.1/0.15/0.05 when multi-GPU jobs are asked for; duration 10^U(1.5,3) minutes with probability 0.8, else
 * 10^U(3,4) minutes; total steps = duration x throughput on the reference type (v100). Optionally (duration,
 * GPU count) pairs are sampled from an empirical distribution instead (Philly, as shipped by Gavel).
 * Seeded with pure-rand: the same options give the same jobs on every machine.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { readFileSync } from 'node:fs';
import {
  RondoError,
  isolatedThroughput,
  jobKey,
  jobTypes,
  type GpuType,
  type Job,
  type ThroughputTable,
} from '../model/index.js';
import type { JobStream } from './sources.js';
import { PyRandom } from '../engine/pyrandom.js';

export interface EmpiricalJob {
  readonly durationS: number;
  readonly gpus: number;
}

export interface GenerateOptions {
  /** Mean arrivals per hour. */
  readonly rate: number;
  readonly seed: number;
  readonly throughputs: ThroughputTable;
  readonly multiGpu?: boolean;
  /** GPU type whose throughput converts durations to steps (Gavel: v100). */
  readonly referenceGpuType?: GpuType;
  /** Sample (duration, GPUs) from these rows instead of Gavel's parametric distributions. */
  readonly empirical?: readonly EmpiricalJob[];
  /** Only job types with a throughput on all of these types (default: the reference type). */
  readonly requireTypes?: readonly GpuType[];
  /**
   * `pure-rand` (default): Rondo's own seeded streams. `gavel`: Python's Mersenne Twister with Gavel's seeds and
   * draw order, which reproduces the exact jobs Gavel's simulator generates for the same seed and rate.
   */
  readonly rng?: 'pure-rand' | 'gavel';
}

/** Gavel's JobTable (scheduler/job_table.py), in its order; `distributed` types may have more than one GPU. */
export const GAVEL_JOB_TABLE: ReadonlyArray<{ readonly model: string; readonly distributed: boolean }> = [
  ...[16, 32, 64, 128, 256].map((b) => ({ model: `ResNet-18 (batch size ${b})`, distributed: true })),
  ...[16, 32, 64, 128].map((b) => ({ model: `ResNet-50 (batch size ${b})`, distributed: true })),
  ...[16, 32, 64, 128, 256].map((b) => ({ model: `Transformer (batch size ${b})`, distributed: true })),
  ...[5, 10, 20, 40, 80].map((b) => ({ model: `LM (batch size ${b})`, distributed: true })),
  ...[512, 1024, 2048, 4096, 8192].map((b) => ({ model: `Recommendation (batch size ${b})`, distributed: false })),
  { model: 'A3C', distributed: false },
  { model: 'CycleGAN', distributed: false },
];

/**
 * Jobs arriving as a Poisson process, `opts.rate` per hour: exponential gaps drawn from the subclass's arrival stream,
 * each job drawn by its `make` (the job stream stays separate, so changing the rate keeps the job mix). Subclasses end
 * their constructor with `this.nextJob = this.make(0)`, once their own streams exist.
 */
abstract class PoissonWorkload implements JobStream {
  protected nextJob!: Job;
  protected count = 0;
  private lastArrival = 0;

  constructor(protected readonly opts: GenerateOptions) {
    if (!(opts.rate > 0) || !Number.isFinite(opts.rate)) {
      throw new RondoError({ code: 'E_USAGE', problem: 'bad arrival rate', expected: 'jobs per hour above 0', found: String(opts.rate) });
    }
  }

  /** The next uniform draw in [0, 1) of the arrival stream. */
  protected abstract arrivalUniform(): number;
  protected abstract make(arrival: number): Job;

  peek(): Job {
    return this.nextJob;
  }

  take(): Job {
    const j = this.nextJob;
    this.lastArrival += -Math.log(1 - this.arrivalUniform()) * (3600 / this.opts.rate);
    this.nextJob = this.make(this.lastArrival);
    return j;
  }
}

/**
 * Gavel's generator replayed draw for draw (scheduler.py `simulate` with `lam`, utils.generate_job): job contents from
 * `random.Random(seed + 2)` (scale factor, duration, then job type), inter-arrival times from `random.Random(seed + 3)`.
 */
export class GavelPyWorkload extends PoissonWorkload {
  private readonly jobRng: PyRandom;
  private readonly arrivalRng: PyRandom;
  private readonly ref: GpuType;

  constructor(opts: GenerateOptions) {
    super(opts);
    this.jobRng = new PyRandom(opts.seed + 2);
    this.arrivalRng = new PyRandom(opts.seed + 3);
    this.ref = opts.referenceGpuType ?? 'v100';
    this.nextJob = this.make(0);
  }

  protected arrivalUniform(): number {
    return this.arrivalRng.random();
  }

  protected make(arrival: number): Job {
    const rng = this.jobRng;
    const uniform = (a: number, b: number): number => a + (b - a) * rng.random();
    // _generate_scale_factor is always drawn, then overridden for single-GPU workloads.
    const r = uniform(0, 1);
    let scale = 0.7 <= r && r <= 0.8 ? 2 : 0.8 <= r && r <= 0.95 ? 4 : 0.95 <= r ? 8 : 1;
    const durationS = rng.random() >= 0.8 ? 60 * 10 ** uniform(3, 4) : 60 * 10 ** uniform(1.5, 3);
    if (!this.opts.multiGpu) scale = 1;
    let template = GAVEL_JOB_TABLE[rng.randbelow(GAVEL_JOB_TABLE.length)]!;
    while (scale > 1 && !template.distributed) template = GAVEL_JOB_TABLE[rng.randbelow(GAVEL_JOB_TABLE.length)]!;
    const tput = isolatedThroughput(this.opts.throughputs, this.ref, jobKey(template.model, scale));
    if (!(tput !== undefined && tput > 0)) {
      throw new RondoError({
        code: 'E_UNKNOWN_JOB_TYPE',
        problem: `Gavel's job table needs a ${this.ref} throughput for ${template.model} x${scale}, which the throughput table lacks`,
        hint: "use Gavel's simulation_throughputs.json, or the default generator",
      });
    }
    return {
      id: String(this.count++),
      jobType: template.model,
      scaleFactor: scale,
      arrivalTime: arrival,
      totalSteps: durationS * tput,
      durationS,
      referenceGpuType: this.ref,
      priorityWeight: 1,
    };
  }
}

/** The generator `opts.rng` asks for. */
export function workloadStream(opts: GenerateOptions): JobStream {
  return opts.rng === 'gavel' ? new GavelPyWorkload(opts) : new GavelWorkload(opts);
}

const SCALE_FACTORS = [1, 2, 4, 8] as const;
const SCALE_CUMULATIVE = [0.7, 0.8, 0.95, 1.0] as const;

export class GavelWorkload extends PoissonWorkload {
  private readonly arrivalRng;
  private readonly jobRng;
  private readonly types: string[];
  private readonly ref: GpuType;

  constructor(opts: GenerateOptions) {
    super(opts);
    // Separate streams for arrivals and job contents, so changing the rate keeps the job mix (as Gavel's seeds).
    this.jobRng = xoroshiro128plus(opts.seed * 2 + 2);
    this.arrivalRng = xoroshiro128plus(opts.seed * 2 + 3);
    this.ref = opts.referenceGpuType ?? 'v100';
    const need = opts.requireTypes ?? [this.ref];
    this.types = jobTypes(opts.throughputs).filter((t) =>
      need.every((g) => (isolatedThroughput(opts.throughputs, g, jobKey(t, 1)) ?? 0) > 0),
    );
    if (this.types.length === 0) {
      throw new RondoError({ code: 'E_SCHEMA', problem: `throughput table has no single-GPU job type measured on ${need.join(', ')}` });
    }
    this.nextJob = this.make(0);
  }

  get jobTypeCount(): number {
    return this.types.length;
  }

  protected arrivalUniform(): number {
    return uniformFloat64(this.arrivalRng);
  }

  protected make(arrival: number): Job {
    const rng = this.jobRng;
    const id = String(this.count++);
    let scale = 1;
    let durationS: number;
    if (this.opts.empirical && this.opts.empirical.length > 0) {
      const row = this.opts.empirical[uniformInt(rng, 0, this.opts.empirical.length - 1)]!;
      durationS = row.durationS;
      scale = this.opts.multiGpu ? row.gpus : 1;
    } else {
      if (this.opts.multiGpu) {
        const u = uniformFloat64(rng);
        scale = SCALE_FACTORS[SCALE_CUMULATIVE.findIndex((c) => u < c)] ?? 8;
      }
      const long = uniformFloat64(rng) >= 0.8;
      const lo = long ? 3 : 1.5;
      const hi = long ? 4 : 3;
      durationS = 60 * 10 ** (lo + (hi - lo) * uniformFloat64(rng));
    }
    // Job types measured at this scale factor on the reference type; a table without that scale factor falls back
    // to the next smaller one it measures.
    const measured = (sf: number): string[] =>
      this.types.filter((t) => (isolatedThroughput(this.opts.throughputs, this.ref, jobKey(t, sf)) ?? 0) > 0);
    let candidates = measured(scale);
    while (candidates.length === 0 && scale > 1) {
      scale = SCALE_FACTORS.filter((s) => s < scale).pop() ?? 1;
      candidates = measured(scale);
    }
    if (candidates.length === 0) {
      throw new RondoError({ code: 'E_UNKNOWN_JOB_TYPE', problem: `no job type has a ${this.ref} throughput at scale factor ${scale}` });
    }
    const jobType = candidates[uniformInt(rng, 0, candidates.length - 1)]!;
    const tput = isolatedThroughput(this.opts.throughputs, this.ref, jobKey(jobType, scale))!;
    return {
      id,
      jobType,
      scaleFactor: scale,
      arrivalTime: arrival,
      totalSteps: durationS * tput,
      durationS,
      referenceGpuType: this.ref,
      priorityWeight: 1,
    };
  }
}

/** Reads `duration_s,num_gpus` rows (Gavel's philly_job_distribution, converted to CSV). */
export function readEmpiricalDistribution(path: string): EmpiricalJob[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RondoError({ code: 'E_IO', file: path, problem: `cannot read job distribution: ${(e as Error).message}` });
  }
  const out: EmpiricalJob[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const s = line.trim();
    if (!s || (i === 0 && /[a-z]/i.test(s))) return;
    const [d, g] = s.split(',');
    const durationS = Number(d);
    const gpus = Number(g);
    if (!(durationS > 0) || !Number.isInteger(gpus) || gpus < 1) {
      throw new RondoError({ code: 'E_NUMBER', file: path, line: i + 1, problem: 'bad row', expected: 'duration_s,num_gpus with duration > 0 and an integer GPU count >= 1', found: s.slice(0, 60) });
    }
    out.push({ durationS, gpus });
  });
  if (out.length === 0) throw new RondoError({ code: 'E_EMPTY', file: path, problem: 'job distribution has no rows' });
  return out;
}
