// Over 500 lines: one class, the controller's pass (intake, node-workers' sync, Job writes, the estimated-finish
// annotation), which share its maps of attempts, links and workers.
/**
 * The Kubernetes driver of Rondo's one engine. It runs inside `rondo serve --kube` beside the scheduler and talks
 * to the server through its REST API (plus, in the same process, the planner's why record for Event reasons),
 * playing two roles the runtime already has:
 *   - a job source: labelled batch/v1 Jobs (`rondo.dev/queue`) become Rondo jobs (tenant = queue), and a deleted
 *     Job cancels its Rondo job;
 *   - worker agents: every usable Node is a Rondo worker (its GPU type from the node label, its count from
 *     allocatable GPUs minus those of pods Rondo does not manage). Each pass syncs all node-workers in one batched
 *     request (the worker protocol, sending only what changed) and turns the leases into Job writes: a lease starts with one admission patch; an
 *     extension writes nothing; a lease that ends, is withdrawn or is cancelled suspends the Job, waits until its
 *     pods are gone, clears status.startTime (KEP-2926) and restores the original selector, then reports the end.
 * kube-scheduler still picks the node within the type. Admission state lives on the Job (annotations), Rondo's
 * in its store, so a restarted driver rebuilds its view from both. Decisions are Events on the Job.
 */
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { KubeConfig, BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { BatchSyncEntry, LeaseMessage, SyncEnded } from '../runtime/protocol.js';
import { A_ATTEMPT, A_ESTIMATED_FINISH, A_STOPPING, A_WORKER, QUEUE_LABEL, type KubeOptions } from './config.js';
import { Reflector, type KList, type KObj } from './reflector.js';
import { RondoApiError, RondoClient, type RondoJobView } from './rondo-client.js';
import { DEFAULT_SPOT_LABELS, SpotNodes } from './spot.js';
import { admitPatch, wantsSecret, gpusPerPod, jobFinished, jobKey, managed, nodeOffers, podJobUid, restorePatch, submitBody, suspendPatch, uidOfRondoName, type NodeOffer } from './objects.js';
import { LeaderElector } from './leader.js';
import { JobWriter, pool } from './writer.js';
import { FinishEstimates, finishChanged, finishText } from './estimates.js';

type Phase = 'pending' | 'starting' | 'running' | 'stopping';

interface Attempt {
  readonly id: number;
  readonly jobId: string;
  readonly worker: string; // node name
  readonly gpuType: string;
  kube: string; // namespace/name
  phase: Phase;
  startAt: number;
  deadline: number;
  /** The lease end the server gave (Unix ms), sent back in syncs so an unchanged lease is not sent again. */
  leaseEnd?: number;
  /** Its Job's pod reads the per-job Secret: it needs a lease token before admission. */
  wantsToken?: boolean;
  token?: string;
  stop?: string; // why it is being stopped
  startedAt?: number;
  admittedAt?: number;
  ended?: SyncEnded;
  /** The server no longer lists it. */
  withdrawn?: boolean;
  /** A write for it is in flight: the next pass leaves it alone. */
  busy?: boolean;
  /** The server has been told it runs (a sync carried it): later syncs leave it out. */
  runReported?: boolean;
  /** The round that placed or last extended it (from its lease). */
  round?: number;
}

interface WorkerRecord {
  token: string;
  id: string;
  /** The offer it was registered with (`type:count`). */
  offer: string;
}

export interface KubeStats {
  passes: number;
  lastPassMs: number;
  /** Batched syncs of all node-workers sent (one per pass). */
  syncs: number;
}


export class KubeController {
  private readonly kc = new KubeConfig();
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  readonly jobs: Reflector<KObj>;
  readonly nodes: Reflector<KObj>;
  readonly pods: Reflector<KObj>;
  private readonly rondo: RondoClient;
  private readonly workers: Record<string, WorkerRecord>;
  /** Kubernetes Job uid -> Rondo job id. */
  private readonly links = new Map<string, string>();
  private readonly rondoJobs = new Map<string, RondoJobView>();
  private readonly attempts = new Map<number, Attempt>();
  /** Jobs we could not submit (uid -> reason), so the Event is sent once. */
  private readonly rejected = new Map<string, string>();
  /** GPU type -> until (ms): a Pending timeout said kube-scheduler has fewer GPUs of it than Rondo thought. */
  private readonly short = new Map<string, { gpus: number; until: number }>();
  /** Nodes synced in the last pass: an attempt on any other node is stopped (NotReady, cordoned, gone). */
  private offered = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  private leader: LeaderElector | undefined;
  private stageMs: number[] = [];
  private intaking = false;
  readonly stats: KubeStats = { passes: 0, lastPassMs: 0, syncs: 0 };
  readonly writer: JobWriter;
  private readonly estimates: FinishEstimates;
  private annotating = false;
  /** Spot nodes: their GPUs as tier types, and their revocations (spot.ts). */
  private readonly spot: SpotNodes;

  constructor(
    private readonly opts: KubeOptions & {
      readonly serverUrl: string;
      readonly adminToken: string;
      /** File keeping node -> worker token/id across restarts (beside the store). */
      readonly stateFile: string;
      readonly heartbeatMs: number;
      /** The server's round length: estimated finishes are read again once a round. */
      readonly roundMs?: number;
      /** The planner's last preemption reason for a job (the server's why record), for the Preempted Event. */
      readonly explain?: (jobId: string) => { readonly text: string; readonly round: number } | null;
      readonly log?: (m: string) => void;
    },
  ) {
    if (opts.kubeconfig) this.kc.loadFromFile(opts.kubeconfig);
    else this.kc.loadFromDefault();
    this.batch = this.kc.makeApiClient(BatchV1Api);
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.rondo = new RondoClient(opts.serverUrl, opts.adminToken);
    this.workers = this.loadWorkers();
    const log = (m: string): void => this.log(m);
    this.spot = new SpotNodes(opts.spotLabels ?? DEFAULT_SPOT_LABELS, log);
    const ns = opts.namespace;
    this.jobs = new Reflector(
      this.kc,
      ns ? `/apis/batch/v1/namespaces/${ns}/jobs` : '/apis/batch/v1/jobs',
      () => (ns ? this.batch.listNamespacedJob({ namespace: ns, labelSelector: QUEUE_LABEL }) : this.batch.listJobForAllNamespaces({ labelSelector: QUEUE_LABEL })) as unknown as Promise<KList>,
      { labelSelector: QUEUE_LABEL, log },
    );
    this.nodes = new Reflector(this.kc, '/api/v1/nodes', () => this.core.listNode() as unknown as Promise<KList>, { log });
    // All pods: GPUs held by pods Rondo does not manage are subtracted from what a node offers.
    this.pods = new Reflector(this.kc, '/api/v1/pods', () => this.core.listPodForAllNamespaces() as unknown as Promise<KList>, { log });
    this.writer = new JobWriter(this.kc, { jobs: this.jobs, jobServerUrl: opts.jobServerUrl, identity: opts.leader?.identity ?? 'rondo', log });
    this.estimates = new FinishEstimates(this.rondo, opts.roundMs ?? 60_000, log);
  }

  private log(m: string): void {
    this.opts.log?.(`[kube] ${m}`);
  }

  async start(): Promise<void> {
    for (const r of [this.jobs, this.nodes, this.pods]) r.start();
    await Promise.all([this.jobs.waitSynced(), this.nodes.waitSynced(), this.pods.waitSynced()]);
    for (const j of await this.rondo.allJobs()) {
      const uid = uidOfRondoName(j.name);
      if (uid === undefined) continue;
      this.rondoJobs.set(j.id, j);
      if (j.state === 'queued' || j.state === 'running' || !this.links.has(uid)) this.links.set(uid, j.id);
    }
    this.recover();
    // Jobs first, nodes after: a burst of queued Jobs is submitted before any node-worker is live, so the server does
    // not plan again after every submit (with no live worker a submit does not wake it).
    if (!this.opts.leader) await this.intake().catch((e: Error) => this.log(`intake failed: ${e.message}`));
    if (this.opts.leader) {
      this.leader = new LeaderElector(this.kc, this.opts.leader, (m) => this.log(m));
      this.leader.start();
    }
    this.timer = setInterval(() => void this.pass(), this.opts.tickMs ?? Math.max(50, Math.floor(this.opts.heartbeatMs / 2)));
    void this.pass();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.writer.close();
    if (this.timer) clearInterval(this.timer);
    for (const r of [this.jobs, this.nodes, this.pods]) r.stop();
    await this.leader?.stop();
    const busy = (): boolean => this.running || this.intaking || [...this.attempts.values()].some((a) => a.busy);
    for (let i = 0; i < 300 && busy(); i++) await new Promise((r) => setTimeout(r, 10));
  }

  /** Rebuilds attempts from the Jobs' admission annotations (after a restart of Rondo). */
  private recover(): void {
    for (const o of this.jobs.items.values()) {
      const a = o.metadata?.annotations ?? {};
      const attempt = Number(a[A_ATTEMPT]);
      const jobId = this.links.get(o.metadata?.uid ?? '');
      if (!jobId || !Number.isInteger(attempt) || attempt <= 0 || !a[A_WORKER]) continue;
      const st = this.rondoJobs.get(jobId)?.state;
      if (st !== 'queued' && st !== 'running') continue;
      const now = Date.now();
      this.attempts.set(attempt, {
        id: attempt,
        jobId,
        worker: a[A_WORKER],
        gpuType: a['rondo.dev/gpu-type'] ?? '',
        kube: jobKey(o),
        phase: a[A_STOPPING] !== undefined ? 'stopping' : 'starting',
        startAt: now,
        // Until the first sync says otherwise, the lease is assumed to last one heartbeat.
        deadline: now + 3 * this.opts.heartbeatMs,
        admittedAt: now,
        ...(a[A_STOPPING] !== undefined ? { stop: a[A_STOPPING] } : {}),
      });
      this.log(`recovered attempt ${attempt} of ${jobId} (${jobKey(o)})`);
    }
  }

  private loadWorkers(): Record<string, WorkerRecord> {
    try {
      return JSON.parse(readFileSync(this.opts.stateFile, 'utf8')) as Record<string, WorkerRecord>;
    } catch {
      return {};
    }
  }

  private saveWorkers(): void {
    const tmp = `${this.opts.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.workers), { mode: 0o600 });
    renameSync(tmp, this.opts.stateFile);
  }

  /** One pass: Jobs in, node-workers synced, leases turned into writes. Never two at once. */
  async pass(): Promise<void> {
    if (this.running || this.stopped) return;
    if (this.leader && !this.leader.isLeader) return;
    this.running = true;
    const t0 = Date.now();
    try {
      // Intake (new Jobs: a submit, an Event and an annotation each) runs beside the syncs, so a burst of new Jobs
      // never delays the heartbeats of the node-workers.
      if (!this.intaking) {
        this.intaking = true;
        void this.intake()
          .catch((e: Error) => this.log(`intake failed: ${e.message}`))
          .finally(() => (this.intaking = false));
      }
      const t1 = Date.now();
      await this.syncWorkers();
      const t2 = Date.now();
      this.execute();
      if (!this.annotating) {
        this.annotating = true;
        void this.annotateFinish()
          .catch((e: Error) => this.log(`estimated finish: ${e.message}`))
          .finally(() => (this.annotating = false));
      }
      this.stageMs = [t1 - t0, t2 - t1, Date.now() - t2];
      this.stats.passes++;
    } catch (e) {
      this.log(`pass failed: ${(e as Error).message}`);
    } finally {
      this.stats.lastPassMs = Date.now() - t0;
      if (this.stats.lastPassMs > this.opts.heartbeatMs * 2) this.log(`slow pass: ${this.stats.lastPassMs} ms (intake start, sync, execute: ${this.stageMs.join(', ')} ms)`);
      this.running = false;
    }
  }

  /** Pods by the uid of their Job, built once per pass (a lookup per attempt would scan every pod). */
  private podsByJob(): Map<string, KObj[]> {
    const out = new Map<string, KObj[]>();
    for (const p of this.pods.items.values()) {
      const uid = podJobUid(p);
      if (uid === undefined) continue;
      const list = out.get(uid);
      if (list) list.push(p);
      else out.set(uid, [p]);
    }
    return out;
  }

  private podsGpus(pods: KObj[]): number {
    return pods.reduce((n, p) => n + gpusPerPod(p), 0);
  }

  /** Jobs (namespace/name) with an attempt that has not ended. */
  private openKubeKeys(): Map<string, number> {
    const out = new Map<string, number>();
    for (const a of this.attempts.values()) if (!a.ended) out.set(a.kube, (out.get(a.kube) ?? 0) + 1);
    return out;
  }

  // ---- Jobs -> Rondo jobs ----

  private async intake(): Promise<void> {
    const present = new Set<string>();
    const open = this.openKubeKeys();
    const fresh: KObj[] = [];
    for (const o of [...this.jobs.items.values()]) {
      const uid = o.metadata?.uid ?? '';
      present.add(uid);
      if (!managed(o)) continue;
      const jobId = this.links.get(uid);
      if (jobId === undefined) {
        if (!jobFinished(o) && !this.rejected.has(uid)) fresh.push(o);
        continue;
      }
      // Running without Rondo's admission (created unsuspended, or resumed by hand): suspend it.
      const live = this.rondoJobs.get(jobId);
      const active = live && (live.state === 'queued' || live.state === 'running');
      if (o.spec?.suspend === false && !jobFinished(o) && active && o.metadata?.annotations?.[A_ATTEMPT] === undefined && !open.has(jobKey(o))) await this.suspendRogue(o);
    }
    // New Jobs are submitted a few at a time (a burst of thousands must not take one round trip each in turn).
    await pool(fresh, 16, (o) => this.submit(o));
    // A Job deleted from the cluster cancels its Rondo job.
    for (const [uid, jobId] of this.links) {
      const j = this.rondoJobs.get(jobId);
      if (present.has(uid) || !j || (j.state !== 'queued' && j.state !== 'running')) continue;
      try {
        this.rondoJobs.set(jobId, await this.rondo.cancel(jobId));
        this.log(`${jobId}: its Job was deleted; cancelled`);
      } catch (e) {
        this.log(`cancel ${jobId}: ${(e as Error).message}`);
      }
    }
  }

  private async submit(o: KObj): Promise<void> {
    const uid = o.metadata?.uid ?? '';
    const req = submitBody(o);
    if ('error' in req) {
      this.rejected.set(uid, req.error);
      await this.writer.event(o, 'Warning', 'NotAdmitted', `Rondo cannot schedule this Job: ${req.error}`);
      return;
    }
    let j: RondoJobView;
    try {
      j = await this.rondo.submit(req.body);
    } catch (e) {
      // A refusal (4xx) is final for this Job; anything else (the server busy or restarting) is tried again.
      const status = e instanceof RondoApiError ? e.status : 0;
      if (status >= 400 && status < 500) {
        this.rejected.set(uid, (e as Error).message);
        await this.writer.event(o, 'Warning', 'NotAdmitted', `Rondo refused this Job: ${(e as Error).message}`);
      } else this.log(`submit ${jobKey(o)}: ${(e as Error).message}; trying again`);
      return;
    }
    this.links.set(uid, j.id);
    this.rondoJobs.set(j.id, j);
    // The Rondo job id goes on the Job with its admission (one write fewer per Job than a patch now).
    void this.writer.event(o, 'Normal', 'Queued', `queued in Rondo as ${j.id} (queue ${req.body.tenant}, ${req.body.scaleFactor} GPU${req.body.scaleFactor > 1 ? 's' : ''})`);
    // Created unsuspended: suspended at once (the next intake would, one pass later).
    if (o.spec?.suspend === false) await this.suspendRogue(o);
  }

  private async suspendRogue(o: KObj): Promise<void> {
    await this.writer.patchJob(jobKey(o), (cur) => (cur.spec?.suspend === false && cur.metadata?.annotations?.[A_ATTEMPT] === undefined ? suspendPatch(cur, 'not admitted') : undefined));
    void this.writer.event(o, 'Normal', 'Suspended', 'suspended: this Job runs only when Rondo admits it (create it with spec.suspend: true)');
  }

  // ---- Nodes -> workers, and the sync protocol ----

  /**
   * What each usable node offers now. A type marked short (a Pending timeout) offers that many GPUs fewer, taken
   * from its nodes in name order; a node left with none is dropped unless it still has attempts to report on.
   */
  private offers(): NodeOffer[] {
    const ours = new Set(this.links.keys());
    const offers = this.spot.apply(nodeOffers(this.nodes.items.values(), this.pods.items.values(), this.opts.typeLabel, this.opts.typeMap, (p) => ours.has(podJobUid(p) ?? '')), this.nodes.items.values());
    const now = Date.now();
    const left = new Map<string, number>();
    const busy = this.nodesWithAttempts();
    for (const [t, s] of this.short) if (s.until > now) left.set(t, s.gpus);
    const out: NodeOffer[] = [];
    for (const o of offers) {
      const cut = Math.min(left.get(o.gpuType) ?? 0, o.gpus);
      if (cut > 0) left.set(o.gpuType, left.get(o.gpuType)! - cut);
      if (o.gpus - cut > 0) out.push({ ...o, gpus: o.gpus - cut });
      else if (busy.has(o.node)) out.push(o);
    }
    return out;
  }

  private nodesWithAttempts(): Set<string> {
    const out = new Set<string>();
    for (const a of this.attempts.values()) out.add(a.worker);
    return out;
  }

  /**
   * Registers new nodes (and nodes whose offer changed), then syncs every node-worker in one batched request: a
   * node with nothing new to report is sent as its id alone, and only the workers that hold leases come back.
   */
  private async syncWorkers(): Promise<void> {
    const offers = this.offers();
    this.offered = new Set(offers.map((o) => o.node));
    const busy = this.nodesWithAttempts();
    // Registering again updates the worker's GPUs; the server ends open attempts then, so only when none is.
    const stale = offers.filter((o) => {
      const w = this.workers[o.node];
      return !w || (w.offer !== `${o.gpuType}:${o.gpus}` && !busy.has(o.node));
    });
    if (stale.length > 0) {
      try {
        await this.register(stale);
      } catch (e) {
        this.log(`register ${stale.length} node(s): ${(e as Error).message}`);
      }
      this.saveWorkers();
    }
    const byNode = new Map<string, Attempt[]>();
    for (const a of this.attempts.values()) {
      const list = byNode.get(a.worker);
      if (list) list.push(a);
      else byNode.set(a.worker, [a]);
    }
    const entries: BatchSyncEntry[] = [];
    const nodeOf = new Map<string, string>();
    const reported: Attempt[] = [];
    for (const o of offers) {
      const w = this.workers[o.node];
      if (!w) continue; // its registration failed: the next pass tries again
      nodeOf.set(w.id, o.node);
      const mine = byNode.get(o.node) ?? [];
      const running = mine.filter((a) => !a.ended && !a.runReported && (a.phase === 'running' || a.phase === 'stopping') && a.startedAt !== undefined);
      const ended = mine.filter((a) => a.ended).map((a) => a.ended!);
      reported.push(...running);
      const known = mine.filter((a) => !a.ended && a.leaseEnd !== undefined).map((a) => [a.id, a.leaseEnd!] as const);
      const needTokens = mine.filter((a) => !a.ended && a.phase === 'pending' && a.wantsToken && !a.token).map((a) => a.id);
      entries.push({
        id: w.id,
        ...(known.length > 0 ? { known } : {}),
        ...(needTokens.length > 0 ? { needTokens } : {}),
        ...(running.length > 0 ? { running: running.map((a) => ({ attempt: a.id, pid: 0, startedAt: a.startedAt! })) } : {}),
        ...(ended.length > 0 ? { ended } : {}),
      });
    }
    // A registered node that is no longer offered (NotReady, cordoned, gone) but had attempts: its ends are reported
    // and it leaves the cluster now (while any of its ends is unacked), instead of after the worker timeout.
    for (const [node, list] of byNode) {
      const w = this.workers[node];
      if (!w || this.offered.has(node) || nodeOf.has(w.id)) continue;
      const ended = list.filter((a) => a.ended).map((a) => a.ended!);
      if (ended.length === 0) continue;
      nodeOf.set(w.id, node);
      entries.push({ id: w.id, leaving: true, ended });
    }
    if (entries.length === 0) return;
    const receivedAt = Date.now();
    const res = await this.rondo.syncBatch({ workers: entries });
    this.stats.syncs++;
    for (const a of reported) a.runReported = true;
    for (const id of res.unknown) {
      const node = nodeOf.get(id);
      if (node === undefined) continue;
      this.log(`node-worker ${id} (${node}) is unknown to the server; registering again`);
      delete this.workers[node];
    }
    if (res.unknown.length > 0) this.saveWorkers();
    let lookup: { uidOf: Map<string, string>; jobOf: Map<string, KObj> } | undefined;
    const listed = new Set<number>();
    for (const w of res.workers) {
      const node = nodeOf.get(w.id);
      if (node === undefined) continue;
      for (const id of w.held) listed.add(id);
      for (const id of w.acked) {
        const a = this.attempts.get(id);
        if (a?.ended) this.attempts.delete(id);
      }
      for (const l of w.leases) {
        listed.add(l.attempt);
        if (!this.attempts.has(l.attempt)) lookup ??= this.jobLookup();
        this.takeLease(node, l, receivedAt, lookup);
      }
    }
    const synced = new Set([...nodeOf.values()].filter((n) => this.offered.has(n)));
    for (const a of this.attempts.values()) {
      if (synced.has(a.worker) && !listed.has(a.id) && !a.ended) a.withdrawn = true;
    }
  }

  /** New nodes and nodes whose offer changed, in one request (a thousand nodes joining are one transaction). */
  private async register(offers: NodeOffer[]): Promise<void> {
    const res = await this.rondo.registerBatch(
      offers.map((o) => {
        const w = this.workers[o.node];
        return { ...(w ? { id: w.id } : {}), name: o.node, gpus: [{ type: o.gpuType, count: o.gpus }] };
      }),
    );
    res.workers.forEach((r, i) => {
      const o = offers[i]!;
      const offer = `${o.gpuType}:${o.gpus}`;
      const w = this.workers[o.node];
      if (w) w.offer = offer;
      else this.workers[o.node] = { token: r.token ?? '', id: r.id, offer };
    });
  }

  /** Rondo job id -> Job uid, and Job uid -> Job: for new leases (built only when a sync brings one). */
  private jobLookup(): { uidOf: Map<string, string>; jobOf: Map<string, KObj> } {
    const uidOf = new Map<string, string>();
    for (const [uid, id] of this.links) uidOf.set(id, uid);
    const jobOf = new Map<string, KObj>();
    for (const o of this.jobs.items.values()) jobOf.set(o.metadata?.uid ?? '', o);
    return { uidOf, jobOf };
  }

  private takeLease(node: string, l: LeaseMessage, receivedAt: number, lookup: { uidOf: Map<string, string>; jobOf: Map<string, KObj> } | undefined): void {
    let a = this.attempts.get(l.attempt);
    if (!a) {
      const uid = lookup?.uidOf.get(l.jobId);
      const o = uid === undefined ? undefined : lookup?.jobOf.get(uid);
      a = { id: l.attempt, jobId: l.jobId, worker: node, gpuType: l.gpuType, kube: o ? jobKey(o) : '', phase: 'pending', startAt: receivedAt + l.startInMs, deadline: receivedAt + l.leaseEndInMs, wantsToken: o !== undefined && wantsSecret(o) };
      this.attempts.set(l.attempt, a);
      if (!o) a.ended = { attempt: a.id, exitCode: null, signal: null, stoppedByWorker: true, spawnError: 'its Kubernetes Job no longer exists', at: Date.now() };
    } else {
      a.deadline = receivedAt + l.leaseEndInMs;
      a.withdrawn = false;
    }
    a.leaseEnd = l.leaseEnd;
    if (l.round !== undefined) a.round = l.round;
    if (l.token) a.token = l.token;
    if (l.stop && !a.stop) a.stop = 'cancelled';
  }

  // ---- leases -> Job writes ----

  private execute(): void {
    const now = Date.now();
    const productOf = new Map<string, string>();
    for (const n of this.nodes.items.values()) {
      const p = n.metadata?.labels?.[this.opts.typeLabel];
      if (p !== undefined && this.opts.typeMap[p] !== undefined) productOf.set(this.opts.typeMap[p]!, p);
    }
    // Writes run beside the passes (an attempt with one in flight is skipped), so a slow API server never delays
    // the next sync: a node-worker that misses syncs is lost to the scheduler.
    const work = (a: Attempt, p: Promise<void>): void => {
      a.busy = true;
      void p.finally(() => (a.busy = false));
    };
    const podsOf = this.podsByJob();
    const open = this.openKubeKeys();
    for (const a of this.attempts.values()) {
      if (a.ended || a.busy) continue;
      const o = this.jobs.items.get(a.kube);
      if (!o) {
        this.end(a, { exitCode: null, signal: 'SIGKILL', stoppedByWorker: true, spawnError: null });
        continue;
      }
      const fin = jobFinished(o);
      if (fin && a.phase !== 'pending') {
        this.end(a, { exitCode: fin === 'Complete' ? 0 : 1, signal: null, stoppedByWorker: false, spawnError: null });
        void this.writer.event(o, fin === 'Complete' ? 'Normal' : 'Warning', fin === 'Complete' ? 'Completed' : 'Failed', `${fin === 'Complete' ? 'completed' : 'failed'} on ${a.gpuType} (attempt ${a.id})`);
        continue;
      }
      if (!this.offered.has(a.worker) && !a.withdrawn) {
        a.withdrawn = true;
        a.stop ??= `node ${a.worker} is no longer usable (NotReady, cordoned or gone)`;
      }
      const leaseOver = now >= a.deadline || a.withdrawn === true;
      if (a.phase === 'pending') {
        // The Job completed under an earlier attempt whose end was reported as a stop (it finished while being
        // suspended): this lease is where Rondo learns it, so report the completion rather than a stop.
        if (fin) {
          this.end(a, { exitCode: fin === 'Complete' ? 0 : 1, signal: null, stoppedByWorker: false, spawnError: null });
          continue;
        }
        if (a.stop || leaseOver) {
          this.end(a, { exitCode: null, signal: null, stoppedByWorker: true, spawnError: null });
          continue;
        }
        const other = (open.get(a.kube) ?? 0) > 1;
        // Admit only a suspended Job whose pods are all gone (one suspended by hand or by intake may still have
        // terminating pods): its template may then change once startTime is cleared.
        const ready = o.spec?.suspend === true && (podsOf.get(o.metadata?.uid ?? '') ?? []).length === 0;
        const spot = this.spot.placement(a.gpuType, this.nodes.items.values(), this.opts.typeLabel, this.opts.typeMap);
        if (now >= a.startAt && !other && ready) work(a, this.admit(a, o, spot ? spot.product : productOf.get(a.gpuType), spot?.selector));
        continue;
      }
      const pods = podsOf.get(o.metadata?.uid ?? '') ?? [];
      if (a.phase === 'starting') {
        const run = pods.find((p) => p.status?.phase === 'Running');
        if (run) {
          a.phase = 'running';
          a.startedAt = Date.now();
        } else if (!a.stop && now - (a.admittedAt ?? now) > this.opts.pendingTimeoutMs) {
          a.stop = `pending longer than ${Math.round(this.opts.pendingTimeoutMs / 1000)} s: kube-scheduler found no ${a.gpuType} node with free GPUs`;
          const prev = this.short.get(a.gpuType);
          const gpus = this.podsGpus(pods) || gpusPerPod(o.spec?.template) || 1;
          this.short.set(a.gpuType, { gpus: (prev && prev.until > now ? prev.gpus : 0) + gpus, until: now + this.opts.shortForMs });
        }
      }
      if (a.phase === 'starting' || a.phase === 'running') {
        if (a.stop || leaseOver) {
          a.stop ??= a.withdrawn ? 'lease withdrawn by the scheduler' : this.preemptionReason(a);
          work(a, this.beginStop(a, o));
        }
        continue;
      }
      if (a.phase === 'stopping') work(a, this.finishStop(a, o, pods));
    }
  }

  /** Why a lease was not extended: the planner's reason when it recorded one for the round after the lease's. */
  private preemptionReason(a: Attempt): string {
    const why = this.opts.explain?.(a.jobId);
    if (why && why.round > (a.round ?? 0)) return why.text;
    return 'its lease ended: Rondo gave the GPUs to other jobs this round';
  }

  /**
   * Keeps `rondo.dev/estimated-finish` current on admitted Jobs: after each refresh of the estimates, a Job whose
   * annotation is missing or off by more than a minute and a tenth of its time left gets one patch.
   */
  private async annotateFinish(): Promise<void> {
    if (!(await this.estimates.refresh())) return;
    const now = Date.now();
    const due: Array<{ a: Attempt; at: number }> = [];
    for (const a of this.attempts.values()) {
      if (a.ended || a.stop || (a.phase !== 'starting' && a.phase !== 'running')) continue;
      const at = this.estimates.get(a.jobId);
      const o = this.jobs.items.get(a.kube);
      if (at !== undefined && o && finishChanged(o.metadata?.annotations?.[A_ESTIMATED_FINISH], at, now)) due.push({ a, at });
    }
    await pool(due, 8, async ({ a, at }) => {
      try {
        // Only while this attempt holds the Job (no resourceVersion: an annotation never conflicts with a stop).
        await this.writer.patchJob(a.kube, (cur) =>
          cur.spec?.suspend === false && cur.metadata?.annotations?.[A_ATTEMPT] === String(a.id) ? { metadata: { annotations: { [A_ESTIMATED_FINISH]: finishText(at) } } } : undefined,
        );
      } catch (e) {
        this.log(`estimated finish of ${a.kube}: ${(e as Error).message}`);
      }
    });
  }

  private end(a: Attempt, e: Omit<SyncEnded, 'attempt' | 'at'>): void {
    a.ended = { attempt: a.id, at: Date.now(), ...e };
  }

  private async admit(a: Attempt, o: KObj, product: string | undefined, extra?: Record<string, string>): Promise<void> {
    if (!product) {
      this.end(a, { exitCode: null, signal: null, stoppedByWorker: true, spawnError: `no node carries a product label mapped to ${a.gpuType}` });
      return;
    }
    a.phase = 'starting';
    a.admittedAt = Date.now();
    try {
      // The template may change only while suspended and never started (KEP-2926): a Job suspended by us before
      // (not admitted, or a stop interrupted by a restart) may still carry a startTime.
      if (o.status?.startTime) await this.writer.clearStartTime(o);
      await this.writer.writeSecret(o, a);
      const round = a.round ?? 0;
      const written = await this.writer.patchJob(a.kube, (cur) => admitPatch(cur, this.opts.typeLabel, product, a.gpuType, round, a.id, a.worker, a.jobId, extra));
      if (!written) throw Object.assign(new Error('the Job is gone'), { code: 404 });
      void this.writer.event(o, 'Normal', 'Admitted', `admitted on ${a.gpuType} (${product}) in round ${round}, attempt ${a.id}`);
    } catch (e) {
      this.log(`admit ${a.kube}: ${(e as Error).message}`);
      const code = (e as { code?: unknown }).code;
      if (typeof code !== 'number' || code >= 500 || code === 429) {
        // The API server is unreachable or overloaded (a restart, an upgrade): not the job's fault. The admission may
        // have been half written (or written with its answer lost), so undo it as a preemption: suspend, wait for
        // pods, restore; the job is then queued again instead of failed.
        a.stop = `admission interrupted: ${(e as Error).message}`.slice(0, 1000);
        return;
      }
      this.end(a, { exitCode: null, signal: null, stoppedByWorker: true, spawnError: `admission failed: ${(e as Error).message}`.slice(0, 4000) });
    }
  }

  private async beginStop(a: Attempt, o: KObj): Promise<void> {
    a.phase = 'stopping';
    try {
      await this.writer.patchJob(a.kube, (cur) => (cur.spec?.suspend === true && cur.metadata?.annotations?.[A_STOPPING] !== undefined ? undefined : suspendPatch(cur, a.stop!)));
      void this.writer.event(o, 'Normal', a.stop === 'cancelled' ? 'Cancelled' : 'Preempted', `suspended on ${a.gpuType} after round ${a.round ?? '?'} (attempt ${a.id}): ${a.stop}`);
    } catch (e) {
      a.phase = 'running';
      this.log(`suspend ${a.kube}: ${(e as Error).message}`);
    }
  }

  private async finishStop(a: Attempt, o: KObj, pods: KObj[]): Promise<void> {
    if (pods.length > 0) return; // the kubelet is still stopping them (SIGTERM, grace period)
    const fin = jobFinished(this.jobs.items.get(a.kube) ?? o);
    if (fin) {
      // It finished during the stop: that is its end, not a preemption.
      this.end(a, { exitCode: fin === 'Complete' ? 0 : 1, signal: null, stoppedByWorker: false, spawnError: null });
      return;
    }
    try {
      if (o.status?.startTime) await this.writer.clearStartTime(o);
      await this.writer.patchJob(a.kube, (cur) => restorePatch(cur, this.opts.typeLabel));
      this.end(a, { exitCode: null, signal: a.startedAt !== undefined ? 'SIGTERM' : null, stoppedByWorker: true, spawnError: null });
    } catch (e) {
      this.log(`stop ${a.kube}: ${(e as Error).message}`);
    }
  }

  /** For tests and the dashboard: what the driver holds now. */
  snapshot(): { attempts: Array<{ id: number; jobId: string; kube: string; phase: Phase; gpuType: string }>; workers: number } {
    return { attempts: [...this.attempts.values()].map((a) => ({ id: a.id, jobId: a.jobId, kube: a.kube, phase: a.phase, gpuType: a.gpuType })), workers: Object.keys(this.workers).length };
  }
}

