import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const isRoot = (d: string): boolean => {
  const pj = join(d, 'package.json');
  return existsSync(pj) && existsSync(join(d, '.git')) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'rondo';
};

/**
 * The checkout whose `bench/results/` a benchmark writes to: the working directory when it is a Rondo checkout (the
 * compiled benchmark sits under node_modules/.cache, which may be a symlink into another checkout, e.g. in a git
 * worktree), else the first folder up from the compiled file that is one.
 */
export function repoRoot(compiledDir: string): string {
  if (isRoot(process.cwd())) return process.cwd();
  let d = compiledDir;
  for (let i = 0; i < 8; i++) {
    if (isRoot(d)) return d;
    d = resolve(d, '..');
  }
  return process.cwd();
}

/** The value given after `--name` on the command line, or `fallback` when the flag is absent. */
export function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** Peak RSS and heap of this process (MiB), sampled every 200 ms until `stop()` (which takes a last sample). */
export function peakMemory(): { readonly peakRssMb: number; readonly peakHeapMb: number; stop(): void } {
  const peak = { peakRssMb: 0, peakHeapMb: 0 };
  const sample = (): void => {
    const m = process.memoryUsage();
    peak.peakRssMb = Math.max(peak.peakRssMb, m.rss / 2 ** 20);
    peak.peakHeapMb = Math.max(peak.peakHeapMb, m.heapUsed / 2 ** 20);
  };
  const timer = setInterval(sample, 200);
  return {
    get peakRssMb() {
      return peak.peakRssMb;
    },
    get peakHeapMb() {
      return peak.peakHeapMb;
    },
    stop() {
      clearInterval(timer);
      sample();
    },
  };
}

/** The value at quantile q (0-1) of `xs`: the element at floor(q x n) of the sorted values, 0 when there are none. */
export function percentile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
