import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseThroughputs, readJobs } from '../../src/io/index.js';
import { jobKey, makeCluster } from '../../src/model/index.js';
import { getPolicy, initSolver } from '../../src/policies/index.js';
import { simulate, type SimulationOutput } from '../../src/sim/index.js';

/**
 * Shockwave's canonical setup: its 120-job TACC trace (shipped in data/shockwave), 32 V100s, 120 s rounds, the
 * allocation recomputed on every arrival and completion.
 */
const root = join(import.meta.dirname, '../..');
const TRACE = join(root, 'data/shockwave/traces/reproduce/120_0.2_5_100_40_25_0,0.5,0.5_0.6,0.3,0.09,0.01_multigpu_dynamic.trace');
const jobs = readJobs(TRACE).jobs;
const throughputs = parseThroughputs(readFileSync(join(root, 'data/shockwave/tacc_throughputs.json'), 'utf8'));
const cluster = makeCluster({ v100: 32 });

const runs = new Map<string, SimulationOutput>();
async function run(name: string): Promise<SimulationOutput> {
  let out = runs.get(name);
  if (!out) {
    out = await simulate({ cluster, throughputs, policy: getPolicy(name), jobs, roundDuration: 120, minReallocationInterval: 0 });
    runs.set(name, out);
  }
  return out;
}

beforeAll(async () => {
  await initSolver();
});

describe('120-job Shockwave trace, end to end', () => {
  const names = ['shockwave', 'max_min_fairness_perf', 'themis_auction', 'allox', 'gandiva', 'tiresias', 'tiresias_gittins', 'sjf_nonpreemptive', 'srtf_preemptive'];
  for (const name of names) {
    it(`${name}: every job finishes, GPU time stays within the cluster`, async () => {
      const out = await run(name);
      const s = out.metrics.summary;
      expect(s.completedWindowJobs).toBe(120);
      expect(out.result.stopReason).toBe('drained');
      expect(s.utilization).toBeGreaterThan(0);
      expect(s.utilization).toBeLessThanOrEqual(1 + 1e-9);
      // A static job never finishes sooner than alone on a V100 (its batch size, hence its throughput, is fixed).
      for (const j of out.metrics.perJob) {
        const job = jobs.find((x) => x.id === j.id)!;
        if (job.mode !== 'static') continue;
        const t = throughputs.consolidated['v100']![jobKey(job.jobType, job.scaleFactor)]!.isolated;
        expect(j.jctSeconds!).toBeGreaterThanOrEqual(job.totalSteps! / t - 1e-6);
      }
    });
  }

  it("reaches Shockwave's ordering: shorter makespan than Gavel's max-min fairness at a comparable worst rho", async () => {
    const sw = (await run('shockwave')).metrics.summary;
    const gavel = (await run('max_min_fairness_perf')).metrics.summary;
    expect(sw.makespanHours!).toBeLessThan(gavel.makespanHours!);
    expect(sw.maxRho!).toBeLessThan(2);
  });
});
