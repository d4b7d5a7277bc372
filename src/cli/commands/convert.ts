import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { RondoError } from '../../model/errors.js';
import { formatJobs, parseTraceFormat, parseWriteFormat, readJobs, readPhillyVcs, writeFileAtomic, type JobsRead, type WriteFormat } from '../../io/index.js';

/** A folder of Gavel's per-VC msr traces is read as one trace with the VCs as tenants (docs/tenants.md). */
function readInputJobs(input: string, from: string | undefined): JobsRead & { sourceFormat: string } {
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
  const { jobs } = readPhillyVcs(input);
  return { jobs, format: 'gavel-msr', reordered: 0, sourceFormat: 'philly-vcs (gavel-msr per VC)' };
}

interface ConvertFlags {
  from?: string;
  to?: string;
  json?: boolean;
  strict?: boolean;
}

/** Output format from the file name when --to is not given: .trace is Gavel's 10 columns, anything else canonical. */
function formatFromName(out: string): WriteFormat {
  return /\.trace$/i.test(out) ? 'gavel' : 'canonical';
}

export function register(program: Command): void {
  program
    .command('convert')
    .description('convert a job trace between formats (canonical JSONL, Gavel 10-column, Gavel msr, Shockwave)')
    .argument('<in>', "input trace (format detected from content), or a folder of Gavel's per-VC msr traces (tenant = VC)")
    .argument('<out>', 'output file, written atomically')
    .option('--from <format>', 'input format: gavel-msr, gavel, shockwave, gavel-json, canonical')
    .option('--to <format>', 'output format: canonical, gavel, gavel-msr, shockwave (default: gavel for *.trace, else canonical)')
    .option('--strict', 'refuse to write when the output format cannot carry every field')
    .option('--json', 'print the result as one JSON object')
    .action((input: string, output: string, flags: ConvertFlags) => {
      const read = readInputJobs(input, flags.from);
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
