/**
 * Sweeps of published experiments, as data. A preset fills the definition; flags given on the command line
 * override it. Space sharing (Gavel's "Gavel w/ SS" curve) has no policy in Rondo yet: the slot is named here and
 * reported as missing, never replaced by another policy.
 */
import { RondoError } from '../model/errors.js';
import type { SweepDefinition } from './grid.js';
import { parseNumberList } from './grid.js';

export interface Preset {
  readonly name: string;
  readonly description: string;
  readonly definition: Omit<SweepDefinition, 'preset'>;
  /** Curves of the original figure that cannot be run yet, by the policy name they would use, and why. */
  readonly missing?: ReadonlyArray<{ readonly policy: string; readonly reason: string }>;
}

// Gavel (OSDI'20) section 7.2, continuous single-GPU trace: 36 V100 + 36 P100 + 36 K80, 360 s rounds, jobs
// 4000-5000 measured, seeds 0-2.
const FIG8_BASE = {
  generate: true,
  window: '4000:5000',
  cluster: 'v100:36,p100:36,k80:36',
  round: '360',
} as const;
const FIG8_RATES = parseNumberList('rates', '0.4:7.2:0.4');
const NO_SPACE_SHARING = 'space sharing (job pairs on one GPU) is not implemented in Rondo yet';

const table: readonly Preset[] = [
  {
    name: 'gavel-fig8',
    description: 'Gavel Figure 8: LAS, heterogeneity-agnostic vs -aware, average JCT against input job rate',
    definition: { base: FIG8_BASE, policies: ['max_min_fairness', 'max_min_fairness_perf'], rates: FIG8_RATES, seeds: [0, 1, 2], vary: [], timelineMaxJobs: 0 },
    missing: [{ policy: 'max_min_fairness_packed', reason: NO_SPACE_SHARING }],
  },
  {
    name: 'gavel-fig8-fifo',
    description: 'The gavel-fig8 workload under FIFO, agnostic vs aware',
    definition: { base: FIG8_BASE, policies: ['fifo', 'fifo_perf'], rates: FIG8_RATES, seeds: [0, 1, 2], vary: [], timelineMaxJobs: 0 },
    missing: [{ policy: 'fifo_packed', reason: NO_SPACE_SHARING }],
  },
  {
    name: 'gavel-fig8-ftf',
    description: 'The gavel-fig8 workload under finish-time fairness (Themis), agnostic vs aware',
    definition: {
      base: FIG8_BASE,
      policies: ['finish_time_fairness', 'finish_time_fairness_perf'],
      rates: FIG8_RATES,
      seeds: [0, 1, 2],
      vary: [],
      timelineMaxJobs: 0,
    },
    missing: [{ policy: 'finish_time_fairness_packed', reason: NO_SPACE_SHARING }],
  },
];

export const PRESETS: ReadonlyMap<string, Preset> = new Map(table.map((p) => [p.name, p]));

export function getPreset(name: string): Preset {
  const p = PRESETS.get(name);
  if (!p) {
    throw new RondoError({ code: 'E_USAGE', problem: `unknown preset ${JSON.stringify(name)}`, expected: `one of ${[...PRESETS.keys()].join(', ')}` });
  }
  return p;
}
