import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RondoError } from '../model/errors.js';

/**
 * Writes a file so that readers see the old content or the whole new content, never a part: the data goes to a
 * temporary file in the same directory (same file system, so rename is atomic), is flushed, then renamed over the
 * target. On any failure the temporary file is removed and a RondoError (E_IO) names the target.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error matters more
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // the temporary file may not exist
    }
    const err = e as NodeJS.ErrnoException;
    throw new RondoError({ code: 'E_IO', file: path, problem: `cannot write (${err.code ?? err.message})` });
  }
}
