/**
 * Per-job timeline: which GPU type each job ran on, round by round. The simulator does not record this and its
 * engine observer only sees per-round totals, so for small runs we replay the run: the jobs it admitted go through
 * the same engine with the simulated executor wrapped to record every round plan. The replay is checked against the
 * original run (every finish time must match); on any difference no timeline is returned rather than a wrong one.
 * (Workaround until `simulate` records assignments itself; see docs/sweeps.md.)
 */
import type { Job, RoundPlan } from '../model/index.js';
import type { ExecJob, Executor, RoundReport } from '../engine/types.js';
import { runEngine } from '../engine/loop.js';
import { engineSettings, SimClock, SimExecutor, TraceSource, tableThroughputs, type SimulationInput, type SimulationOutput } from '../sim/index.js';

export interface RunTimeline {
  readonly gpuTypes: readonly string[];
  /** Start and end (seconds) of every round that ran, by round number. */
  readonly roundStart: readonly number[];
  readonly roundEnd: readonly number[];
  /** Per job (arrival order): the rounds it ran in and the GPU type index it ran on. */
  readonly jobs: ReadonlyArray<{ readonly id: string; readonly rounds: readonly number[]; readonly types: readonly number[] }>;
}

class RecordingExecutor implements Executor {
  readonly plans: Array<{ round: number; start: number; end: number; runs: Array<[string, string]> }> = [];
  constructor(private readonly inner: Executor) {}

  async runRound(plan: RoundPlan, jobs: ReadonlyMap<string, ExecJob>): Promise<RoundReport> {
    const report = await this.inner.runRound(plan, jobs);
    const runs: Array<[string, string]> = [];
    for (const p of report.progress) if (!p.failed) runs.push([p.jobId, p.gpuType]);
    this.plans.push({ round: plan.round, start: plan.start, end: report.end, runs });
    return report;
  }
}

/** Replays `input` (already run as `output`) and records the timeline; null when the replay disagrees. */
export async function recordTimeline(input: SimulationInput, output: SimulationOutput): Promise<RunTimeline | null> {
  const recs = output.result.jobs;
  const original = new Map((input.jobs ?? []).map((j) => [j.id, j]));
  // Generated jobs are fully described by the record (the generator gives weight 1 and no SLO or tenant).
  const jobs: Job[] = recs.map(
    (r) =>
      original.get(r.id) ?? {
        id: r.id,
        jobType: r.jobType,
        scaleFactor: r.scaleFactor,
        arrivalTime: r.arrivalTime,
        totalSteps: r.totalSteps,
        priorityWeight: 1,
      },
  );
  const clock = new SimClock(0);
  const executor = new RecordingExecutor(new SimExecutor(clock, input.throughputs, { spreadPenalty: !!input.spreadPenalty }));
  const result = await runEngine({
    cluster: input.cluster,
    policy: input.policy,
    clock,
    executor,
    source: new TraceSource(jobs),
    throughputOf: tableThroughputs(input.throughputs, input.cluster),
    throughputs: input.throughputs,
    seed: input.seed ?? 0,
    ...engineSettings(input),
  });
  if (result.jobs.length !== recs.length) return null;
  for (let i = 0; i < recs.length; i++) {
    if (result.jobs[i]!.id !== recs[i]!.id || result.jobs[i]!.finishTime !== recs[i]!.finishTime) return null;
  }
  const types = input.cluster.gpuTypes;
  const byJob = new Map(recs.map((r) => [r.id, { id: r.id, rounds: [] as number[], types: [] as number[] }]));
  const roundStart: number[] = [];
  const roundEnd: number[] = [];
  for (const p of executor.plans) {
    roundStart[p.round] = p.start;
    roundEnd[p.round] = p.end;
    for (const [id, t] of p.runs) {
      const e = byJob.get(id);
      if (e) {
        e.rounds.push(p.round);
        e.types.push(types.indexOf(t));
      }
    }
  }
  return { gpuTypes: [...types], roundStart, roundEnd, jobs: [...byJob.values()] };
}
