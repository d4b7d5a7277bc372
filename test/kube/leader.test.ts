/** Leader election over a coordination.k8s.io Lease on the fake API server: one leader at a time, hand-over on stop. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { LeaderElector } from '../../src/kube/leader.js';
import { FakeApiServer } from './fake-apiserver.js';
import { until } from './setup.js';

let api: FakeApiServer;
beforeAll(async () => {
  api = new FakeApiServer();
  await api.start();
});
afterAll(async () => api.stop());

function elector(identity: string, leaseSeconds: number): LeaderElector {
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  return new LeaderElector(kc, { namespace: 'rondo-system', name: 'rondo-leader', identity, leaseSeconds }, () => {});
}

describe('leader election', () => {
  it('elects one of two replicas, and the other takes over when the leader stops', async () => {
    // A leader acts for two thirds of the Lease after each renewal: 6 s keeps a renewal delayed by a loaded machine
    // from ending a's term at the instant it is checked (with 2 s, a stall of 1.3 s would).
    const a = elector('a', 6);
    const b = elector('b', 6);
    a.start();
    await until('a leads', () => a.isLeader, 10_000);
    b.start();
    await new Promise((r) => setTimeout(r, 1500)); // b has tried (at start and every 2 s) while a holds the Lease
    expect(a.isLeader).toBe(true);
    expect(b.isLeader).toBe(false);
    expect(api.get('leases', 'rondo-system', 'rondo-leader')!.spec.holderIdentity).toBe('a');
    await a.stop();
    expect(a.isLeader).toBe(false);
    await until('b leads', () => b.isLeader, 20_000);
    const lease = api.get('leases', 'rondo-system', 'rondo-leader')!;
    expect(lease.spec.holderIdentity).toBe('b');
    expect(lease.spec.leaseTransitions).toBe(1);
    await b.stop();
  });

  it('takes over a Lease whose holder stopped renewing (crashed) only after it expired', async () => {
    api.create('leases', { metadata: { name: 'stale', namespace: 'rondo-system' }, spec: { holderIdentity: 'dead', leaseDurationSeconds: 2, renewTime: new Date().toISOString() } });
    const kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig());
    const c = new LeaderElector(kc, { namespace: 'rondo-system', name: 'stale', identity: 'c', leaseSeconds: 2 }, () => {});
    const t0 = Date.now();
    c.start();
    await until('c leads', () => c.isLeader, 10_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    await c.stop();
  });
});
