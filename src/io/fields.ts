import { RondoError, preview } from '../model/errors.js';

/** Where a field sits, for error messages. */
export interface FieldPlace {
  file?: string;
  line: number;
  column: number;
}

// Unambiguous grammar (each digit run can match only one way), so no regex backtracking blow-up on long input.
const DECIMAL_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER_RE = /^[+-]?\d+$/;
/** No real number needs more characters than this; longer fields are refused before any regex runs. */
const MAX_NUMBER_CHARS = 64;

/** Parses a decimal number field strictly: no `NaN`, `Infinity`, hex, blanks or overflow to infinity. */
export function parseNumberField(raw: string, what: string, place: FieldPlace): number {
  const s = raw.trim();
  if (s.length === 0 || s.length > MAX_NUMBER_CHARS || !DECIMAL_RE.test(s)) {
    throw new RondoError({ code: 'E_NUMBER', ...place, problem: `bad ${what}`, expected: 'a decimal number', found: JSON.stringify(preview(raw)) });
  }
  const v = Number(s);
  if (!Number.isFinite(v)) {
    throw new RondoError({ code: 'E_NUMBER', ...place, problem: `${what} is out of range`, expected: 'a finite number', found: preview(raw) });
  }
  return v;
}

/** An integer field; `4` and `4.0` are accepted, `4.5` is not. */
export function parseIntegerField(raw: string, what: string, place: FieldPlace): number {
  const v = parseNumberField(raw, what, place);
  if (!Number.isSafeInteger(v)) {
    throw new RondoError({ code: 'E_NUMBER', ...place, problem: `bad ${what}`, expected: 'an integer', found: preview(raw) });
  }
  return v;
}

/** Gavel's `needs_data_dir`: 0 or 1. */
export function parseFlagField(raw: string, what: string, place: FieldPlace): boolean {
  const s = raw.trim();
  if (INTEGER_RE.test(s) && (Number(s) === 0 || Number(s) === 1)) return Number(s) === 1;
  throw new RondoError({ code: 'E_NUMBER', ...place, problem: `bad ${what}`, expected: '0 or 1', found: JSON.stringify(preview(raw)) });
}

/** Shortest text that reads back as the same number (JS style: `6`, `0.5`, `1e-7`). */
export function formatNumber(v: number): string {
  return String(v);
}

/**
 * Python's `repr(float)`: the shortest round-trip digits, always with a decimal point or exponent (`0.0`, `1e-05`,
 * `1e+16`). Used to write Gavel's throughput JSON exactly as Python's json module does.
 */
export function pythonFloatRepr(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = v.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let out: string;
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    out = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  } else if (exp < 0) {
    out = `0.${'0'.repeat(-exp - 1)}${digits}`;
  } else if (digits.length <= exp + 1) {
    out = `${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
  } else {
    out = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  return neg ? `-${out}` : out;
}

