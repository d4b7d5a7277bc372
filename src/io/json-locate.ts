import { RondoError, preview } from '../model/errors.js';
import { lineColumnAt } from './input.js';

/**
 * Small helpers to put a line and column on errors found after `JSON.parse` (which keeps no positions). They scan the
 * text only on error paths, so their speed does not matter; they never throw, returning undefined when lost.
 */

const WS = new Set([' ', '\t', '\n', '\r']);

function skipWs(t: string, i: number): number {
  while (i < t.length && WS.has(t[i]!)) i++;
  return i;
}

function skipString(t: string, i: number): number {
  // t[i] is the opening quote.
  i++;
  while (i < t.length) {
    const c = t[i]!;
    if (c === '\\') i += 2;
    else if (c === '"') return i + 1;
    else i++;
  }
  return -1;
}

/**
 * Index just after the JSON value starting at i (after whitespace), or -1. The text is known to be valid JSON (it
 * parsed), so containers are skipped by counting brackets outside strings: no recursion, so no stack overflow on deep
 * nesting.
 */
function skipValue(t: string, i: number): number {
  i = skipWs(t, i);
  const c = t[i];
  if (c === '"') return skipString(t, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    while (i < t.length) {
      const d = t[i]!;
      if (d === '"') {
        i = skipString(t, i);
        if (i < 0) return -1;
        continue;
      }
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  // number or literal
  while (i < t.length && !WS.has(t[i]!) && t[i] !== ',' && t[i] !== '}' && t[i] !== ']') i++;
  return i;
}

/**
 * Character offset of the value at `path` (object keys and array indices) in a JSON text, or of the key itself when
 * `atKey` is set and the last step is an object key.
 */
export function locateJsonPath(text: string, path: readonly (string | number)[], atKey = false): number | undefined {
  try {
    return locate(text, path, atKey);
  } catch {
    // Only used to decorate an error: never let it raise a different one.
    return undefined;
  }
}

function locate(text: string, path: readonly (string | number)[], atKey: boolean): number | undefined {
  let i = skipWs(text, 0);
  for (let depth = 0; depth < path.length; depth++) {
    const step = path[depth]!;
    const c = text[i];
    if (typeof step === 'number') {
      if (c !== '[') return undefined;
      i = skipWs(text, i + 1);
      for (let k = 0; k < step; k++) {
        i = skipValue(text, i);
        if (i < 0) return undefined;
        i = skipWs(text, i);
        if (text[i] !== ',') return undefined;
        i = skipWs(text, i + 1);
      }
    } else {
      if (c !== '{') return undefined;
      i = skipWs(text, i + 1);
      let found = false;
      while (i < text.length && text[i] === '"') {
        const keyStart = i;
        const keyEnd = skipString(text, i);
        if (keyEnd < 0) return undefined;
        let key: unknown;
        try {
          key = JSON.parse(text.slice(keyStart, keyEnd));
        } catch {
          return undefined;
        }
        i = skipWs(text, keyEnd);
        if (text[i] !== ':') return undefined;
        i = skipWs(text, i + 1);
        if (key === step) {
          if (atKey && depth === path.length - 1) return keyStart;
          found = true;
          break;
        }
        i = skipValue(text, i);
        if (i < 0) return undefined;
        i = skipWs(text, i);
        if (text[i] === ',') i = skipWs(text, i + 1);
        else return undefined;
      }
      if (!found) return undefined;
    }
  }
  return i;
}

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Offset of the first JSON syntax error in a text, or -1 when it is valid. V8's messages give a position for some
 * errors only ("Unexpected token 'N'" has none), and a line number matters in a 40,000-line throughput file. An
 * iterative state machine with an explicit stack, linear in the text.
 */
export function jsonErrorOffset(t: string): number {
  const stack: string[] = [];
  let state: 'value' | 'key' | 'after' = 'value';
  let i = 0;
  const string = (): boolean => {
    // t[i] === '"'
    i++;
    while (i < t.length) {
      const c = t.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        const e = t[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(t.slice(i + 2, i + 6))) return false;
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return false;
      } else i++;
    }
    return false;
  };
  while (true) {
    i = skipWs(t, i);
    if (state === 'value') {
      const c = t[i];
      if (c === '{' || c === '[') {
        stack.push(c);
        i = skipWs(t, i + 1);
        if (t[i] === (c === '{' ? '}' : ']')) {
          stack.pop();
          i++;
          state = 'after';
        } else state = c === '{' ? 'key' : 'value';
        continue;
      }
      if (c === '"') {
        if (!string()) return Math.min(i, t.length);
        state = 'after';
        continue;
      }
      NUMBER_RE.lastIndex = i;
      if (NUMBER_RE.test(t)) {
        i = NUMBER_RE.lastIndex;
        state = 'after';
        continue;
      }
      const lit = ['true', 'false', 'null'].find((l) => t.startsWith(l, i));
      if (lit) {
        i += lit.length;
        state = 'after';
        continue;
      }
      return i;
    }
    if (state === 'key') {
      if (t[i] !== '"' || !string()) return Math.min(i, t.length);
      i = skipWs(t, i);
      if (t[i] !== ':') return i;
      i++;
      state = 'value';
      continue;
    }
    // after a value
    const top = stack[stack.length - 1];
    if (top === undefined) return i === t.length ? -1 : i;
    if (t[i] === ',') {
      i++;
      state = top === '{' ? 'key' : 'value';
    } else if (t[i] === (top === '{' ? '}' : ']')) {
      stack.pop();
      i++;
    } else return i;
  }
}

/** Line and column (1-based) of `path` in a JSON text; line 1, column 1 when it cannot be found. */
export function jsonPlace(text: string, path: readonly (string | number)[], atKey = false, lineOffset = 0): { line: number; column: number } {
  const at = locateJsonPath(text, path, atKey);
  const lc = lineColumnAt(text, at ?? 0);
  return { line: lc.line + lineOffset, column: lc.column };
}

/**
 * JSON.parse with a placed E_JSON error. V8 reports a character position in its message; turn it into line:column.
 */
export function parseJsonText(text: string, file: string | undefined, lineOffset = 0): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    let pos = m ? Number(m[1]) : jsonErrorOffset(text);
    if (pos < 0) pos = text.length;
    const lc = lineColumnAt(text, pos);
    // The message without V8's position suffix and the echoed text, which can be long.
    const why = msg.replace(/\s*(?:in JSON )?at position \d+.*$/s, '').replace(/, "[\s\S]*$/, '');
    throw new RondoError({
      code: 'E_JSON',
      file,
      line: lc.line + lineOffset,
      column: lc.column,
      problem: `invalid JSON: ${preview(why, 80)}`,
    });
  }
}

/** Start offsets of the elements of a top-level JSON array (valid JSON), in one pass. */
export function arrayElementOffsets(text: string): number[] {
  const out: number[] = [];
  let i = skipWs(text, 0);
  if (text[i] !== '[') return out;
  i = skipWs(text, i + 1);
  if (text[i] === ']') return out;
  while (i < text.length) {
    out.push(i);
    i = skipValue(text, i);
    if (i < 0) return out;
    i = skipWs(text, i);
    if (text[i] !== ',') return out;
    i = skipWs(text, i + 1);
  }
  return out;
}

/** Line starts of a text, for many offset -> line:column look-ups (binary search). */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }
  at(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.starts[lo]! + 1 };
  }
}
