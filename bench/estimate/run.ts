/**
 * Throughput estimation accuracy (issue 20). Writes bench/results/estimate.json (fields: docs/estimate.md).
 *
 * 1. Isolated throughputs, leave-one-out over the shipped Gavel table: for each held-out group (a job type: all its
 *    scale factors; or, stricter, a model family: all batch sizes and scale factors), the estimator is fitted on the
 *    other rows; each held-out row then reveals its true throughput on one GPU type (every choice in turn), or on two,
 *    and the other types are estimated. Relative error |estimate - true| / true over every (row, measured set,
 *    estimated type): median, p90, mean. The same for "equally fast everywhere" (the runtime's old rule: the mean of
 *    the measured values), for comparison, and how often the true value lies within one / two reported standard
 *    deviations (log space).
 * 2. Co-located throughputs (Gavel's estimator), leave-one-job-type-out: each held-out key is profiled against a
 *    fraction of the reference co-locations, matched to a reference key, and its normalised co-located throughputs
 *    with every reference key on every type are predicted from the match; relative error as above, per fraction,
 *    and at 25% profiled with 13 and 6 reference job types (drawn with the seed).
 *
 *   npm run bench:estimate [-- --throughputs FILE --out FILE]
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readThroughputs } from '../../src/io/index.js';
import { isolatedThroughput, jobKeys, parseJobKey, seededRandom, type ThroughputTable } from '../../src/model/index.js';
import { normalisedColocated, ThroughputEstimator } from '../../src/estimate/index.js';
import { flag, repoRoot } from '../root.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = repoRoot(here);
const tablePath = flag('throughputs', join(root, 'data/gavel/simulation_throughputs.json'));
const outPath = flag('out', join(root, 'bench/results/estimate.json'));
const rank = flag('rank', '');
const estOpts = rank ? { rank: Number(rank) } : {};

interface ErrorStats {
  readonly samples: number;
  readonly median: number;
  readonly p90: number;
  readonly mean: number;
}

function stats(errs: number[]): ErrorStats {
  const s = [...errs].sort((a, b) => a - b);
  const q = (p: number): number => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))]!);
  return { samples: s.length, median: round(q(0.5)), p90: round(q(0.9)), mean: round(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)) };
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;

function subsets<T>(xs: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  return xs.flatMap((x, i) => subsets(xs.slice(i + 1), size - 1).map((rest) => [x, ...rest]));
}

/** Leave-one-group-out isolated estimation with `measuredCount` measured types. */
function isolatedLoo(table: ThroughputTable, groupOf: (jobType: string) => string, measuredCount: number) {
  const types = table.gpuTypes;
  const keys = jobKeys(table);
  const groups = [...new Set(keys.map((k) => groupOf(parseJobKey(k).jobType)))].sort();
  const err: number[] = [];
  const flat: number[] = [];
  let within1 = 0;
  let within2 = 0;
  for (const g of groups) {
    // A table without the group's rows: the estimator must not see them.
    const reduced = withoutRows(table, (k) => groupOf(parseJobKey(k).jobType) === g);
    const est = new ThroughputEstimator(reduced, estOpts);
    for (const key of keys.filter((k) => groupOf(parseJobKey(k).jobType) === g)) {
      const truth = types.map((t) => isolatedThroughput(table, t, key) ?? 0);
      const known = types.filter((_, i) => truth[i]! > 0);
      for (const measuredTypes of subsets(known, measuredCount)) {
        const measured = Object.fromEntries(measuredTypes.map((t) => [t, truth[types.indexOf(t)]!]));
        const { jobType, scaleFactor } = parseJobKey(key);
        const row = est.isolated({ jobType, scaleFactor, measured }, types);
        const mean = measuredTypes.reduce((a, t) => a + measured[t]!, 0) / measuredTypes.length;
        types.forEach((t, i) => {
          if (measuredTypes.includes(t) || !(truth[i]! > 0)) return;
          const e = row[i]!;
          if (e.source !== 'estimated') throw new Error(`expected an estimate for ${key} on ${t}, got ${e.source}`);
          err.push(Math.abs(e.value - truth[i]!) / truth[i]!);
          flat.push(Math.abs(mean - truth[i]!) / truth[i]!);
          const z = Math.abs(Math.log(truth[i]!) - Math.log(e.value)) / Math.max(1e-12, e.uncertainty);
          if (z <= 1) within1++;
          if (z <= 2) within2++;
        });
      }
    }
  }
  return {
    measuredTypes: measuredCount,
    heldOutGroups: groups.length,
    estimate: stats(err),
    equalEverywhere: stats(flat),
    withinOneSd: round(within1 / Math.max(1, err.length)),
    withinTwoSd: round(within2 / Math.max(1, err.length)),
  };
}

