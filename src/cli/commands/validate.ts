import type { Command } from 'commander';
import { RondoError } from '../../model/errors.js';
import type { ThroughputTable } from '../../model/throughput.js';
import type { ClusterSpec } from '../../model/cluster.js';
import {
  formatSummary,
  parseCluster,
  parseTraceFormat,
  readJobs,
  readThroughputs,
  summariseJobs,
  summaryWarnings,
} from '../../io/index.js';
import { DEFAULT_THROUGHPUTS } from '../../sim/index.js';


interface ValidateFlags {
  format?: string;
  throughputs: string | false;
  cluster?: string;
  gpusPerServer?: string;
  json?: boolean;
  strict?: boolean;
  sortedOnly?: boolean;
}

export function register(program: Command): void {
  program
    .command('validate')
    .description('check a job trace and summarise it (jobs, arrivals, GPU counts, job types, missing throughputs)')
    .argument('<trace>', 'trace file: Gavel msr (7 columns), Gavel (10), Shockwave (12), Gavel generator JSON, or canonical JSONL')
    .option('--format <format>', 'skip detection: gavel-msr, gavel, shockwave, gavel-json, canonical')
    .option('--throughputs <file>', 'Gavel throughput JSON used to report (job type, scale factor) keys without throughputs', DEFAULT_THROUGHPUTS)
    .option('--no-throughputs', 'do not check throughputs')
    .option('--cluster <spec>', 'cluster to check job sizes against: v100:36,p100:36,k80:36, 36:36:36, JSON or a JSON file')
    .option('--gpus-per-server <spec>', 'GPUs per server: 4, or per type v100=4,k80=2 (default 1)')
    .option('--sorted-only', 'refuse traces whose arrivals are not sorted (default: sort them stably)')
    .option('--strict', 'exit 1 when there are warnings (jobs without throughputs, jobs larger than the cluster)')
    .option('--json', 'print one JSON object instead of a table')
    .action((trace: string, flags: ValidateFlags) => {
      if (flags.gpusPerServer !== undefined && flags.cluster === undefined) {
        throw new RondoError({ code: 'E_USAGE', problem: '--gpus-per-server needs --cluster' });
      }
      const read = readJobs(trace, {
        format: flags.format === undefined ? undefined : parseTraceFormat(flags.format),
        arrivalOrder: flags.sortedOnly ? 'error' : 'sort',
      });
      const throughputs: ThroughputTable | undefined = flags.throughputs === false ? undefined : readThroughputs(flags.throughputs);
      const cluster: ClusterSpec | undefined =
        flags.cluster === undefined ? undefined : parseCluster(flags.cluster, flags.gpusPerServer, { knownTypes: throughputs?.gpuTypes });
      const summary = summariseJobs(read.jobs, { throughputs, cluster });
      const warnings = summaryWarnings(summary);
      if (read.reordered > 0) warnings.unshift(`${read.reordered} job(s) were out of arrival order in the file and were sorted`);
      const ok = !(flags.strict && warnings.length > 0);
      if (flags.json) {
        const out = {
          ok,
          file: trace,
          format: read.format,
          ...(read.header ? { header: read.header } : {}),
          throughputs: flags.throughputs === false ? null : flags.throughputs,
          cluster: cluster ? { gpus: cluster.gpus, gpusPerServer: cluster.gpusPerServer, totalGpus: cluster.totalGpus } : null,
          summary,
          warnings,
        };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } else {
        const title: Record<string, string> = { trace, format: read.format };
        if (read.header?.source !== undefined) title.source = `${read.header.source}${read.header.sourceFormat ? ` (${read.header.sourceFormat})` : ''}`;
        if (cluster) title.cluster = cluster.gpuTypes.map((t) => `${t}:${cluster.gpus[t]}`).join(',');
        process.stdout.write(`${formatSummary(summary, title)}\n`);
        for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
        process.stdout.write(warnings.length === 0 ? 'valid\n' : `valid, with ${warnings.length} warning(s)${flags.strict ? ' (--strict: failing)' : ''}\n`);
      }
      if (!ok) process.exitCode = 1;
    });
}
