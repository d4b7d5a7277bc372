import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEnv, trainingJob, until, type Env } from './setup.js';

/** `rondo serve --kube --tenants FILE`: a Job's `rondo.dev/queue` label is its tenant, and must be one of the tree's. */

const TPUT = { 'Tesla-V100-SXM2-16GB': { resnet: 10 }, 'Tesla-K80': { resnet: 2 } };

let env: Env | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('kubernetes driver with a tenant tree', () => {
  it('schedules a queue that is a tenant of the tree, and refuses one that is not with a Warning Event naming the file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'rondo-kube-tenants-')), 'tenants.yaml');
    writeFileSync(file, 'tenants:\n  - name: team-a\n    guarantee: {v100: 1}\n  - name: team-b\n    guarantee: {v100: 1}\n');
    env = await startEnv({ name: 'tenants', throughputs: TPUT, policy: 'tenant_quota', tenants: file, nodes: (c) => c.addNode('v100-a', 'Tesla-V100-SXM2-16GB', 2) });
    const e = env;
    e.api.create('jobs', trainingJob('ok', { queue: 'team-a', steps: 10 }));
    e.api.create('jobs', trainingJob('stray', { queue: 'team-z', steps: 10 }));
    const ev = await until('NotAdmitted', () => e.api.list('events', 'default').find((x) => x.involvedObject.name === 'stray' && x.reason === 'NotAdmitted'));
    expect(ev.type).toBe('Warning');
    expect(ev.message).toContain('tenant team-z is not a tenant (leaf) of the tenant tree');
    expect(ev.message).toContain(file);
    const done = await until('the team-a Job to complete in Rondo', () => e.srv.store.listJobs({ limit: 10, afterSeq: 0 }).find((j) => j.state === 'completed'), 60_000);
    expect(done.tenant).toBe('team-a');
    expect(e.srv.store.listJobs({ limit: 10, afterSeq: 0 }).map((j) => j.tenant)).toEqual(['team-a']);
    // The tree drove the rounds: team-a's figures are in the per-round history.
    expect(e.srv.store.tenantRounds({ limit: 100 }).some((r) => r.tenant === 'team-a' && r.received > 0)).toBe(true);
  }, 90_000);
});
