import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTenants, readTenants } from '../../src/io/tenants.js';
import { checkJobTenants, checkTenantsOnCluster, flattenTenants, makeCluster, RondoError } from '../../src/model/index.js';

function err(fn: () => unknown): RondoError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RondoError) return e;
    throw e;
  }
  throw new Error('no error');
}

const YAML = `
referenceGpuType: V100
tenants:
  - name: research
    weight: 2
    guarantee: {v100: 8, k80: 2}
    borrowingLimit: {v100: 4}
    children:
      - name: nlp
        guarantee: {v100: 4, k80: 2}
        lendingLimit: {v100: 2}
        policy: FIFO
      - name: vision
        policy: sjf
  - name: prod
    guarantee: {normalized: 6}
    borrowingLimit: {normalized: 2}
`;

describe('tenant tree files', () => {
  it('reads YAML: cohorts, weights, guarantees, limits, inner policies', () => {
    const t = parseTenants(YAML, 't.yaml');
    expect(t.referenceGpuType).toBe('v100');
    const flat = flattenTenants(t);
    expect(flat.nodes.map((n) => n.name)).toEqual(['research', 'nlp', 'vision', 'prod']);
    expect([...flat.leafIndex.keys()]).toEqual(['nlp', 'vision', 'prod']);
    const [research, nlp, vision, prod] = flat.nodes;
    expect(research!.weight).toBe(2);
    expect(research!.policy).toBeUndefined();
    expect(nlp!.guarantee).toEqual({ kind: 'gpus', gpus: { v100: 4, k80: 2 } });
    expect(nlp!.lendingLimit).toEqual({ v100: 2 });
    expect(nlp!.policy).toBe('fifo');
    expect(vision!.weight).toBe(1);
    expect(vision!.policy).toBe('sjf');
    expect(prod!.guarantee).toEqual({ kind: 'normalized', units: 6 });
    expect(prod!.borrowingLimit).toBe(2);
    expect(Array.from(flat.parent)).toEqual([-1, 0, 0, -1]);
    checkTenantsOnCluster(t, makeCluster({ v100: 12, k80: 4 }));
  });

  it('reads the same tree from JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rondo-tenants-'));
    const file = join(dir, 't.json');
    writeFileSync(file, JSON.stringify({ tenants: [{ name: 'a', guarantee: { v100: 1 } }, { name: 'b', weight: 0.5, policy: 'fair' }] }));
    const t = readTenants(file);
    expect(t.source).toBe(file);
    expect(t.roots.map((r) => [r.name, r.weight, r.policy])).toEqual([['a', 1, 'fair'], ['b', 0.5, 'fair']]);
  });

  it('names file, line, column and path of unknown or bad members', () => {
    const e = err(() => parseTenants('tenants:\n  - name: a\n    gaurantee: {v100: 1}\n', 'x.yaml'));
    expect(e.code).toBe('E_SCHEMA');
    expect(e.message).toContain('x.yaml:3:5');
    expect(e.message).toContain('tenants[0].gaurantee: unknown member');
    expect(e.message).toContain('guarantee');
    expect(err(() => parseTenants('tenants:\n  - {name: a, weight: 0}\n')).message).toContain('tenants[0].weight: bad number');
    expect(err(() => parseTenants('tenants:\n  - {name: a, guarantee: {v100: -1}}\n')).message).toContain('tenants[0].guarantee.v100');
    expect(err(() => parseTenants('tenants:\n  - {name: a, guarantee: {v100: 1, normalized: 2}}\n')).message).toContain('mixes');
    expect(err(() => parseTenants('tenants:\n  - {name: a, policy: lottery}\n')).message).toContain('one of fair, fifo, sjf');
    expect(err(() => parseTenants('tenants:\n  - {name: a}\n  - {name: a}\n')).message).toContain('already used at tenants[0]');
    expect(err(() => parseTenants('tenants:\n  - {name: a, guarantee: {v100: 1}, lendingLimit: {v100: 2}}\n')).message).toContain('at most the guarantee');
    expect(err(() => parseTenants('tenants:\n  - {name: a, guarantee: {normalized: 1}, lendingLimit: {v100: 1}}\n')).message).toContain('needs a guarantee in GPUs');
    expect(err(() => parseTenants('tenants:\n  - {name: c, policy: fifo, children: [{name: a}]}\n')).message).toContain('a cohort');
    expect(err(() => parseTenants('tenants:\n  - {name: c, guarantee: {v100: 1}, children: [{name: a, guarantee: {v100: 2}}]}\n')).message).toContain("more than the cohort's 1");
    expect(err(() => parseTenants('tenants: [\n')).code).toBe('E_JSON');
    expect(err(() => parseTenants('tenants: []\n')).message).toContain('non-empty list');
    expect(err(() => parseTenants('teams: []\n')).message).toContain('(top).teams: unknown member');
  });

  it('refuses guarantees the cluster cannot hold, and unknown GPU types', () => {
    const t = parseTenants('tenants:\n  - {name: a, guarantee: {v100: 3}}\n  - {name: b, guarantee: {v100: 2}}\n', 't.yaml');
    const e = err(() => checkTenantsOnCluster(t, makeCluster({ v100: 4, k80: 4 })));
    expect(e.code).toBe('E_INFEASIBLE');
    expect(e.message).toContain('add up to 5 v100 GPUs, more than the 4 the cluster has');
    expect(err(() => checkTenantsOnCluster(parseTenants('tenants:\n  - {name: a, guarantee: {a100: 1}}\n'), makeCluster({ v100: 4 }))).code).toBe('E_UNKNOWN_GPU');
    expect(err(() => checkTenantsOnCluster(parseTenants('tenants:\n  - {name: a, guarantee: {normalized: 9}}\n'), makeCluster({ v100: 4, k80: 4 }))).message).toContain("more than the cluster's 8 GPUs");
    expect(err(() => checkTenantsOnCluster(parseTenants('referenceGpuType: a100\ntenants:\n  - {name: a}\n'), makeCluster({ v100: 4 }))).code).toBe('E_UNKNOWN_GPU');
  });

  it('refuses jobs of tenants the tree lacks', () => {
    const t = parseTenants('tenants:\n  - {name: a}\n');
    checkJobTenants(t, [{ id: '1', tenant: 'a' }]);
    expect(err(() => checkJobTenants(t, [{ id: '1', tenant: 'a' }, { id: '2' }])).message).toContain('default (job 2)');
  });
});
