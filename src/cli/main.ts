import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isRondoError } from '../model/errors.js';
import { defaultSolver } from '../solver/index.js';
import { registerCommands } from './commands/index.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Exit codes: 0 ok, 1 a check failed (e.g. validate found problems), 2 bad input or usage, 70 internal error. */
export const EXIT_OK = 0;
export const EXIT_BAD_INPUT = 2;

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('rondo')
    .description('Heterogeneity-aware, round-based scheduling of deep-learning training jobs: simulate and serve.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .showHelpAfterError('(run rondo --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerCommands(program);
  return program;
}

/** Runs the CLI; returns the exit code instead of calling process.exit so output streams drain. */
export async function main(argv: string[]): Promise<number> {
  // RONDO_LP_DEBUG=1: one line per HiGHS run on stderr (this thread's solver; sweep and policy worker threads have
  // their own and stay quiet). Only the CLI reads the environment; the solver just takes a sink.
  if (process.env['RONDO_LP_DEBUG']) defaultSolver.debug = (line) => process.stderr.write(`${line}\n`);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version arrive here as "errors" with exit code 0.
      return e.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
    }
    if (isRondoError(e)) {
      process.stderr.write(`rondo: error: ${e.message}\n`);
      return EXIT_BAD_INPUT;
    }
    throw e;
  }
}
