/**
 * Robustness: every trace shipped with Gavel and Shockwave simulates to completion under every registered policy.
 * Long traces are truncated to their first jobs so the whole matrix stays fast; unknown (job type, scale factor)
 * keys and jobs larger than the cluster are skipped and counted, as `--drop-unknown --skip-too-large` do.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCluster, readJobs, readThroughputs } from '../../src/io/index.js';
import { getPolicy, listPolicies } from '../../src/policies/registry.js';
import { initSolver } from '../../src/solver/index.js';
import { simulate } from '../../src/sim/index.js';

const SHARED = join(import.meta.dirname, '../../../shared/data');
// Gavel's msr jobs run for days (thousands of rounds each), so fewer of them keep the matrix at about a minute.
const MAX_JOBS = { msr: 6, other: 12 };

function traces(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? traces(p) : n.endsWith('.trace') ? [p] : [];
    })
    .sort();
}

const gavel = traces(join(SHARED, 'gavel/traces'));
const shockwave = traces(join(SHARED, 'shockwave/traces'));
const policies = listPolicies().map((m) => m.name);

describe.skipIf(gavel.length + shockwave.length === 0)('every shared trace under every policy (skipped: ../shared/data absent)', () => {
  beforeAll(async () => {
    await initSolver();
  });

  const cases = [
    ...gavel.map((file) => ({ name: relative(SHARED, file), file, cluster: 'v100:36,p100:36,k80:36', throughputs: 'data/gavel/simulation_throughputs.json', round: 360 })),
    ...shockwave.map((file) => ({ name: relative(SHARED, file), file, cluster: 'v100:32', throughputs: 'data/shockwave/tacc_throughputs.json', round: 120 })),
  ];

  it.each(cases)('$name', async ({ file, cluster: spec, throughputs: tp, round }) => {
    const table = readThroughputs(join(import.meta.dirname, '../..', tp));
    const cluster = parseCluster(spec, '1');
    const all = readJobs(file).jobs;
    const jobs = all.slice(0, file.includes('/msr/') ? MAX_JOBS.msr : MAX_JOBS.other);
    const failures: string[] = [];
    for (const name of policies) {
      try {
        const out = await simulate({ cluster, throughputs: table, policy: getPolicy(name), jobs, roundDuration: round, dropUnknown: true, skipTooLarge: true, seed: 0 });
        const skipped = out.dropped.unknown.length + out.dropped.tooLarge.length;
        const done = out.result.jobs.filter((j) => j.finishTime !== undefined).length;
        if (done + skipped !== jobs.length) failures.push(`${name}: ${done} finished + ${skipped} skipped of ${jobs.length}`);
        for (const m of out.metrics.perJob) {
          if (m.jctSeconds === null || !(m.jctSeconds > 0) || !Number.isFinite(m.jctSeconds)) failures.push(`${name}: job ${m.id} JCT ${m.jctSeconds}`);
        }
      } catch (e) {
        failures.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    expect(failures).toEqual([]);
  }, 300_000);
});
