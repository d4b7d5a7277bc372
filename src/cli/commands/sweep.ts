import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { RondoError } from '../../model/index.js';
import { isPolicyName } from '../../policies/index.js';
import {
  PRESETS,
  expandGrid,
  getPreset,
  mergeSweeps,
  parseNumberList,
  parseShard,
  runSweep,
  shardPoints,
  type SweepDefinition,
  type SweepProgress,
  type VaryAxis,
} from '../../sweep/index.js';
import { addWorkloadOptions } from './simulate.js';
import { DEFAULT_TIMELINE_MAX_JOBS } from '../../sim/index.js';

interface SweepFlags {
  out: string;
  preset?: string;
  policies?: string;
  rates?: string;
  seeds?: string;
  vary: string[];
  jobs?: string;
  shard?: string;
  timelineMaxJobs?: string;
  listPresets?: boolean;
  [flag: string]: unknown;
}

/** Options that describe the sweep or the output, not a point. */
const NOT_POINT_FLAGS = new Set(['out', 'preset', 'policies', 'rates', 'seeds', 'vary', 'jobs', 'shard', 'timelineMaxJobs', 'listPresets', 'json', 'quiet', 'rate', 'seed']);

function definitionFrom(cmd: Command, flags: SweepFlags): SweepDefinition {
  const preset = flags.preset ? getPreset(flags.preset) : undefined;
  const base: Record<string, string | boolean> = { ...(preset?.definition.base ?? {}) };
  // Only flags typed on the command line override the preset; commander defaults are filled in per point.
  for (const opt of cmd.options) {
    const name = opt.attributeName();
    if (NOT_POINT_FLAGS.has(name) || cmd.getOptionValueSource(name) !== 'cli') continue;
    const v = flags[name];
    if (typeof v === 'string' || typeof v === 'boolean') base[name] = v;
  }
  const policies = flags.policies
    ? flags.policies.split(',').map((s) => s.trim()).filter(Boolean)
    : [...(preset?.definition.policies ?? [])];
  if (policies.length === 0) throw new RondoError({ code: 'E_USAGE', problem: 'give --policies or --preset' });
  const unknown = policies.filter((p) => !isPolicyName(p));
  if (unknown.length) throw new RondoError({ code: 'E_USAGE', problem: `unknown policy ${unknown.join(', ')}`, hint: 'see rondo simulate --help' });
  const rateSpec = flags.rates ?? (cmd.getOptionValueSource('rate') === 'cli' ? (flags.rate as string) : undefined);
  const rates = rateSpec ? parseNumberList('--rates', rateSpec, { min: 1e-6 }) : [...(preset?.definition.rates ?? [])];
  const seedSpec = flags.seeds ?? (cmd.getOptionValueSource('seed') === 'cli' ? (flags.seed as string) : undefined);
  const seeds = seedSpec ? parseNumberList('--seeds', seedSpec, { integer: true, min: 0 }) : [...(preset?.definition.seeds ?? [0])];
  const vary: VaryAxis[] = [...(preset?.definition.vary ?? [])];
  for (const v of flags.vary) {
    const m = /^([a-z][a-zA-Z-]*)=(.+)$/.exec(v);
    if (!m) throw new RondoError({ code: 'E_USAGE', problem: 'bad --vary', expected: 'flag=v1,v2 (e.g. round=120,360)', found: JSON.stringify(v) });
    const flag = m[1]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!cmd.options.some((o) => o.attributeName() === flag) || NOT_POINT_FLAGS.has(flag)) {
      throw new RondoError({ code: 'E_USAGE', problem: `--vary ${m[1]}: not a simulate flag`, hint: 'use --policies, --rates and --seeds for those axes' });
    }
    // `cluster` values contain commas: separate its values with ';' instead.
    const values = (m[2]!.includes(';') ? m[2]!.split(';') : m[2]!.split(',')).map((s) => s.trim()).filter(Boolean);
    vary.push({ flag, values });
  }
  // Checked here rather than when the first point runs: a bad value should stop the sweep before it starts.
  for (const k of [...(base['partitions'] !== undefined ? [String(base['partitions'])] : []), ...vary.filter((a) => a.flag === 'partitions').flatMap((a) => a.values)]) {
    if (!/^\s*\d+\s*$/.test(k) || !(Number(k) >= 1) || Number(k) > 100_000) {
      throw new RondoError({ code: 'E_USAGE', problem: 'bad --partitions', expected: 'an integer from 1 to 100000', found: JSON.stringify(k) });
    }
  }
  const timelineMaxJobs = flags.timelineMaxJobs !== undefined ? parseNumberList('--timeline-max-jobs', flags.timelineMaxJobs, { integer: true, min: 0 })[0]! : (preset?.definition.timelineMaxJobs ?? DEFAULT_TIMELINE_MAX_JOBS);
  return { ...(preset ? { preset: preset.name } : {}), base, policies, rates, seeds, vary, timelineMaxJobs };
}

function progress(total: number, quiet: boolean): { update(p: SweepProgress): void; stop(): void } {
  if (quiet) return { update() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: 'sweep [{bar}] {value}/{total} points | {percentage}% | elapsed {duration_formatted} | ETA {eta_formatted}', stream: process.stderr, hideCursor: true, etaBuffer: 20 },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        if (!started) {
          bar.start(Math.max(1, total), p.done);
          started = true;
        } else bar.update(p.done);
      },
      stop: () => bar.stop(),
    };
  }
  const t0 = Date.now();
  let first = -1;
  return {
    update(p) {
      if (first < 0) {
        first = p.done;
        process.stderr.write(`sweep: ${p.done}/${total} points already done\n`);
        return;
      }
      const secs = (Date.now() - t0) / 1000;
      const rate = (p.done - first) / secs;
      const eta = rate > 0 ? `${((total - p.done) / rate).toFixed(0)} s` : '?';
      process.stderr.write(`sweep: ${p.done}/${total} points, ${p.key} took ${p.wallSeconds.toFixed(1)} s, elapsed ${secs.toFixed(0)} s, ETA ${eta}\n`);
    },
    stop() {},
  };
}

