import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { RondoError } from '../../model/index.js';
import { writeFileAtomic } from '../../io/index.js';
import { getPolicy, initSolver } from '../../policies/index.js';
import { buildWorkload, DEFAULT_THROUGHPUTS, DEFAULT_TIMELINE_MAX_JOBS, runJson, simulate, type SimulationOutput, type Workload, type WorkloadFlags } from '../../sim/index.js';
import type { EngineObserver, RoundInfo } from '../../engine/index.js';
import { writeSimulationReport } from '../../report/index.js';
import { withTenantAccounting } from '../../sim/tenant-workload.js';
import { addTenantOptions } from '../tenant-options.js';
import { addSpotOptions } from '../spot-options.js';

export function addWorkloadOptions(cmd: Command): Command {
  return addSpotOptions(addTenantOptions(cmd))
    .option('--trace <file>', 'job trace: Gavel msr/10-column, Shockwave, Gavel generator JSON, canonical JSONL')
    .option('--format <format>', 'trace format (default: detected)')
    .option('--generate', "generate Gavel's continuous-arrival workload instead of reading a trace")
    .option('--rate <jobs-per-hour>', 'Poisson arrival rate for --generate')
    .option('--multi-gpu', 'generated jobs use 1/2/4/8 GPUs with probabilities 0.7/0.1/0.15/0.05 (default: 1 GPU)')
    .option('--philly <csv>', 'sample (duration, GPUs) of generated jobs from this duration_s,num_gpus CSV')
    .option('--gavel-rng', "generate with Python's random and Gavel's seeds: the exact jobs Gavel's simulator generates")
    .option('--limit <n>', 'generate at most n jobs')
    .option('--window <start:end>', 'measurement window by arrival index [start, end) among the jobs simulated (after skips): run until all of these finish')
    .option('--jct-cap <hours>', "stop once the measured jobs' average JCT is certain to exceed this (an overloaded point): reports the lower bound, marked saturated")
    .option('--seed <n>', 'seed for generation and random tie-breaking', '0')
    .option('--cluster <spec>', 'GPUs per type: v100:36,p100:36,k80:36, Gavel 36:36:36 (v100:p100:k80), or JSON', 'v100:36,p100:36,k80:36')
    .option('--gpus-per-server <spec>', 'GPUs per server: 4, or per type v100=4,k80=2 (default 1, as Gavel)')
    .option('--round <seconds>', 'round duration', '360')
    .option('--throughputs <file>', 'Gavel throughput JSON', DEFAULT_THROUGHPUTS)
    .option('--drop-unknown', 'skip jobs whose (job type, scale factor) has no throughput, instead of failing')
    .option('--skip-too-large', 'skip jobs needing more GPUs than any type has, instead of failing')
    .option('--spread-penalty', 'multi-GPU jobs spread over servers run at their _unconsolidated throughput (Gavel: off)')
    .option('--restart-overhead <seconds>', 'a (re)started job holds its GPUs this long without progress (Kubernetes pod start, checkpoint load; default 0)')
    .option('--max-changes <n|none>', 'change budget: at most n jobs whose placement a round changes (starts, stops, moves; default none: no limit)')
    .option('--realloc-interval <seconds>', 'minimum time between allocation recomputes (Gavel: 1920)', '1920')
    .option('--realloc-when-idle', 'recompute at once when waiting jobs cannot run only for lack of an allocation (Gavel: wait)')
    .option('--backfill', 'work-conserving rounds: GPUs idle before a round ends go to queued jobs at once (Gavel: off)')
    .option('--prices <spec>', "per-GPU-hour prices for the cost metric, e.g. v100:2.48,p100:1.46,k80:0.45 (default: Gavel's GCP prices); with --capacity, a price trace file")
    .option('--partitions <k>', 'POP: split jobs and GPUs into k random sub-problems, allocate each apart and join (default 1: the whole problem)')
    .option('--estimate-throughputs', 'the policy sees estimated throughputs (every job unseen, refined by the types it ran on); the executor uses the table (docs/estimate.md)')
    .option('--reference-job-types <n>', 'with --estimate-throughputs: how many of the table\'s job types the estimator may use as references (default: all)')
    .option('--estimate-seed <n>', 'with --estimate-throughputs: seed for drawing the reference job types and the profiled co-locations', '0')
    .option('--profiled-fraction <f>', "with --estimate-throughputs and a space-sharing policy: fraction of reference co-locations each job key is profiled against (Gavel's estimator; default 1)")
    .option('--json', 'print one JSON object instead of a table')
    .option('--quiet', 'no progress output');
}

