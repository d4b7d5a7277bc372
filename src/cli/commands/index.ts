import type { Command } from 'commander';
import { register as registerValidate } from './validate.js';
import { register as registerConvert } from './convert.js';
import { register as registerSimulate } from './simulate.js';
import { register as registerCompare } from './compare.js';
import { register as registerServe } from './serve.js';
import { register as registerWorker } from './worker.js';
import { register as registerSubmit } from './submit.js';
import { register as registerStatus } from './status.js';
import { register as registerCancel } from './cancel.js';
import { register as registerLogs } from './logs.js';
import { register as registerWhatif } from './whatif.js';
import { register as registerSweep } from './sweep.js';
import { register as registerReport } from './report.js';
import { register as registerTenants } from './tenants.js';

/** Each command lives in its own file and exports `register(program)`; add one line here per command. */
export function registerCommands(program: Command): void {
  registerValidate(program);
  registerConvert(program);
  registerSimulate(program);
  registerCompare(program);
  registerServe(program);
  registerWorker(program);
  registerSubmit(program);
  registerStatus(program);
  registerCancel(program);
  registerLogs(program);
  registerWhatif(program);
  registerSweep(program);
  registerReport(program);
  registerTenants(program);
}
