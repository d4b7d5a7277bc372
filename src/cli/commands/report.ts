import type { Command } from 'commander';
import { RondoError } from '../../model/index.js';
import { loadReportData, parseFormat, writeReport } from '../../report/index.js';

interface ReportFlags {
  output?: string;
  format: string;
  rate?: string;
}

export function register(program: Command): void {
  program
    .command('report')
    .description('draw a self-contained HTML report (or SVG/PNG charts) from a simulate --out file or a sweep directory')
    .argument('<input>', 'run file (rondo simulate --out), sweep point file, or sweep output directory')
    .option('-o, --output <path>', 'HTML file; with --format svg or png, a directory for one file per chart')
    .option('--format <format>', 'html, svg or png', 'html')
    .option('--rate <jobs-per-hour>', 'for a sweep: the rate whose JCT/fairness distributions and utilisation are drawn (default: the highest at which every run finished)')
    .action((input: string, flags: ReportFlags) => {
      if (!flags.output) throw new RondoError({ code: 'E_USAGE', problem: 'rondo report needs -o <file or directory>' });
      const format = parseFormat(flags.format);
      const rate = flags.rate === undefined ? undefined : Number(flags.rate);
      if (rate !== undefined && !Number.isFinite(rate)) throw new RondoError({ code: 'E_USAGE', problem: 'bad --rate', found: JSON.stringify(flags.rate) });
      const data = loadReportData(input, rate === undefined ? {} : { rate });
      const paths = writeReport(data, flags.output, format);
      process.stdout.write(`${paths.length === 1 ? paths[0] : `${paths.length} charts in ${flags.output}`}\n`);
    });
}
