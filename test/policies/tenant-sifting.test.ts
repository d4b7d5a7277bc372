import { beforeAll, describe, expect, it } from 'vitest';
import { initSolver, tenantLevels, tenantProblem } from '../../src/policies/index.js';
import { seededRandom } from '../../src/model/index.js';
import { parseTenants } from '../../src/io/tenants.js';
import { snap, type JobSpec } from './helpers.js';

beforeAll(async () => {
  await initSolver();
});

const TYPES = ['v100', 'p100', 'k80'];

/**
 * A random tree (cohorts of leaves, weights 1-3, GPU or normalised guarantees, lending and borrowing limits) and
 * many jobs per leaf with random speeds (some types unusable), so that the column generation of the tenant-level
 * LPs starts from a small part of their columns.
 */
function randomCase(seed: number): { yaml: string; gpus: Record<string, number>; jobs: JobSpec[] } {
  const rnd = seededRandom(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const cohorts = int(2, 4);
  const leaves: string[] = [];
  const lines = ['tenants:'];
  const gpus = { v100: int(12, 30), p100: int(12, 30), k80: int(12, 30) };
  const normalised = seed % 2 === 1;
  for (let c = 0; c < cohorts; c++) {
    lines.push(`  - name: c${c}`, `    weight: ${int(1, 3)}`, '    children:');
    const n = int(2, 5);
    for (let t = 0; t < n; t++) {
      const name = `t${c}-${t}`;
      leaves.push(name);
      lines.push(`      - name: ${name}`, `        weight: ${int(1, 3)}`);
      if (normalised && t % 2 === 0) {
        lines.push(`        guarantee: {normalized: ${int(1, 4)}}`);
        if (t % 4 === 0) lines.push(`        borrowingLimit: {normalized: ${int(1, 5)}}`);
      } else if (!normalised) {
        lines.push('        guarantee: {v100: 1, p100: 1, k80: 1}');
        if (t % 3 === 0) lines.push('        lendingLimit: {v100: 0, k80: 1}');
        if (t % 3 === 1) lines.push(`        borrowingLimit: {v100: ${int(0, 3)}}`);
      }
    }
  }
  const jobs: JobSpec[] = [];
  for (const tenant of leaves) {
    const n = int(10, 40);
    for (let i = 0; i < n; i++) {
      const base = 0.5 + rnd() * 4;
      const t = [base * (1 + rnd() * 9), base * (1 + rnd() * 3), base];
      if (rnd() < 0.15) t[int(0, 2)] = 0;
      jobs.push({ id: `${tenant}-${i}`, tenant, t, sf: [1, 1, 2, 4][int(0, 3)]!, w: int(1, 2) });
    }
  }
  return { yaml: lines.join('\n'), gpus, jobs };
}

describe('tenant_quota column generation', () => {
  it('gives every tenant the normalised throughput of the whole-LP formulation on random trees', () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const c = randomCase(seed);
      const tree = parseTenants(c.yaml);
      const tp = tenantProblem(snap(c.gpus, c.jobs), tree);
      const fast = tenantLevels(tp, 'tenant_quota');
      const whole = tenantLevels(tp, 'tenant_quota', { columnGeneration: false });
      expect(fast.lambda).toBeCloseTo(whole.lambda, 9);
      tp.flat.nodes.forEach((n, i) => {
        const tol = 1e-6 * Math.max(1, Math.abs(whole.u[i]!));
        expect(Math.abs(fast.entitled[i]! - whole.entitled[i]!), `seed ${seed} ${n.name} entitlement`).toBeLessThanOrEqual(tol);
        expect(Math.abs(fast.u[i]! - whole.u[i]!), `seed ${seed} ${n.name}: ${fast.u[i]} vs ${whole.u[i]}`).toBeLessThanOrEqual(tol);
      });
      // The GPUs handed down stay within the cluster.
      TYPES.forEach((t, k) => {
        const used = fast.gpus.reduce((s, g) => s + g[k]!, 0);
        expect(used).toBeLessThanOrEqual(c.gpus[t as 'v100']! * (1 + 1e-7) + 1e-6);
      });
    }
  });
});
