/** Admission patches on Jobs whose last stop was not restored yet (stop.ts, tidy), and when they leave the template be. */
import { describe, expect, it } from 'vitest';
import { admitPatch, restorePatch, suspendPatch } from '../../src/kube/objects.js';
import { sameTemplate } from '../../src/kube/admit.js';
import type { KObj } from '../../src/kube/reflector.js';
import { mergePatch } from './fake-apiserver.js';

const LABEL = 'nvidia.com/gpu.product';
const V100 = 'Tesla-V100-SXM2-16GB';
const K80 = 'Tesla-K80';
type Patch = { metadata: { annotations: Record<string, string | null> }; spec: { template: { metadata: { annotations: Record<string, string | null> }; spec: { nodeSelector: Record<string, string | null> } } } };

/** A Job as the API server holds it after a merge patch (the fake API server's RFC 7386 merge). */
const merged = (o: KObj, p: object): KObj => mergePatch(o, p) as KObj;

describe('admission over a stop not yet restored', () => {
  const user: KObj = { metadata: { resourceVersion: '1', annotations: {} }, spec: { suspend: true, template: { spec: { nodeSelector: { zone: 'z1' } } } } };

  it("drops the previous admission's pins the new one does not set, and keeps the user's selector", () => {
    // First on spot V100s (a spot pool key Rondo added), then suspended and never restored.
    const spot = admitPatch(user, LABEL, V100, 'v100-spot', 1, 1, 'n1', 'job-1', { 'example.com/pool': 'spot' }) as Patch;
    const admitted = merged(user, spot);
    const stopped = merged(admitted, suspendPatch(admitted, 'preempted'));
    // Then on on-demand K80s: the spot key goes, the product changes, the user's zone stays.
    const next = admitPatch(stopped, LABEL, K80, 'k80', 2, 2, 'n2', 'job-1') as Patch;
    expect(merged(stopped, next).spec.template.spec.nodeSelector).toEqual({ zone: 'z1', [LABEL]: K80 });
    expect(next.metadata.annotations['rondo.dev/stopping']).toBeNull();
    expect(sameTemplate(stopped, next)).toBe(false);
    // A restore after all would still give back exactly the user's selector.
    const restored = merged(stopped, restorePatch(stopped, LABEL) as Patch);
    expect(restored.spec.template.spec.nodeSelector).toEqual({ zone: 'z1' });
  });

  it('leaves the template as it is when admitted again onto the same product (no startTime to clear first)', () => {
    const first = admitPatch(user, LABEL, V100, 'v100', 1, 1, 'n1', 'job-1') as Patch;
    const stopped = merged(user, first);
    const again = admitPatch(stopped, LABEL, V100, 'v100', 3, 7, 'n9', 'job-1') as Patch;
    expect(sameTemplate(stopped, again)).toBe(true);
    expect(again.metadata.annotations['rondo.dev/attempt']).toBe('7');
    expect(sameTemplate(stopped, admitPatch(stopped, LABEL, K80, 'k80', 3, 7, 'n9', 'job-1'))).toBe(false);
    // A restored Job (no pin) always changes its template on admission.
    expect(sameTemplate(user, first)).toBe(false);
  });
});
