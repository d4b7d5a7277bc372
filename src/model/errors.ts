/**
 * Every error a user can cause is a RondoError: a stable code, the place (file, line, column), what was
 * expected, what was found, and how to fix it. The CLI prints `message` on one line and exits with 2.
 */
export type ErrorCode =
  | 'E_IO'
  | 'E_EMPTY'
  | 'E_BINARY'
  | 'E_TOO_LARGE'
  | 'E_FORMAT'
  | 'E_COLUMNS'
  | 'E_NUMBER'
  | 'E_RANGE'
  | 'E_DUPLICATE'
  | 'E_UNSORTED'
  | 'E_JSON'
  | 'E_SCHEMA'
  | 'E_UNKNOWN_GPU'
  | 'E_UNKNOWN_JOB_TYPE'
  | 'E_CLUSTER'
  | 'E_INVALID'
  | 'E_INFEASIBLE'
  | 'E_SOLVER'
  | 'E_USAGE';

export interface ErrorPlace {
  file?: string;
  line?: number;
  column?: number;
}

export interface RondoErrorInit extends ErrorPlace {
  code: ErrorCode;
  /** What went wrong, in a few words. */
  problem: string;
  expected?: string;
  found?: string;
  /** How the user can fix it. */
  hint?: string;
}

/** Keep found-values short so one bad line cannot flood the terminal. */
export function preview(value: unknown, max = 60): string {
  let s: string;
  try {
    s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    // Hostile JSON parses fine but overflows JSON.stringify when deeply nested (cyclic values refuse it too);
    // an error message must never turn into a different error.
    s = Array.isArray(value) ? '[a deeply nested array]' : '{a deeply nested object}';
  }
  // eslint-disable-next-line no-control-regex
  const printable = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}

export class RondoError extends Error {
  readonly code: ErrorCode;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly problem: string;
  readonly expected: string | undefined;
  readonly found: string | undefined;
  readonly hint: string | undefined;

  constructor(init: RondoErrorInit) {
    super(RondoError.format(init));
    this.name = 'RondoError';
    this.code = init.code;
    this.file = init.file;
    this.line = init.line;
    this.column = init.column;
    this.problem = init.problem;
    this.expected = init.expected;
    this.found = init.found;
    this.hint = init.hint;
  }

  static format(init: RondoErrorInit): string {
    let place = init.file ?? '';
    if (init.line !== undefined) place += `${place ? ':' : 'line '}${init.line}`;
    if (init.column !== undefined) place += `:${init.column}`;
    const parts = [`${place ? `${place}: ` : ''}${init.problem}`];
    if (init.expected !== undefined) parts.push(`expected ${init.expected}`);
    if (init.found !== undefined) parts.push(`found ${init.found}`);
    let msg = parts.join('; ');
    if (init.hint) msg += ` (${init.hint})`;
    return `${msg} [${init.code}]`;
  }

  /** A copy of this error with the place filled in where it was missing (for errors raised below the reader). */
  at(place: ErrorPlace): RondoError {
    return new RondoError({
      code: this.code,
      problem: this.problem,
      expected: this.expected,
      found: this.found,
      hint: this.hint,
      file: this.file ?? place.file,
      line: this.line ?? place.line,
      column: this.column ?? place.column,
    });
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      file: this.file,
      line: this.line,
      column: this.column,
      expected: this.expected,
      found: this.found,
      hint: this.hint,
    };
  }
}

export function isRondoError(e: unknown): e is RondoError {
  return e instanceof RondoError;
}
