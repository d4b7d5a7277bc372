import type { Command } from 'commander';
import { register as registerValidate } from './validate.js';
import { register as registerConvert } from './convert.js';
import { register as registerSimulate } from './simulate.js';
import { register as registerCompare } from './compare.js';

/** Each command lives in its own file and exports `register(program)`; add one line here per command. */
export function registerCommands(program: Command): void {
  registerValidate(program);
  registerConvert(program);
  registerSimulate(program);
  registerCompare(program);
}