/** Progress: a bar on a terminal, a plain line every few seconds otherwise; both on stderr. */
export function progressObserver(total: number, what: string, quiet: boolean): { observer: EngineObserver; stop(): void } {
  if (quiet) return { observer: {}, stop() {} };
  const tty = !!process.stderr.isTTY;
  const started = Date.now();
  let last = 0;
  let bar: cliProgress.SingleBar | undefined;
  let lastDone = 0;
  let lastInfo: RoundInfo | undefined;
  if (tty) {
    bar = new cliProgress.SingleBar(
      { format: `${what} [{bar}] {value}/{total} jobs | sim {sim} h | {rounds} rounds | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(1, total), 0, { sim: '0', rounds: 0 });
  }
  const observer: EngineObserver = {
    onRound(info: RoundInfo) {
      const done = info.windowFinished && total > 0 ? info.windowFinished : info.finishedJobs;
      lastDone = done;
      lastInfo = info;
      const now = Date.now();
      if (bar) {
        if (now - last > 100) {
          last = now;
          bar.update(Math.min(done, total), { sim: (info.end / 3600).toFixed(1), rounds: info.round + 1 });
        }
      } else if (now - last > 5000) {
        last = now;
        const secs = ((now - started) / 1000).toFixed(0);
        process.stderr.write(`${what}: ${done}/${total} jobs done, simulated ${(info.end / 3600).toFixed(1)} h, ${info.round + 1} rounds, ${secs} s\n`);
      }
    },
  };
  return {
    observer,
    stop() {
      if (bar) {
        if (lastInfo) bar.update(Math.min(lastDone, total), { sim: (lastInfo.end / 3600).toFixed(1), rounds: lastInfo.round + 1 });
        bar.stop();
      }
    },
  };
}

/** Runs one policy on a workload with progress and Ctrl-C handling. */
export async function runPolicy(workload: Workload, policyName: string, quiet: boolean, opts: { timelineMaxJobs?: number } = {}): Promise<SimulationOutput> {
  // POP's random split is seeded with the run's seed, so a run stays reproducible.
  const base = getPolicy(policyName, { partitions: workload.partitions, seed: workload.base.seed, ...(workload.tenants ? { tenants: workload.tenants } : {}) });
  await initSolver();
  const w = workload.base.window;
  const total = w ? w.end - w.start : (workload.traceJobs ?? workload.base.generate?.limit ?? 0);
  const progress = progressObserver(total, base.meta.name, quiet);
  // Per-tenant accounting when the run has a tenant tree or jobs that name tenants.
  const tenanted = workload.tenants !== undefined || (workload.base.jobs ?? []).some((j) => j.tenant !== undefined);
  const acct = tenanted ? withTenantAccounting(base, progress.observer, workload.tenants, workload.base.cluster, workload.base.jobs) : undefined;
  const policy = acct?.policy ?? base;
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    const out = await simulate({ ...workload.base, policy, observer: acct?.observer ?? progress.observer, signal: ac.signal, timelineMaxJobs: opts.timelineMaxJobs ?? 0 });
    if (out.result.stopReason === 'aborted') {
      throw new RondoError({ code: 'E_USAGE', problem: 'interrupted', hint: 'no output was written' });
    }
    return acct ? { ...out, tenants: acct.accounting.reports() } : out;
  } finally {
    progress.stop();
    process.removeListener('SIGINT', onSigint);
  }
}

const fmt = (v: number | null | undefined, d = 2): string => (v === null || v === undefined ? '-' : v.toFixed(d));
const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `${(100 * v).toFixed(1)}%`);

function summaryTable(out: SimulationOutput, label: string): string {
  const s = out.metrics.summary;
  const util = Object.entries(s.utilizationByType).map(([t, u]) => `${t} ${pct(u)}`).join(', ');
  const rows: Array<[string, string]> = [
    ['workload', label],
    ['policy', s.policy],
    ['jobs', `${s.completedWindowJobs} of ${s.windowJobs} measured finished (${s.jobs} admitted)`],
    ['skipped', `${out.dropped.unknown.length} without throughput, ${out.dropped.tooLarge.length} too large`],
    [
      'avg JCT',
      s.saturated
        ? `>= ${fmt(s.avgJctLowerBoundHours, 3)} h (stopped at the JCT cap: overloaded; ${fmt(s.avgJctHours, 3)} h over the finished ones)`
        : `${fmt(s.avgJctHours, 3)} h`,
    ],
    ['median / p95 / p99 JCT', `${fmt(s.medianJctHours)} / ${fmt(s.p95JctHours)} / ${fmt(s.p99JctHours)} h`],
    ['makespan', `${fmt(s.makespanHours)} h (run ended at ${fmt(s.endTimeHours)} h)`],
    ['finish-time fairness', `max rho ${fmt(s.maxRho, 3)}, mean ${fmt(s.meanRho, 3)}, ${pct(s.unfairFraction)} of jobs rho > 1`],
    ['utilisation', `${pct(s.utilization)} (${util})`],
    ['preemptions', `${s.preemptions} (${fmt(s.preemptionsPerJob)} per measured job), leases extended ${pct(s.leaseExtensionFraction)}`],
    ['cost', s.cost === null ? '-' : `$${s.cost.toFixed(2)}`],
    ...spotRows(out),
    ['rounds / allocations', `${s.rounds} / ${s.policyCalls} (${fmt(s.policySeconds)} s in the policy)`],
    ['wall time', `${out.wallSeconds.toFixed(2)} s`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

function spotRows(out: SimulationOutput): Array<[string, string]> {
  const p = out.spot;
  if (!p) return [];
  const byType = Object.entries(p.costByType).filter(([, v]) => v > 0).map(([t, v]) => `${t} $${v.toFixed(2)}`).join(', ');
  return [
    ['cost (spot model)', `$${p.totalCost.toFixed(2)} (${byType || 'nothing ran'}), $${fmt(p.costPerCompletedJob)} per completed job`],
    ['revocations', `${p.revocations} job stops, ${fmt(p.lostGpuHours)} GPU-h of work lost`],
    ['SLO misses', p.jobsWithSlo > 0 ? `${p.sloMisses} of ${p.jobsWithSlo} (${pct(p.sloMissRate)})` : '- (no job has an SLO)'],
  ];
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function jobsCsv(out: SimulationOutput): string {
  const head = ['job_id', 'index', 'job_type', 'scale_factor', 'arrival_time', 'finish_time', 'jct', 'rho', 'preemptions', 'in_window'];
  const lines = [head.join(',')];
  for (const j of out.metrics.perJob) {
    lines.push([j.id, j.index, j.jobType, j.scaleFactor, j.arrivalTime, j.finishTime, j.jctSeconds, j.rho, j.preemptions, j.inWindow ? 1 : 0].map(csvCell).join(','));
  }
  return `${lines.join('\n')}\n`;
}

interface SimulateFlags extends WorkloadFlags {
  policy: string;
  out?: string;
  jobsCsv?: string;
  report?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('simulate')
    .description("simulate a policy on a trace or on Gavel's generated workload, with Gavel's round-based mechanism")
    .option('--policy <name>', 'policy (Gavel name or alias)', 'max_min_fairness_perf');
  addWorkloadOptions(cmd)
    .option('--out <file>', 'write the full run (settings, summary, per-job results, utilisation per hour) as JSON')
    .option('--jobs-csv <file>', 'write per-job results as CSV')
    .option('--report <file>', 'write a self-contained HTML report of the run (see rondo report)')
    .action(async (flags: SimulateFlags) => {
      const workload = buildWorkload(flags);
      // A small run's per-job timeline goes into the run file and the report (the chart that needs it).
      const timelineMaxJobs = flags.out || flags.report ? DEFAULT_TIMELINE_MAX_JOBS : 0;
      const out = await runPolicy(workload, flags.policy, !!flags.quiet || !!flags.json, { timelineMaxJobs });
      if (flags.out) {
        const doc = {
          rondo: 'simulate',
          workload: workload.label,
          settings: {
            cluster: workload.base.cluster.gpus,
            gpusPerServer: workload.base.cluster.gpusPerServer,
            roundSeconds: workload.base.roundDuration,
            seed: workload.base.seed,
            window: workload.base.window ?? null,
            reallocIntervalSeconds: workload.base.minReallocationInterval,
            spreadPenalty: workload.base.spreadPenalty,
            reallocWhenIdle: workload.base.recomputeWhenIdle,
            ...(workload.base.backfill ? { backfill: true } : {}),
            ...(workload.base.maxChanges !== undefined ? { maxChanges: workload.base.maxChanges } : {}),
            prices: workload.base.prices,
            ...(workload.partitions > 1 ? { partitions: workload.partitions } : {}),
            ...(workload.base.estimateThroughputs ? { estimateThroughputs: workload.base.estimateThroughputs } : {}),
          },
          // Wall-clock timings are left out so that the file is byte-for-byte the same for the same input.
          summary: Object.fromEntries(Object.entries(runJson(out)).filter(([k]) => k !== 'wallSeconds' && k !== 'policySeconds')),
          dropped: out.dropped,
          jobs: out.metrics.perJob,
          utilization: { gpuTypes: workload.base.cluster.gpuTypes, hourly: out.metrics.utilizationSeries },
          ...(out.timeline ? { timeline: out.timeline } : {}),
        };
        writeFileAtomic(flags.out, `${JSON.stringify(doc)}\n`);
      }
      if (flags.jobsCsv) writeFileAtomic(flags.jobsCsv, jobsCsv(out));
      if (flags.report) writeSimulationReport(flags.report, workload.base, [out], workload.label);
      if (flags.json) process.stdout.write(`${JSON.stringify(runJson(out))}\n`);
      else process.stdout.write(`${summaryTable(out, workload.label)}\n`);
    });
}
