import { writeFileAtomic } from '../../src/io/atomic.js';
import { expandGrid, pointFile, prepareSweepDir, runPoint, writeSummary, type SweepDefinition } from '../../src/sweep/index.js';

/** A small sweep directory written in-process (no worker threads), for report tests. */
export const SMALL: SweepDefinition = {
  base: { generate: true, limit: '12', cluster: 'v100:2,p100:2,k80:2' },
  policies: ['max_min_fairness', 'max_min_fairness_perf'],
  rates: [1, 3],
  seeds: [0, 1],
  vary: [],
  timelineMaxJobs: 50,
};

export async function makeSweepDir(dir: string, def: SweepDefinition = SMALL): Promise<void> {
  const file = prepareSweepDir(dir, def);
  for (const p of expandGrid(def)) {
    const r = await runPoint(p, file.hash, { timelineMaxJobs: def.timelineMaxJobs });
    writeFileAtomic(pointFile(dir, p.key), `${JSON.stringify(r.doc)}\n`);
  }
  writeSummary(dir);
}
