import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forEachLine, readJobs, readThroughputs, writeFileAtomic, writeJobs } from '../../src/io/index.js';
import { rondoError } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'rondo-io-'));
const LINE = 'A3C\tc\t-n\t1\t100\t6\t1\n';

function file(name: string, data: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

describe('input limits', () => {
  it('refuses files over the size limit before reading them', () => {
    const p = file('big.trace', LINE.repeat(100));
    const e = rondoError(() => readJobs(p, { maxBytes: 1000 }));
    expect(e.code).toBe('E_TOO_LARGE');
    expect(e.file).toBe(p);
    expect(readJobs(p, { maxBytes: 10_000 }).jobs).toHaveLength(100);
  });
  it('refuses empty and blank files', () => {
    expect(rondoError(() => readJobs(file('empty.trace', ''))).code).toBe('E_EMPTY');
    expect(rondoError(() => readJobs(file('blank.trace', '\n \n\t\n'))).code).toBe('E_EMPTY');
    expect(rondoError(() => readThroughputs(file('empty.json', ''))).code).toBe('E_EMPTY');
  });
  it('refuses binary content with the line of the first bad byte', () => {
    let e = rondoError(() => readJobs(file('nul.trace', Buffer.concat([Buffer.from(LINE + LINE), Buffer.from([0x41, 0x00, 0x42])]))));
    expect([e.code, e.line, e.column]).toEqual(['E_BINARY', 3, 2]);
    e = rondoError(() => readJobs(file('latin1.trace', Buffer.concat([Buffer.from(LINE), Buffer.from([0x41, 0xff, 0xfe, 0x0a])]))));
    expect([e.code, e.line]).toEqual(['E_BINARY', 2]);
    e = rondoError(() => readThroughputs(file('gz.json', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00]))));
    expect(e.code).toBe('E_BINARY');
  });
  it('names missing files and directories', () => {
    expect(rondoError(() => readJobs(join(dir, 'nope.trace'))).message).toMatch(/file not found/);
    expect(rondoError(() => readJobs(dir)).code).toBe('E_IO');
  });
  it('accepts a BOM and CRLF', () => {
    const r = readJobs(file('bom.trace', `\ufeff${LINE.replace('\n', '\r\n')}${LINE}`));
    expect(r.jobs).toHaveLength(2);
    expect(r.jobs[0]!.jobType).toBe('A3C');
    expect(r.jobs[0]!.scaleFactor).toBe(1);
  });
  it('splits lines the same from a string and from bytes', () => {
    const text = 'a\r\nb\n\nc\u00e9\n';
    const fromString: string[] = [];
    const fromBytes: string[] = [];
    forEachLine(text, (l, n) => void fromString.push(`${n}:${l}`));
    forEachLine(Buffer.from(text), (l, n) => void fromBytes.push(`${n}:${l}`));
    expect(fromString).toEqual(['1:a', '2:b', '3:', '4:c\u00e9']);
    expect(fromBytes).toEqual(fromString);
  });
});

describe('atomic writes', () => {
  it('replaces the whole file and leaves no temporary file', () => {
    const p = join(dir, 'out', 'x.jsonl');
    mkdirSync(join(dir, 'out'));
    writeFileAtomic(p, 'old\n');
    writeFileAtomic(p, 'new\n');
    expect(readFileSync(p, 'utf8')).toBe('new\n');
    expect(readdirSync(join(dir, 'out'))).toEqual(['x.jsonl']);
  });
  it('fails cleanly into a missing directory', () => {
    const e = rondoError(() => writeFileAtomic(join(dir, 'missing', 'x'), 'data'));
    expect(e.code).toBe('E_IO');
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });
  it.skipIf(process.getuid?.() === 0)('fails cleanly in a read-only directory', () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    expect(rondoError(() => writeFileAtomic(join(ro, 'x'), 'data')).code).toBe('E_IO');
    expect(readdirSync(ro)).toEqual([]);
  });
  it('writes nothing when a job cannot be expressed', () => {
    const p = join(dir, 'refused.trace');
    const jobs = readJobs(file('d.jsonl', '{"id":"a","jobType":"A3C","scaleFactor":1,"arrivalTime":0,"durationS":100}\n')).jobs;
    expect(rondoError(() => writeJobs(p, jobs, 'gavel')).code).toBe('E_INVALID');
    expect(existsSync(p)).toBe(false);
  });
});