/** The table less the rows `drop` selects (and every co-location with them). */
function withoutRows(table: ThroughputTable, drop: (key: string) => boolean): ThroughputTable {
  const filter = (byType: ThroughputTable['consolidated']) =>
    Object.fromEntries(
      Object.entries(byType).map(([t, entries]) => [
        t,
        Object.fromEntries(
          Object.entries(entries)
            .filter(([k]) => !drop(k))
            .map(([k, e]) => [k, { isolated: e.isolated, colocated: Object.fromEntries(Object.entries(e.colocated).filter(([o]) => !drop(o))) }]),
        ),
      ]),
    );
  return { gpuTypes: table.gpuTypes, consolidated: filter(table.consolidated), unconsolidated: filter(table.unconsolidated) };
}

/** Gavel's estimator, leave-one-job-type-out: error of the predicted normalised co-located throughputs. */
function colocationLoo(table: ThroughputTable, fraction: number, seed: number, referenceJobTypes?: number) {
  const est = new ThroughputEstimator(table, { seed, ...(referenceJobTypes !== undefined ? { referenceJobTypes } : {}) });
  const random = seededRandom(seed);
  const err: number[] = [];
  let matchedSameModel = 0;
  let matched = 0;
  for (const key of jobKeys(table)) {
    const { jobType, scaleFactor } = parseJobKey(key);
    const profile = est.profileColocations(key, fraction, random, jobType);
    const m = est.matchReference(scaleFactor, profile, jobType);
    if (!m) continue;
    matched++;
    if (parseJobKey(m.key).jobType.split(' (')[0] === jobType.split(' (')[0]) matchedSameModel++;
    const refs = est.colocationReferences(scaleFactor, jobType);
    for (const t of table.gpuTypes) {
      for (const r of refs) {
        const truth = normalisedColocated(table, t, key, r);
        const pred = normalisedColocated(table, t, m.key, r);
        if (truth === undefined || pred === undefined || truth <= 0) continue;
        err.push(Math.abs(pred - truth) / truth);
      }
    }
  }
  return { profiledFraction: fraction, referenceJobTypes: est.referenceJobTypes.length, seed, heldOutKeys: matched, matchedSameModelFamily: round(matchedSameModel / Math.max(1, matched)), error: stats(err) };
}

const table = readThroughputs(tablePath);
const t0 = performance.now();
const family = (jobType: string): string => jobType.split(' (')[0]!;
const result = {
  table: tablePath.startsWith(root) ? tablePath.slice(root.length + 1) : tablePath,
  gpuTypes: table.gpuTypes,
  keys: jobKeys(table).length,
  isolated: {
    leaveOneJobTypeOut: [1, 2].map((m) => isolatedLoo(table, (j) => j, m)),
    leaveOneModelFamilyOut: [1, 2].map((m) => isolatedLoo(table, family, m)),
  },
  colocated: [
    ...[0.1, 0.25, 0.5, 1].map((f) => colocationLoo(table, f, 0)),
    ...[13, 6].map((r) => colocationLoo(table, 0.25, 0, r)),
  ],
  seconds: 0,
};
result.seconds = round((performance.now() - t0) / 1000);
writeFileSync(outPath, JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result, null, 2));