export function register(program: Command): void {
  const cmd = program
    .command('sweep')
    .description('run a grid of simulations (policies x rates x seeds x any simulate flag) on all cores, resumable; see docs/sweeps.md')
    .option('--out <dir>', 'output directory: one JSON per point, summary.json; rerunning resumes')
    .option('--preset <name>', `a published experiment: ${[...PRESETS.keys()].join(', ')}`)
    .option('--policies <list>', 'comma-separated policies')
    .option('--rates <spec>', 'arrival rates in jobs/hour: 0.4,0.8 or start:end:step')
    .option('--seeds <spec>', 'seeds: 0,1,2 or 0-2')
    .option('--vary <flag=values>', 'another axis over any simulate flag, e.g. round=120,360 (repeatable; cluster values separated by ;)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--jobs <n>', `worker threads (default: ${availableParallelism()}, the available cores)`)
    .option('--shard <i/n>', 'run only slice i of n (0-based) of the grid, for batch systems; join with rondo sweep merge')
    .option('--timeline-max-jobs <n>', `record the per-job timeline of runs with at most n jobs (default ${DEFAULT_TIMELINE_MAX_JOBS}; 0 never)`)
    .option('--list-presets', 'print the presets and exit');
  addWorkloadOptions(cmd).action(async (flags: SweepFlags) => {
    if (flags.listPresets) {
      for (const p of PRESETS.values()) {
        const missing = p.missing?.length ? ` (not runnable yet: ${p.missing.map((m) => `${m.policy}: ${m.reason}`).join('; ')})` : '';
        process.stdout.write(`${p.name}: ${p.description}; ${expandGrid({ ...p.definition }).length} points${missing}\n`);
      }
      return;
    }
    if (!flags.out) throw new RondoError({ code: 'E_USAGE', problem: 'rondo sweep needs --out <dir>' });
    const def = definitionFrom(cmd, flags);
    const jobs = flags.jobs === undefined ? availableParallelism() : parseNumberList('--jobs', flags.jobs, { integer: true, min: 1 })[0]!;
    const shard = flags.shard ? parseShard(flags.shard) : undefined;
    const total = shardPoints(expandGrid(def), shard).length;
    const quiet = !!flags.quiet || !!flags.json;
    if (!quiet && def.preset) {
      for (const m of getPreset(def.preset).missing ?? []) process.stderr.write(`sweep: skipping ${m.policy}: ${m.reason}\n`);
    }
    const bar = progress(total, quiet);
    const ac = new AbortController();
    const onSigint = (): void => ac.abort();
    process.once('SIGINT', onSigint);
    let out;
    try {
      out = await runSweep({ definition: def, outDir: flags.out, jobs, ...(shard ? { shard } : {}), signal: ac.signal, onProgress: (p) => bar.update(p) });
    } finally {
      bar.stop();
      process.removeListener('SIGINT', onSigint);
    }
    if (out.interrupted) {
      throw new RondoError({ code: 'E_USAGE', problem: `interrupted: ${out.skipped + out.ran} of ${out.total} points done`, hint: 'rerun the same command to resume' });
    }
    // Where the time went, so that a slow sweep says whether the LP solver or the simulation is the cost.
    const cost = out.ran > 0 ? ` (points summed ${out.pointSeconds.toFixed(1)} s, ${out.lpSeconds.toFixed(1)} s of it in the LP solver)` : '';
    const msg = `${out.total} points (${out.ran} run now, ${out.skipped} already done) in ${out.wallSeconds.toFixed(1)} s${cost}; summary in ${join(flags.out, 'summary.json')}`;
    if (flags.json) {
      const { total, ran, skipped, failed, wallSeconds, pointSeconds, lpSeconds } = out;
      process.stdout.write(`${JSON.stringify({ total, ran, skipped, failed, wallSeconds, pointSeconds, lpSeconds })}\n`);
    } else {
      process.stdout.write(`${msg}\n`);
    }
    if (out.failed.length) {
      for (const f of out.failed) process.stderr.write(`sweep: point ${f.key} failed: ${f.message.split('\n')[0]}\n`);
      process.exitCode = 1;
    }
  });

  cmd
    .command('merge')
    .description('join the output directories of shards of one sweep (refuses different sweep definitions)')
    .argument('<dirs...>', 'shard output directories')
    .option('--out <dir>', 'merged output directory')
    .action((dirs: string[], opts: { out?: string }) => {
      // `--out` after the directories is parsed by the parent `sweep` command (it has an --out of its own).
      const outDir = opts.out ?? (cmd.opts() as { out?: string }).out;
      if (!outDir) throw new RondoError({ code: 'E_USAGE', problem: 'rondo sweep merge needs --out <dir>' });
      opts = { out: outDir };
      const r = mergeSweeps(dirs, outDir);
      process.stdout.write(`${r.present} of ${r.total} points in ${opts.out}${r.missing.length ? `; missing ${r.missing.length}: ${r.missing.slice(0, 5).join(', ')}${r.missing.length > 5 ? ', ...' : ''}` : ''}\n`);
      if (r.missing.length) process.exitCode = 1;
    });
}
