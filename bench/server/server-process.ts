/**
 * The server side of `npm run bench:server`, in its own process as `rondo serve` runs: `startServer` (what the CLI's
 * `serve` calls) on the bench's store, with the bench's timing. The bench process forks this file and talks to it
 * over Node's IPC channel only for what the HTTP API does not say: each planned round's stats (pushed when the
 * scheduler's counter moves), this process' CPU time and memory, and at the end the job counts, the store invariants
 * and the store's size. Everything the load generators measure goes over HTTP on loopback.
 *
 * Messages in: { type: 'cpu' } -> { type: 'cpu', user, system, loopDelay, sections } (CPU in microseconds,
 *              process.cpuUsage(), all threads; the event loop's delay and its longest synchronous sections
 *              (src/runtime/server/loop-sections.ts) since the last 'cpu' message);
 *              { type: 'close' } -> { type: 'closed', ... } and exit.
 * Messages out: { type: 'ready', url, adminToken }, { type: 'round', ... }, { type: 'closed', ... }.
 */
import { existsSync, statSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startServer } from '../../src/runtime/serve.js';
import { loopSections, type SectionStats } from '../../src/runtime/server/loop-sections.js';
import { peakMemory } from '../root.js';

export interface ServerProcessOptions {
  readonly db: string;
  readonly policy: string;
  readonly roundMs: number;
  readonly heartbeatMs: number;
  /** Waiting jobs whose "why" each round computes at once (default: the server's, src/runtime/server/why.ts). */
  readonly whyEager?: number;
  /**
   * After each full round, also time asking the round's reason of every queued job (what every round computed before
   * reasons were computed on request), on the event loop like the record: a comparison within one run.
   */
  readonly whyCompare?: boolean;
}

/** How late the event loop ran a 10 ms timer (ms): the time a request arriving at a random moment waits for the loop. */
export interface LoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface RoundSample {
  round: number;
  planMs: number;
  planCpuMs: number;
  solverMs: number;
  readyMs: number;
  commitMs: number;
  /** The longest ms the round's "why" record held the event loop at once (in slices; 0 for a backfill plan, which records none). */
  whyMs: number;
  /** With `whyCompare`: ms to compute every queued job's reason for the same round (undefined otherwise). */
  whyAllMs?: number;
  activeJobs: number;
  placed: number;
}

export type FromServer =
  | { type: 'ready'; url: string; adminToken: string }
  | { type: 'round'; round: RoundSample }
  | { type: 'cpu'; user: number; system: number; loopDelay: LoopDelay; sections: SectionStats[] }
  | {
      type: 'closed';
      peakRssMb: number;
      peakHeapMb: number;
      storeMb: number;
      counts: Record<string, number>;
      problems: string[];
    };

export type ToServer = { type: 'cpu' } | { type: 'close' };

function send(m: FromServer): void {
  process.send!(m);
}

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2]!) as ServerProcessOptions;
  const srv = await startServer({
    db: o.db,
    port: 0,
    policy: o.policy,
    timing: { roundMs: o.roundMs, heartbeatMs: o.heartbeatMs, workerTimeoutMs: 30_000, graceMs: 1000 },
    log: (m) => process.stderr.write(`bench server: ${m}\n`),
  });
  if (o.whyEager !== undefined) srv.scheduler.why.eager = o.whyEager;
  const mem = peakMemory();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  // Rounds as the scheduler reports them (its stats change once per planned round).
  let lastSeen = srv.scheduler.stats.rounds;
  const roundTimer = setInterval(() => {
    const s = srv.scheduler.stats;
    if (s.rounds === lastSeen) return;
    lastSeen = s.rounds;
    // The bench's own reads on the server's loop, visible beside the server's sections (the --why-compare pass below
    // is the bench's too, timed on its own).
    const { counts, last } = loopSections.time('bench: a round sample (job counts)', () => ({ counts: srv.store.countJobs(), last: srv.store.lastRoundInfo() }));
    let whyAllMs: number | undefined;
    if (o.whyCompare && s.lastWhyMs > 0) {
      const queued = srv.store.listJobs({ states: ['queued'], limit: 1e6 }).map((j) => j.id);
      const t = performance.now();
      for (const id of queued) srv.scheduler.why.of(id);
      whyAllMs = Number((performance.now() - t).toFixed(1));
    }
    send({
      type: 'round',
      round: {
        round: s.lastRound,
        planMs: Number(s.lastPlanMs.toFixed(1)),
        planCpuMs: Number(s.lastPlanCpuMs.toFixed(1)),
        solverMs: Number(s.lastPlanPolicyMs.toFixed(1)),
        readyMs: Number(s.lastPlanReadyMs.toFixed(1)),
        commitMs: Number(s.lastCommitMs.toFixed(1)),
        whyMs: Number(s.lastWhyMs.toFixed(1)),
        ...(whyAllMs !== undefined ? { whyAllMs } : {}),
        activeJobs: counts.queued + counts.running,
        placed: last?.assignments ?? 0,
      },
    });
  }, 20);
  process.on('message', (m: ToServer) => {
    if (m.type === 'cpu') {
      const c = process.cpuUsage();
      const ms = (ns: number): number => Number((ns / 1e6).toFixed(1));
      send({
        type: 'cpu',
        user: c.user,
        system: c.system,
        loopDelay: { p50Ms: ms(delay.percentile(50)), p99Ms: ms(delay.percentile(99)), maxMs: ms(delay.max) },
        sections: loopSections.stats(),
      });
      delay.reset();
      loopSections.reset();
      return;
    }
    mem.stop();
    delay.disable();
    clearInterval(roundTimer);
    const counts = srv.store.countJobs();
    const problems = srv.store.checkInvariants();
    const storeMb = ['', '-wal'].reduce((s, suf) => s + (existsSync(o.db + suf) ? statSync(o.db + suf).size : 0), 0) / 2 ** 20;
    void srv.close().then(() => {
      send({ type: 'closed', peakRssMb: mem.peakRssMb, peakHeapMb: mem.peakHeapMb, storeMb, counts, problems });
      process.disconnect();
    });
  });
  send({ type: 'ready', url: srv.url, adminToken: srv.adminToken! });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench server: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
