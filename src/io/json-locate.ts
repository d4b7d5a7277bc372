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

function skipValue(t: string, i: number): number {
  i = skipWs(t, i);
  const c = t[i];
  if (c === '"') return skipString(t, i);
  if (c === '{' || c === '[') {
    const close = c === '{' ? '}' : ']';
    i = skipWs(t, i + 1);
    if (t[i] === close) return i + 1;
    while (i < t.length) {
      if (c === '{') {
        if (t[i] !== '"') return -1;
        i = skipString(t, i);
        if (i < 0) return -1;
        i = skipWs(t, i);
        if (t[i] !== ':') return -1;
        i++;
      }
      i = skipValue(t, i);
      if (i < 0) return -1;
      i = skipWs(t, i);
      if (t[i] === ',') i = skipWs(t, i + 1);
      else if (t[i] === close) return i + 1;
      else return -1;
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
    const pos = m ? Number(m[1]) : text.length;
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
