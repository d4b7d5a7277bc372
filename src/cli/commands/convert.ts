import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { RondoError } from '../../model/errors.js';
import { formatJobs, isPaiFolder, parseTraceFormat, parseWriteFormat, readAlibabaPai, readJobs, readPhillyVcs, readThroughputs, writeFileAtomic, type JobsRead, type WriteFormat } from '../../io/index.js';
import { DEFAULT_THROUGHPUTS } from '../../sim/index.js';

/**
 * A folder of Gavel's per-VC msr traces is read as one trace with the VCs as tenants; a folder with Alibaba PAI's
 * job and task tables, with the users as tenants (docs/tenants.md, docs/formats.md).
 */
function readInputJobs(input: string, from: string | undefined, flags: ConvertFlags): JobsRead & { sourceFormat: string } {
  let dir = false;
  try {
    dir = statSync(input).isDirectory();
  } catch {
    // Not there: readJobs reports it with the usual E_IO.
  }
  if (!dir) {
    const read = readJobs(input, { format: from === undefined ? undefined : parseTraceFormat(from) });
    return { ...read, sourceFormat: read.header?.sourceFormat ?? read.format };
  }
  if (isPaiFolder(input)) {
    const seed = Number(flags.seed ?? 0);
    if (!Number.isInteger(seed) || seed < 0) throw new RondoError({ code: 'E_USAGE', problem: 'bad --seed', expected: 'an integer >= 0', found: String(flags.seed) });
    const pai = readAlibabaPai(input, readThroughputs(flags.throughputs ?? DEFAULT_THROUGHPUTS), { seed });
    const left = Object.entries(pai.skipped).map(([why, n]) => `${n} ${why}`);
    if (left.length > 0) process.stderr.write(`note: PAI jobs left out: ${left.join(', ')}\n`);
    return { jobs: pai.jobs, format: 'canonical', reordered: 0, sourceFormat: `alibaba-pai (cluster-trace-gpu-v2020, seed ${seed})` };
  }
  const { jobs } = readPhillyVcs(input);
  return { jobs, format: 'gavel-msr', reordered: 0, sourceFormat: 'philly-vcs (gavel-msr per VC)' };
}

interface ConvertFlags {
  from?: string;
  to?: string;
  json?: boolean;
  strict?: boolean;
  seed?: string;
  throughputs?: string;
}

/** Output format from the file name when --to is not given: .trace is Gavel's 10 columns, anything else canonical. */
function formatFromName(out: string): WriteFormat {
  return /\.trace$/i.test(out) ? 'gavel' : 'canonical';
}

export function register(program: Command): void {
  program
    .command('convert')
    .description('convert a job trace between formats (canonical JSONL, Gavel 10-column, Gavel msr, Shockwave)')
    .argument('<in>', "input trace (format detected from content), a folder of Gavel's per-VC msr traces (tenant = VC), or a folder with Alibaba PAI's pai_job_table.csv and pai_task_table.csv (tenant = user)")
    .argument('<out>', 'output file, written atomically')
    .option('--from <format>', 'input format: gavel-msr, gavel, shockwave, gavel-json, canonical')
    .option('--to <format>', 'output format: canonical, gavel, gavel-msr, shockwave (default: gavel for *.trace, else canonical)')
    .option('--strict', 'refuse to write when the output format cannot carry every field')
    .option('--json', 'print the result as one JSON object')
    .option('--seed <n>', 'Alibaba PAI folder: seed of the job types drawn for its jobs (default 0)')
    .option('--throughputs <file>', 'Alibaba PAI folder: throughput table the job types are drawn from (default the shipped Gavel table)')
    .action((input: string, output: string, flags: ConvertFlags) => {
      const read = readInputJobs(input, flags.from, flags);
      const to = flags.to === undefined ? formatFromName(output) : parseWriteFormat(flags.to);
      const header = { ...(read.header ?? {}), source: read.header?.source ?? basename(input), sourceFormat: read.sourceFormat };
      const { text, lost } = formatJobs(read.jobs, to, { header });
      if (flags.strict && lost.length > 0) {
        throw new RondoError({ code: 'E_INVALID', problem: `${to} cannot carry: ${lost.join('; ')}`, hint: 'convert to canonical, or drop --strict' });
      }
      writeFileAtomic(output, text);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ok: true, input, output, from: read.format, to, jobs: read.jobs.length, reordered: read.reordered, lost })}\n`);
      } else {
        process.stdout.write(`wrote ${read.jobs.length} jobs to ${output} (${read.format} -> ${to})\n`);
        if (read.reordered > 0) process.stderr.write(`note: ${read.reordered} job(s) were out of arrival order and were sorted\n`);
        for (const l of lost) process.stderr.write(`warning: not carried by ${to}: ${l}\n`);
      }
    });
}
