/**
 * Per-job timeline of a simulated run: which GPU type each job ran on, round by round (the report's timeline chart).
 * The engine's own timeline keeps per-round totals only; this wraps the simulated executor and keeps every round's
 * runs while the run stays small, so a report never has to run the simulation again to draw it.
 */
import type { RoundPlan } from '../model/index.js';
import type { ExecJob, Executor, RoundReport } from '../engine/types.js';

/** Runs with more jobs than this get no timeline unless asked (the chart is unreadable beyond a few hundred rows). */
export const DEFAULT_TIMELINE_MAX_JOBS = 200;

export interface RunTimeline {
  readonly gpuTypes: readonly string[];
  /** Start and end (seconds) of every round that ran, by round number. */
  readonly roundStart: readonly number[];
  readonly roundEnd: readonly number[];
  /** Per job (arrival order): the rounds it ran in and the GPU type index it ran on. */
  readonly jobs: ReadonlyArray<{ readonly id: string; readonly rounds: readonly number[]; readonly types: readonly number[] }>;
}

type Runs = Map<string, { rounds: number[]; types: number[] }>;

/**
 * Forwards every call to the inner executor and records, per job, the rounds it ran and on which type. Once more
 * than `maxJobs` jobs have run it drops what it has and only forwards (memory stays bounded on big runs).
 */
export class TimelineRecorder implements Executor {
  private runs: Runs | undefined = new Map();
  private readonly roundStart: number[] = [];
  private readonly roundEnd: number[] = [];
  private readonly typeIndex: Map<string, number>;
  readonly release?: (jobId: string) => void | Promise<void>;

  constructor(
    private readonly inner: Executor,
    private readonly gpuTypes: readonly string[],
    private readonly maxJobs: number,
  ) {
    this.typeIndex = new Map(gpuTypes.map((t, k) => [t, k]));
    if (inner.release) this.release = (id) => inner.release!(id);
  }

  async runRound(plan: RoundPlan, jobs: ReadonlyMap<string, ExecJob>): Promise<RoundReport> {
    const report = await this.inner.runRound(plan, jobs);
    const runs = this.runs;
    if (!runs) return report;
    this.roundStart[plan.round] = plan.start;
    this.roundEnd[plan.round] = report.end;
    for (const p of report.progress) {
      if (p.failed) continue;
      let e = runs.get(p.jobId);
      if (!e) {
        if (runs.size >= this.maxJobs) {
          this.runs = undefined; // too many jobs for a timeline
          return report;
        }
        e = { rounds: [], types: [] };
        runs.set(p.jobId, e);
      }
      e.rounds.push(plan.round);
      e.types.push(this.typeIndex.get(p.gpuType) ?? -1);
    }
    return report;
  }

  /** The timeline of `jobIds` (arrival order; jobs that never ran get empty rows); undefined when it overflowed. */
  timeline(jobIds: readonly string[]): RunTimeline | undefined {
    const runs = this.runs;
    if (!runs || jobIds.length > this.maxJobs) return undefined;
    return {
      gpuTypes: [...this.gpuTypes],
      roundStart: this.roundStart,
      roundEnd: this.roundEnd,
      jobs: jobIds.map((id) => ({ id, rounds: runs.get(id)?.rounds ?? [], types: runs.get(id)?.types ?? [] })),
    };
  }
}
