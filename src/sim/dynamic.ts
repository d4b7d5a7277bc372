/**
 * Jobs whose batch size changes during training (Shockwave, NSDI'23): the `mode` of a job says how.
 *
 * - `static`: the batch size of the job type never changes.
 * - `accordion` (Accordion, MLSys'21): the job trains at its initial batch size in "critical regimes" (the first
 *   epochs, and the epochs after a learning-rate decay) and at the model's largest batch size elsewhere; the first
 *   30% of the epochs always count as critical (Shockwave's simulator does this to preserve accuracy).
 * - `gns` (gradient noise scale, McCandlish et al. 2018): the batch size only grows, doubling as the noise scale
 *   grows, up to the model's largest batch size.
 *
 * Work is counted in epochs, which do not depend on the batch size. A job's `totalSteps` are steps at its initial
 * batch size (as in Shockwave's traces), so the engine's step counter is kept in those "initial-batch-size steps":
 * one epoch = ceil(samples / initial batch size) of them. In a phase with batch size b the job runs at T_b real
 * steps/s (the throughput table's entry for the job type with batch size b), which is
 * T_b x stepsPerEpoch(b0) / stepsPerEpoch(b) initial-batch-size steps per second.
 *
 * Differences from Shockwave's simulator (see docs/baselines.md): GNS doubling points follow one rule (first
 * doubling after epoch 11, ResNet-50 after 101, then every 20 epochs) instead of Shockwave's per-(model, batch
 * size, GPUs) table of measured points; batch sizes without a throughput measurement for the job's scale factor are
 * skipped (the job stays at the largest measured one).
 */
import { jobKey, isolatedThroughput, spreadThroughput, type ClusterSpec, type GpuType, type Job, type ThroughputTable } from '../model/index.js';

/** Samples per epoch of each model's dataset, as in Shockwave's simulator (cifar10, imagenet subset, multi30k, ...). */
export const DATASET_SAMPLES: Readonly<Record<string, number>> = {
  'ResNet-18': 50000,
  'ResNet-50': 100000,
  Transformer: 10000,
  LM: 59675,
  Recommendation: 117907,
};

/** Largest batch size each model is profiled at (and may be scaled to). */
export const MAX_BATCH_SIZE: Readonly<Record<string, number>> = {
  'ResNet-18': 256,
  'ResNet-50': 128,
  Transformer: 128,
  LM: 80,
  Recommendation: 8192,
};

const JOB_TYPE_RE = /^(.*) \(batch size (\d+)\)$/;

export function parseBatchJobType(jobType: string): { model: string; batchSize: number } | undefined {
  const m = JOB_TYPE_RE.exec(jobType);
  if (!m) return undefined;
  return { model: m[1]!, batchSize: Number(m[2]) };
}

export function batchJobType(model: string, batchSize: number): string {
  return `${model} (batch size ${batchSize})`;
}

/** A stretch of epochs run at one batch size: epochs [startEpoch, next phase's startEpoch or the job's end). */
export interface Phase {
  readonly startEpoch: number;
  readonly batchSize: number;
  readonly jobType: string;
}

export interface JobPhases {
  readonly model: string;
  readonly initialBatchSize: number;
  /** Epochs of the whole job (fractional: steps rarely fill the last epoch). */
  readonly totalEpochs: number;
  /** Initial-batch-size steps per epoch. */
  readonly stepsPerEpoch0: number;
  readonly phases: readonly Phase[];
}

/** Epochs in Accordion's critical regimes (where the batch size stays at its initial value). */
export function accordionCritical(model: string, initialBatchSize: number, epoch: number): boolean {
  switch (model) {
    case 'ResNet-18': {
      const head = initialBatchSize >= 256 ? 20 : 10;
      return epoch < head || (epoch >= 150 && epoch < 160) || (epoch >= 250 && epoch < 260);
    }
    case 'ResNet-50':
      return epoch % 30 < 10;
    case 'LM':
      return epoch < 10;
    case 'Recommendation': {
      const head = initialBatchSize <= 1024 ? 30 : initialBatchSize === 2048 ? 40 : 10;
      return epoch < head || (epoch >= 60 && epoch < 70) || (epoch >= 80 && epoch < 90);
    }
    default:
      return true;
  }
}

/** Batch size of each whole epoch `e` (0-based) under a mode, before clamping to measured batch sizes. */
export function scheduledBatchSize(mode: Job['mode'], model: string, b0: number, totalEpochs: number, e: number): number {
  const max = Math.max(b0, MAX_BATCH_SIZE[model] ?? b0);
  if (mode === 'accordion') {
    // Transformer cannot use Accordion (Shockwave keeps it static).
    if (model === 'Transformer' || !(model in MAX_BATCH_SIZE)) return b0;
    return !accordionCritical(model, b0, e) && e > 0.3 * totalEpochs ? max : b0;
  }
  if (mode === 'gns') {
    const first = model === 'ResNet-50' ? 101 : 11;
    if (e < first) return b0;
    const doublings = 1 + Math.floor((e - first) / 20);
    return Math.min(max, b0 * 2 ** doublings);
  }
  return b0;
}

/**
 * The phases of a job, or undefined for jobs whose batch size never changes (static mode, unknown model, or no
 * measured larger batch size).
 */
