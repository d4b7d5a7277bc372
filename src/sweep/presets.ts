/**
 * Sweeps of published experiments, as data. A preset fills the definition; flags given on the command line
 * override it. Each preset names the curves of its figure by policy; a curve whose policy is not registered in this
 * build (e.g. a space-sharing variant not written yet) is reported as missing, never replaced by another policy.
 */
import { RondoError } from '../model/errors.js';
import { isPolicyName } from '../policies/index.js';
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
// 4000-5000 measured, seeds 0-2. Past its knee a policy's queue grows without bound and a run takes hours to
// drain jobs 4000-5000; the JCT cap stops such a run once its average JCT is provably above 100 h (the top of the
// figure) and reports that lower bound, so the sweep's time goes to the points that shape the curves.
const FIG8_BASE = {
  generate: true,
  window: '4000:5000',
  cluster: 'v100:36,p100:36,k80:36',
  round: '360',
  jctCap: '100',
} as const;
const FIG8_RATES = parseNumberList('rates', '0.4:7.2:0.4');

interface PresetSpec {
  readonly name: string;
  readonly description: string;
  /** The figure's curves: heterogeneity-agnostic, -aware, and aware with space sharing ("Gavel w/ SS"). */
  readonly policies: readonly string[];
}

const specs: readonly PresetSpec[] = [
  {
    name: 'gavel-fig8',
    description: 'Gavel Figure 8: LAS, heterogeneity-agnostic vs -aware vs aware with space sharing, average JCT against input job rate',
    policies: ['max_min_fairness', 'max_min_fairness_perf', 'max_min_fairness_packed'],
  },
  {
    name: 'gavel-fig8-fifo',
    description: 'The gavel-fig8 workload under FIFO: agnostic vs aware vs aware with space sharing',
    policies: ['fifo', 'fifo_perf', 'fifo_packed'],
  },
  {
    name: 'gavel-fig8-ftf',
    description: 'The gavel-fig8 workload under finish-time fairness (Themis): agnostic vs aware vs aware with space sharing',
    policies: ['finish_time_fairness', 'finish_time_fairness_perf', 'finish_time_fairness_packed'],
  },
];

function presetOf(spec: PresetSpec): Preset {
  const runnable = spec.policies.filter((p) => isPolicyName(p));
  const missing = spec.policies
    .filter((p) => !isPolicyName(p))
    .map((policy) => ({ policy, reason: 'this policy is not registered in this build of Rondo yet' }));
  return {
    name: spec.name,
    description: spec.description,
    definition: { base: FIG8_BASE, policies: runnable, rates: FIG8_RATES, seeds: [0, 1, 2], vary: [], timelineMaxJobs: 0 },
    ...(missing.length > 0 ? { missing } : {}),
  };
}

const table: readonly Preset[] = specs.map(presetOf);

export const PRESETS: ReadonlyMap<string, Preset> = new Map(table.map((p) => [p.name, p]));

export function getPreset(name: string): Preset {
  const p = PRESETS.get(name);
  if (!p) {
    throw new RondoError({ code: 'E_USAGE', problem: `unknown preset ${JSON.stringify(name)}`, expected: `one of ${[...PRESETS.keys()].join(', ')}` });
  }
  return p;
}
