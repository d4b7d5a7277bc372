import type { Command } from 'commander';
import { RondoError } from '../../model/index.js';
import { isPolicyName } from '../../policies/index.js';
import { buildWorkload, DEFAULT_TIMELINE_MAX_JOBS, runJson, type SimulationOutput, type WorkloadFlags } from '../../sim/index.js';
import { addWorkloadOptions, runPolicy } from './simulate.js';
import { writeSimulationReport } from '../../report/index.js';

interface CompareFlags extends WorkloadFlags {
  policies: string;
  report?: string;
}

const fmt = (v: number | null | undefined, d = 2): string => (v === null || v === undefined ? '-' : v.toFixed(d));
const ratio = (v: number | null | undefined, base: number | null | undefined): string =>
  v === null || v === undefined || !base ? '-' : `${(v / base).toFixed(2)}x`;

function table(outs: readonly SimulationOutput[]): string {
  const base = outs[0]!.metrics.summary;
  const head = ['policy', 'avg JCT h', 'vs first', 'median h', 'p99 h', 'makespan h', 'vs first', 'max rho', 'rho>1', 'util', 'preempt/job', 'wall s'];
  const rows = outs.map((o) => {
    const s = o.metrics.summary;
    return [
      s.policy,
      fmt(s.avgJctHours, 3),
      ratio(s.avgJctHours, base.avgJctHours),
      fmt(s.medianJctHours),
      fmt(s.p99JctHours),
      fmt(s.makespanHours),
      ratio(s.makespanHours, base.makespanHours),
      fmt(s.maxRho, 3),
      s.unfairFraction === null ? '-' : `${(100 * s.unfairFraction).toFixed(1)}%`,
      `${(100 * s.utilization).toFixed(1)}%`,
      fmt(s.preemptionsPerJob),
      o.wallSeconds.toFixed(1),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function register(program: Command): void {
  const cmd = program
    .command('compare')
    .description('run several policies on the identical workload and print one table, with ratios to the first policy')
    .requiredOption('--policies <list>', 'comma-separated policies, e.g. max_min_fairness,max_min_fairness_perf');
  addWorkloadOptions(cmd).option('--report <file>', 'write a self-contained HTML report of the runs (see rondo report)');
  cmd.action(async (flags: CompareFlags) => {
    const names = flags.policies.split(',').map((s) => s.trim()).filter(Boolean);
    if (names.length === 0) throw new RondoError({ code: 'E_USAGE', problem: '--policies is empty' });
    const unknown = names.filter((n) => !isPolicyName(n));
    if (unknown.length > 0) throw new RondoError({ code: 'E_USAGE', problem: `unknown policy ${unknown.join(', ')}`, hint: 'see rondo simulate --help' });
    const workload = buildWorkload(flags);
    const outs: SimulationOutput[] = [];
    for (const name of names) {
      outs.push(await runPolicy(workload, name, !!flags.quiet || !!flags.json, { timelineMaxJobs: flags.report ? DEFAULT_TIMELINE_MAX_JOBS : 0 }));
    }
    if (flags.report) writeSimulationReport(flags.report, workload.base, outs, workload.label);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ workload: workload.label, runs: outs.map(runJson) })}\n`);
    } else {
      process.stdout.write(`${workload.label}\n${table(outs)}\n`);
    }
  });
}
