import type { Command } from 'commander';

/** Each command lives in its own file and exports `register(program)`; add one line here per command. */
export function registerCommands(_program: Command): void {}
