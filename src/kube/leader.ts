/**
 * Leader election over a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: a replica takes the
 * Lease when it is free or its holder let it expire, renews it every third of its duration, and stops acting as
 * soon as a renewal fails past the duration. Writes are guarded by resourceVersion, so two replicas racing for an
 * expired Lease cannot both win (one gets 409).
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private timer: NodeJS.Timeout | undefined;
  private leaderUntil = 0;
  private busy = false;

  constructor(
    kc: KubeConfig,
    private readonly cfg: { readonly namespace: string; readonly name: string; readonly identity: string; readonly leaseSeconds: number },
    private readonly log: (m: string) => void,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
  }

  get isLeader(): boolean {
    return Date.now() < this.leaderUntil;
  }

  start(): void {
    void this.tryOnce();
    this.timer = setInterval(() => void this.tryOnce(), Math.max(200, (this.cfg.leaseSeconds * 1000) / 3));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (!this.isLeader) return;
    // Hand the Lease over at once rather than making the next replica wait for it to expire.
    try {
      const cur = await this.api.readNamespacedLease({ namespace: this.cfg.namespace, name: this.cfg.name });
      if (cur.spec?.holderIdentity === this.cfg.identity) {
        cur.spec.holderIdentity = undefined;
        await this.api.replaceNamespacedLease({ namespace: this.cfg.namespace, name: this.cfg.name, body: cur });
      }
    } catch {
      // it expires on its own
    }
    this.leaderUntil = 0;
  }

  private async tryOnce(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    const { namespace, name, identity, leaseSeconds } = this.cfg;
    const now = new Date();
    try {
      let cur: V1Lease | undefined;
      try {
        cur = await this.api.readNamespacedLease({ namespace, name });
      } catch (e) {
        if ((e as { code?: number }).code !== 404) throw e;
      }
      if (!cur) {
        await this.api.createNamespacedLease({
          namespace,
          body: { metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds: leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } },
        });
        this.won(now);
        return;
      }
      const spec = cur.spec ?? {};
      const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
      const expired = renewed + (spec.leaseDurationSeconds ?? leaseSeconds) * 1000 < now.getTime();
      if (spec.holderIdentity && spec.holderIdentity !== identity && !expired) {
        if (this.isLeader) this.log('lost the leader lease');
        this.leaderUntil = 0;
        return;
      }
      const mine = spec.holderIdentity === identity;
      cur.spec = {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: leaseSeconds,
        renewTime: now,
        ...(mine ? {} : { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
      };
      await this.api.replaceNamespacedLease({ namespace, name, body: cur });
      this.won(now);
    } catch (e) {
      const code = (e as { code?: number }).code;
      if (code !== 409) this.log(`leader lease: ${(e as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  private won(at: Date): void {
    if (!this.isLeader) this.log(`${this.cfg.identity} is the leader`);
    // Act only for two thirds of the duration: a replica that cannot renew stops before another may take over.
    this.leaderUntil = at.getTime() + (this.cfg.leaseSeconds * 1000 * 2) / 3;
  }
}
