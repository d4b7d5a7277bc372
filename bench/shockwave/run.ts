/**
 * Per-round solve time of the Shockwave planner (src/policies/shockwave.ts) on snapshots of Shockwave's canonical
 * TACC trace (120 jobs, 32 V100s, 120 s rounds, window 20): every job active, progress drawn with a fixed seed.
 * Larger sizes repeat the trace's jobs under new ids on a cluster scaled with them. Median and max of 5 timed calls
 * after one warm-up call (whose state, the fair-finish history, the timed calls reuse). Then every call of a full
 * simulation of the trace (`inSimulation`: the snapshots the planner really sees). Writes
 * bench/results/shockwave.json.
 *
 *   npx tsc -p bench/shockwave/tsconfig.json && node node_modules/.cache/rondo-bench-shockwave/bench/shockwave/run.js
 *     [--sizes 30,60,120,240,480] [--milp-max 120]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJobs, parseThroughputs } from '../../src/io/index.js';
import { makeCluster } from '../../src/model/index.js';
import { shockwaveAllocate } from '../../src/policies/shockwave.js';
import type { PolicyJob, PolicySnapshot } from '../../src/policies/types.js';
import { tableThroughputs } from '../../src/sim/throughput.js';
import { simulate } from '../../src/sim/index.js';
import { createShockwavePolicy } from '../../src/policies/shockwave.js';
import type { Policy } from '../../src/policies/types.js';
import { configureSolveCache, initSolver } from '../../src/solver/index.js';
import { flag, repoRoot } from '../root.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = repoRoot(here);

const SIZES = flag('sizes', '30,60,120,240,480').split(',').map(Number);
const MILP_MAX = Number(flag('milp-max', '120'));
const TRACE = 'data/shockwave/traces/reproduce/120_0.2_5_100_40_25_0,0.5,0.5_0.6,0.3,0.09,0.01_multigpu_dynamic.trace';

function mulberry(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let r = Math.imul(s ^ (s >>> 15), s | 1);
    r ^= r + Math.imul(r ^ (r >>> 7), r | 61);
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  await initSolver();
  // Time the solver itself, not the memo of identical models (src/solver/cache.ts).
  configureSolveCache({ maxBytes: 0 });
  const jobs = readJobs(join(root, TRACE)).jobs;
  const table = parseThroughputs(readFileSync(join(root, 'data/shockwave/tacc_throughputs.json'), 'utf8'));
  const rows: Array<Record<string, number | string>> = [];
  for (const n of SIZES) {
    const gpus = Math.max(1, Math.round((32 * n) / 120));
    const cluster = makeCluster({ v100: gpus });
    const tp = tableThroughputs(table, cluster);
    const rand = mulberry(n);
    const list: PolicyJob[] = [];
    for (let i = 0; i < n; i++) {
      const j = jobs[i % jobs.length]!;
      const done = rand() * 0.9;
      list.push({
        id: `j${i}`,
        jobType: j.jobType,
        scaleFactor: j.scaleFactor,
        priorityWeight: 1,
        throughput: tp(j),
        totalSteps: j.totalSteps!,
        remainingSteps: Math.max(1, Math.round(j.totalSteps! * (1 - done))),
        arrivalTime: j.arrivalTime,
      });
    }
    for (const integral of [false, true]) {
      if (integral && n > MILP_MAX) continue;
      const opts = { integral, windowRounds: 20, roundSeconds: 120, k: 1e-3, lambda: 12, mipGap: 1e-3, timeLimit: 15 };
      const base: PolicySnapshot = { now: 6000, cluster, jobs: list };
      const warm = shockwaveAllocate(base, opts);
      const times: number[] = [];
      let relaxed = 0;
      for (let r = 0; r < 5; r++) {
        // A round later each time, with the history of the warm-up call.
        const s: PolicySnapshot = { ...base, now: 6000 + 120 * (r + 1), state: warm.state };
        const t0 = performance.now();
        const res = shockwaveAllocate(s, opts);
        times.push((performance.now() - t0) / 1000);
        relaxed += ((res.state as { relaxed?: number }).relaxed ?? 0) - ((warm.state as { relaxed?: number }).relaxed ?? 0);
      }
      const row = { jobs: n, gpus, solver: integral ? 'milp' : 'lp', medianSeconds: median(times), maxSeconds: Math.max(...times), fallbackCalls: relaxed, timedCalls: times.length };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  const inSimulation: Array<Record<string, number | string>> = [];
  for (const integral of [false, true]) {
    const inner = createShockwavePolicy(integral ? 'shockwave_milp' : 'shockwave', [], { integral });
    const times: number[] = [];
    let most = 0;
    const policy: Policy = {
      meta: inner.meta,
      allocate(s) {
        const t0 = performance.now();
        const r = inner.allocate(s);
        times.push((performance.now() - t0) / 1000);
        most = Math.max(most, s.jobs.length);
        return r;
      },
    };
    const sim = await simulate({ cluster: makeCluster({ v100: 32 }), throughputs: table, policy, jobs, roundDuration: 120, minReallocationInterval: 0 });
    const row = {
      solver: integral ? 'milp' : 'lp',
      calls: times.length,
      mostJobs: most,
      medianSeconds: median(times),
      maxSeconds: Math.max(...times),
      makespanHours: sim.metrics.summary.makespanHours ?? NaN,
    };
    inSimulation.push(row);
    console.log(JSON.stringify(row));
  }
  const out = {
    bench: 'shockwave per-round solve',
    trace: TRACE,
    machine: `${os.cpus()[0]?.model ?? 'unknown'} x${os.cpus().length}, node ${process.version}`,
    date: new Date().toISOString(),
    rows,
    inSimulation,
  };
  writeFileSync(join(root, 'bench/results/shockwave.json'), `${JSON.stringify(out, null, 2)}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
