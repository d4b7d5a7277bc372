import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { constants as bufferConstants, isUtf8 } from 'node:buffer';
import { RondoError } from '../model/errors.js';

/** Default largest input file Rondo reads (2 GiB); larger files are refused before any byte is read. */
export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;

export interface ReadOptions {
  /** Refuse files larger than this many bytes with E_TOO_LARGE. */
  maxBytes?: number;
}

function ioError(file: string, e: unknown): RondoError {
  const err = e as NodeJS.ErrnoException;
  const why =
    err.code === 'ENOENT' ? 'file not found' :
    err.code === 'EACCES' ? 'permission denied' :
    err.code === 'EISDIR' ? 'is a directory, not a file' :
    `cannot read (${err.code ?? err.message})`;
  return new RondoError({ code: 'E_IO', file, problem: why });
}

/**
 * Reads a whole input file as bytes after checking its size, so an oversized file is refused without reading it.
 * Empty files and binary content (NUL bytes, invalid UTF-8) are refused here, once, for every reader.
 */
export function readInput(file: string, opts: ReadOptions = {}): Buffer {
  const max = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw ioError(file, e);
  }
  try {
    let size: number;
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw Object.assign(new Error('dir'), { code: 'EISDIR' });
      size = st.size;
    } catch (e) {
      throw ioError(file, e);
    }
    if (size > max) {
      throw new RondoError({
        code: 'E_TOO_LARGE',
        file,
        problem: `file is ${size} bytes, over the limit of ${max}`,
        hint: 'raise the limit (maxBytes) or split the file',
      });
    }
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    try {
      while (off < size) {
        const n = readSync(fd, buf, off, size - off, null);
        if (n === 0) break;
        off += n;
      }
    } catch (e) {
      throw ioError(file, e);
    }
    const bytes = off < size ? buf.subarray(0, off) : buf;
    checkBytes(bytes, file);
    return bytes;
  } finally {
    closeSync(fd);
  }
}

function lineAndColumnOfByte(buf: Buffer, at: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = buf.indexOf(10); i !== -1 && i < at; i = buf.indexOf(10, i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: at - start + 1 };
}

/** E_EMPTY for no content, E_BINARY for NUL bytes or invalid UTF-8 (with the line and byte column of the first). */
export function checkBytes(buf: Buffer, file?: string): void {
  if (buf.length === 0) throw new RondoError({ code: 'E_EMPTY', file, line: 1, column: 1, problem: 'file is empty' });
  const nul = buf.indexOf(0);
  if (nul !== -1) {
    throw new RondoError({
      code: 'E_BINARY',
      file,
      ...lineAndColumnOfByte(buf, nul),
      problem: 'binary content (NUL byte)',
      expected: 'a UTF-8 text file',
      hint: 'is this a compressed or binary file?',
    });
  }
  if (!isUtf8(buf)) {
    // Find the first bad line: decode line by line (only on this error path).
    const dec = new TextDecoder('utf-8', { fatal: true });
    let start = 0;
    let line = 1;
    while (start <= buf.length) {
      let end = buf.indexOf(10, start);
      if (end === -1) end = buf.length;
      try {
        dec.decode(buf.subarray(start, end));
      } catch {
        break;
      }
      start = end + 1;
      line++;
    }
    throw new RondoError({ code: 'E_BINARY', file, line, column: 1, problem: 'invalid UTF-8', expected: 'a UTF-8 text file' });
  }
}

/**
 * Text of a buffer for readers that need the whole document (JSON). Strings in V8 are capped near 512 MiB, so a larger
 * document is refused cleanly instead of failing inside Node.
 */
export function bufferToText(buf: Buffer, file?: string): string {
  if (buf.length > bufferConstants.MAX_STRING_LENGTH) {
    throw new RondoError({
      code: 'E_TOO_LARGE',
      file,
      problem: `document of ${buf.length} bytes is too large to parse as one JSON text`,
      hint: 'use JSON Lines (canonical format) or a tab-separated trace for very large inputs',
    });
  }
  let s = buf.toString('utf8');
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  return s;
}

/** Input of a line-based reader: a string, or the raw bytes of a file (lines decoded one at a time). */
export type TextInput = string | Buffer;

/**
 * Calls `fn(text, lineNo)` for each line (1-based numbers; `\n` or `\r\n` endings; a UTF-8 BOM is dropped). A final
 * empty line after the last newline is not reported. Returning `false` from `fn` stops early.
 */
export function forEachLine(input: TextInput, fn: (text: string, lineNo: number) => boolean | void): void {
  let lineNo = 0;
  const emit = (s: string): boolean => {
    lineNo++;
    if (lineNo === 1 && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    if (s.endsWith('\r')) s = s.slice(0, -1);
    return fn(s, lineNo) !== false;
  };
  if (typeof input === 'string') {
    let start = 0;
    while (start < input.length) {
      let end = input.indexOf('\n', start);
      if (end === -1) end = input.length;
      if (!emit(input.slice(start, end))) return;
      start = end + 1;
    }
  } else {
    let start = 0;
    while (start < input.length) {
      let end = input.indexOf(10, start);
      if (end === -1) end = input.length;
      if (!emit(input.toString('utf8', start, end))) return;
      start = end + 1;
    }
  }
}

/** First line with non-blank content and its number, or undefined for an all-blank input. */
export function firstContentLine(input: TextInput): { text: string; lineNo: number } | undefined {
  let found: { text: string; lineNo: number } | undefined;
  forEachLine(input, (text, lineNo) => {
    if (text.trim().length === 0) return true;
    found = { text, lineNo };
    return false;
  });
  return found;
}

/** 1-based line and column of a character offset in a text. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  const end = Math.min(Math.max(0, offset), text.length);
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: end - start + 1 };
}
