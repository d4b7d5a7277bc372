import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { RondoError } from '../../src/model/errors.js';

/** Repository root and the shared data folder beside it (`../shared` from the project root). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));
export const HAVE_SHARED = existsSync(`${SHARED}data/gavel/traces/msr`);

/** Runs fn, expects a RondoError and returns it (for checks on code, line, column). */
export function rondoError(fn: () => unknown): RondoError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RondoError);
    return e as RondoError;
  }
  throw new Error('expected a RondoError, nothing was thrown');
}