export function jobPhases(job: Job, totalSteps: number, measured: (jobType: string) => boolean): JobPhases | undefined {
  if (job.mode === undefined || job.mode === 'static') return undefined;
  const parsed = parseBatchJobType(job.jobType);
  if (!parsed) return undefined;
  const samples = DATASET_SAMPLES[parsed.model];
  if (samples === undefined) return undefined;
  const b0 = parsed.batchSize;
  const spe0 = Math.ceil(samples / b0);
  const totalEpochs = totalSteps / spe0;
  const phases: Phase[] = [];
  const wholeEpochs = Math.ceil(totalEpochs);
  for (let e = 0; e < wholeEpochs; e++) {
    let b = scheduledBatchSize(job.mode, parsed.model, b0, totalEpochs, e);
    // Step down (halving) to a batch size with measurements; b0 itself is measured (the job was admitted with it).
    while (b > b0 && !measured(batchJobType(parsed.model, b))) b = Math.max(b0, Math.floor(b / 2));
    if (phases.length === 0 || phases.at(-1)!.batchSize !== b) {
      phases.push({ startEpoch: e, batchSize: b, jobType: batchJobType(parsed.model, b) });
    }
  }
  if (phases.length <= 1) return undefined;
  return { model: parsed.model, initialBatchSize: b0, totalEpochs, stepsPerEpoch0: spe0, phases };
}

function phaseIndexAt(p: JobPhases, epoch: number): number {
  let i = 0;
  while (i + 1 < p.phases.length && p.phases[i + 1]!.startEpoch <= epoch + 1e-12) i++;
  return i;
}

/**
 * A throughput model for jobs with changing batch sizes over a throughput table: what the job runs at, given how
 * far it has come, in initial-batch-size steps per second.
 */
export class DynamicBatchModel {
  private readonly cache = new Map<string, JobPhases | null>();

  constructor(
    private readonly table: ThroughputTable,
    private readonly cluster: ClusterSpec,
    private readonly totalStepsOf: (job: Job) => number,
  ) {}

  /** Phases of a job (cached by id), or undefined when its batch size never changes. */
  phases(job: Job): JobPhases | undefined {
    let p = this.cache.get(job.id);
    if (p === undefined) {
      const measured = (jobType: string): boolean => {
        const key = jobKey(jobType, job.scaleFactor);
        // A larger batch size counts only where the initial one runs, so a phase never strands the job.
        return this.cluster.gpuTypes.every((t) => {
          const base = isolatedThroughput(this.table, t, jobKey(job.jobType, job.scaleFactor)) ?? 0;
          return !(base > 0) || (isolatedThroughput(this.table, t, key) ?? 0) > 0;
        });
      };
      p = jobPhases(job, this.totalStepsOf(job), measured) ?? null;
      this.cache.set(job.id, p);
    }
    return p ?? undefined;
  }

  isDynamic(job: Job): boolean {
    return this.phases(job) !== undefined;
  }

  /** Rate (initial-batch-size steps/s) of phase `i` on a type. */
  private rate(job: Job, p: JobPhases, i: number, gpuType: GpuType, spread: boolean): number {
    const ph = p.phases[i]!;
    const key = jobKey(ph.jobType, job.scaleFactor);
    const real = (spread ? spreadThroughput(this.table, gpuType, key) : isolatedThroughput(this.table, gpuType, key)) ?? 0;
    const samples = DATASET_SAMPLES[p.model]!;
    return (real * p.stepsPerEpoch0) / Math.ceil(samples / ph.batchSize);
  }

  /** Per-type throughput at the current progress (what a policy should see now). */
  currentRow(job: Job, stepsDone: number, base: readonly number[]): readonly number[] {
    const p = this.phases(job);
    if (!p) return base;
    const i = phaseIndexAt(p, stepsDone / p.stepsPerEpoch0);
    return this.cluster.gpuTypes.map((t, k) => (base[k]! > 0 ? this.rate(job, p, i, t, false) : 0));
  }

  /**
   * Per-type throughput averaged over the whole job (total steps / time alone on that type): the reference for
   * finish-time fairness metrics of dynamic jobs.
   */
  averageRow(job: Job, base: readonly number[]): readonly number[] {
    const p = this.phases(job);
    if (!p) return base;
    return this.cluster.gpuTypes.map((t, k) => {
      if (!(base[k]! > 0)) return 0;
      let time = 0;
      for (let i = 0; i < p.phases.length; i++) {
        const from = p.phases[i]!.startEpoch;
        const to = Math.min(p.totalEpochs, p.phases[i + 1]?.startEpoch ?? p.totalEpochs);
        if (to <= from) continue;
        time += ((to - from) * p.stepsPerEpoch0) / this.rate(job, p, i, t, false);
      }
      return time > 0 ? (p.totalEpochs * p.stepsPerEpoch0) / time : 0;
    });
  }

  /**
   * Runs a job for up to `seconds` from `stepsDone` with `remaining` steps left, crossing phases as it goes.
   * Returns the steps done and the seconds they took (less than `seconds` when the job finished).
   */
  advance(job: Job, gpuType: GpuType, spread: boolean, stepsDone: number, remaining: number, seconds: number): { steps: number; time: number } {
    const p = this.phases(job)!;
    let done = 0;
    let t = 0;
    let i = phaseIndexAt(p, stepsDone / p.stepsPerEpoch0);
    while (done < remaining - 1e-9 && t < seconds - 1e-9) {
      const r = this.rate(job, p, i, gpuType, spread);
      if (!(r > 0)) break;
      const phaseEnd = i + 1 < p.phases.length ? p.phases[i + 1]!.startEpoch * p.stepsPerEpoch0 : Infinity;
      const inPhase = Math.min(remaining - done, phaseEnd - (stepsDone + done));
      const can = r * (seconds - t);
      if (can < inPhase) {
        done += can;
        t = seconds;
        break;
      }
      done += Math.max(0, inPhase);
      t += Math.max(0, inPhase) / r;
      if (i + 1 < p.phases.length) i++;
    }
    return { steps: Math.min(done, remaining), time: t };
  }
}
