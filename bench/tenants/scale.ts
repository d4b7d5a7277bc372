import { isolatedThroughput, jobKeys, makeCluster, parseJobKey, seededRandom, throughputRow, type ThroughputTable } from '../../src/model/index.js';
import type { TenantNode, TenantTree } from '../../src/model/tenants.js';
import { getPolicy } from '../../src/policies/registry.js';
import { clearSolveCache, configureSolveCache } from '../../src/solver/index.js';
import type { PolicyJob, PolicySnapshot } from '../../src/policies/types.js';

/**
 * One allocation of a large tenant tree: `cohorts` cohorts of `perCohort` tenants each (weights 1-3, every tenant
 * guaranteed 4 GPUs of each type, some lending-limited), `jobs` active jobs from Gavel's job table spread over the
 * tenants at random, on a cluster with 1.25x the guaranteed GPUs. Times the whole `allocate` (median of `reps`
 * after one warm-up), with the solve cache off so that no repetition reuses an earlier answer.
 */
export function scaleCase(table: ThroughputTable, opts: { cohorts: number; perCohort: number; jobs: number; reps: number; policy: string; capture?: { snap?: PolicySnapshot; tree?: TenantTree } }): {
  tenants: number;
  jobs: number;
  gpus: number;
  seconds: number[];
  medianSeconds: number;
  /** CPU time of this process per repetition (user + system): less sensitive than wall time to a loaded machine. */
  cpuSeconds: number[];
  medianCpuSeconds: number;
} {
  const types = ['v100', 'p100', 'k80'];
  const rnd = seededRandom(7);
  const roots: TenantNode[] = [];
  const names: string[] = [];
  for (let c = 0; c < opts.cohorts; c++) {
    const children: TenantNode[] = [];
    for (let t = 0; t < opts.perCohort; t++) {
      const name = `t${c}-${t}`;
      names.push(name);
      children.push({
        name,
        path: name,
        weight: 1 + Math.floor(rnd() * 3),
        guarantee: { kind: 'gpus', gpus: { v100: 4, p100: 4, k80: 4 } },
        ...(t % 4 === 0 ? { lendingLimit: { v100: 2 } } : {}),
        policy: 'fair',
        children: [],
      });
    }
    roots.push({ name: `c${c}`, path: `c${c}`, weight: 1, children });
  }
  const tree: TenantTree = { roots };
  const per = Math.ceil(names.length * 4 * 1.25);
  const cluster = makeCluster({ v100: per, p100: per, k80: per });
  const keys = jobKeys(table).filter((k) => types.every((t) => (isolatedThroughput(table, t, k) ?? 0) > 0) && parseJobKey(k).scaleFactor <= 4);
  const jobs: PolicyJob[] = [];
  for (let i = 0; i < opts.jobs; i++) {
    const k = keys[Math.floor(rnd() * keys.length)]!;
    const { jobType, scaleFactor } = parseJobKey(k);
    jobs.push({
      id: `j${i}`,
      jobType,
      scaleFactor,
      priorityWeight: 1,
      throughput: throughputRow(table, k, types),
      totalSteps: 1e6,
      remainingSteps: 1e6 * (0.1 + rnd()),
      arrivalTime: i,
      tenant: names[Math.floor(rnd() * names.length)]!,
    });
  }
  const snapshot: PolicySnapshot = { now: 0, cluster, jobs };
  if (opts.capture) Object.assign(opts.capture, { snap: snapshot, tree });
  const policy = getPolicy(opts.policy, { tenants: tree });
  // Repeated identical LPs would come from the solve cache: time every repetition from scratch.
  configureSolveCache({ maxBytes: 0 });
  policy.allocate(snapshot);
  const seconds: number[] = [];
  const cpuSeconds: number[] = [];
  for (let r = 0; r < opts.reps; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    policy.allocate(snapshot);
    const c = process.cpuUsage(c0);
    seconds.push((performance.now() - t0) / 1000);
    cpuSeconds.push((c.user + c.system) / 1e6);
  }
  clearSolveCache();
  configureSolveCache({ maxBytes: 64 * 2 ** 20 }); // the default of src/solver/cache.ts
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  return { tenants: names.length, jobs: opts.jobs, gpus: per * 3, seconds, medianSeconds: median(seconds), cpuSeconds, medianCpuSeconds: median(cpuSeconds) };
}
