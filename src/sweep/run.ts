/**
 * Runs the unfinished points of a sweep (or of one shard of it) on a pool of worker threads. Each finished point is
 * written atomically by this thread as soon as it arrives; rerunning skips points already written. Aborting
 * terminates the workers: points in flight are lost, finished ones stay.
 */
import { appendFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { RondoError } from '../model/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { expandGrid, shardPoints, type Shard, type SweepDefinition, type SweepPoint } from './grid.js';
import { isFinished, pointFile, prepareSweepDir, writeSummary, type SummaryRow } from './output.js';
import type { RunMessage, WorkerReply } from './worker.js';

export interface SweepProgress {
  readonly done: number;
  readonly total: number;
  readonly key: string;
  readonly wallSeconds: number;
}

export interface SweepOptions {
  readonly definition: SweepDefinition;
  readonly outDir: string;
  /** Worker threads (default: available parallelism). */
  readonly jobs?: number;
  readonly shard?: Shard;
  readonly signal?: AbortSignal;
  /** Called at start (with done = points already finished) and after every point. */
  readonly onProgress?: (p: SweepProgress) => void;
}

export interface SweepOutcome {
  readonly total: number;
  readonly skipped: number;
  readonly ran: number;
  readonly failed: ReadonlyArray<{ readonly key: string; readonly message: string }>;
  readonly interrupted: boolean;
  readonly rows: readonly SummaryRow[];
  readonly wallSeconds: number;
  /** Summed over the points run now: their own wall time, and the part of it spent in the LP solver. */
  readonly pointSeconds: number;
  readonly lpSeconds: number;
}

/** Source runs (vitest) start the TypeScript worker through scripts/ts-hooks.mjs; the build runs dist JS. */
function startWorker(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const hooks = new URL('../../scripts/ts-hooks.mjs', here).href;
    const entry = new URL('./worker.ts', here).href;
    const boot = `import('node:module').then((m) => { m.register(${JSON.stringify(hooks)}); return import(${JSON.stringify(entry)}); });`;
    return new Worker(boot, { eval: true });
  }
  return new Worker(new URL('./worker.js', here));
}

export async function runSweep(opts: SweepOptions): Promise<SweepOutcome> {
  const t0 = performance.now();
  const file = prepareSweepDir(opts.outDir, opts.definition);
  const mine = shardPoints(expandGrid(opts.definition), opts.shard);
  const pending = mine.filter((p) => !isFinished(opts.outDir, p, file.hash));
  const skipped = mine.length - pending.length;
  // Slow (high-rate) points early so workers end together, interleaved with cheap ones so that an interrupted or
  // time-limited run already holds points across the whole rate range.
  pending.sort((a, b) => (b.rate ?? 0) - (a.rate ?? 0) || a.index - b.index);
  const order: SweepPoint[] = [];
  for (let i = 0, j = pending.length - 1; i <= j; i++, j--) {
    order.push(pending[i]!);
    if (j > i) order.push(pending[j]!);
  }
  pending.splice(0, pending.length, ...order);
  const total = mine.length;
  let done = skipped;
  opts.onProgress?.({ done, total, key: '', wallSeconds: 0 });
  const failed: Array<{ key: string; message: string }> = [];
  let userError: RondoError | undefined;
  let interrupted = !!opts.signal?.aborted;
  let pointSeconds = 0;
  let lpSeconds = 0;

  const nWorkers = Math.max(1, Math.min(opts.jobs ?? availableParallelism(), pending.length));
  const workers = new Set<Worker>();
  if (pending.length > 0 && !interrupted) {
    await new Promise<void>((resolveAll) => {
      let next = 0;
      let live = 0;
      const finishOne = (): void => {
        if (--live === 0) resolveAll();
      };
      const stopAll = (): void => {
        for (const w of workers) void w.terminate();
      };
      const onAbort = (): void => {
        interrupted = true;
        stopAll();
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });

      const spawn = (): void => {
        const w = startWorker();
        live++;
        let current: SweepPoint | undefined;
        let crash: string | undefined;
        const feed = (): void => {
          if (interrupted || userError || next >= pending.length) {
            current = undefined;
            void w.terminate();
            return;
          }
          current = pending[next++]!;
          const msg: RunMessage = { type: 'run', point: current, sweepHash: file.hash, timelineMaxJobs: opts.definition.timelineMaxJobs };
          w.postMessage(msg);
        };
        w.on('message', (r: WorkerReply) => {
          if (interrupted || !current || r.key !== current.key) return;
          if (r.type === 'done') {
            try {
              writeFileAtomic(pointFile(opts.outDir, r.key), r.json);
              appendFileSync(join(opts.outDir, 'log.jsonl'), `${JSON.stringify({ key: r.key, wallSeconds: r.wallSeconds, policySeconds: r.policySeconds, lpSeconds: r.lpSeconds })}\n`);
            } catch (e) {
              // The output directory is unusable (disk full, removed): every later point would fail the same way.
              userError = e instanceof RondoError ? e : new RondoError({ code: 'E_IO', file: opts.outDir, problem: `cannot write (${String(e)})` });
              stopAll();
              return;
            }
            done++;
            pointSeconds += r.wallSeconds;
            lpSeconds += r.lpSeconds;
            opts.onProgress?.({ done, total, key: r.key, wallSeconds: r.wallSeconds });
          } else if (r.userError) {
            // Bad flags fail every point alike: stop at the first.
            userError = new RondoError({ code: 'E_USAGE', problem: `sweep point ${r.key}: ${r.message}` });
            stopAll();
            return;
          } else {
            failed.push({ key: r.key, message: r.message });
          }
          feed();
        });
        w.on('error', (e) => {
          crash = e.stack ?? e.message;
        });
        w.on('exit', () => {
          workers.delete(w);
          // A worker that died with a point in flight (crash, out of memory) is replaced while work remains.
          if (current && !interrupted && !userError) {
            failed.push({ key: current.key, message: crash ?? 'worker exited unexpectedly' });
            current = undefined;
            if (next < pending.length) spawn();
          }
          finishOne();
        });
        workers.add(w);
        feed();
      };
      for (let i = 0; i < nWorkers; i++) spawn();
    });
  }
  if (userError) throw userError;
  const rows = writeSummary(opts.outDir);
  return { total, skipped, ran: done - skipped, failed, interrupted, rows, wallSeconds: (performance.now() - t0) / 1000, pointSeconds, lpSeconds };
}
