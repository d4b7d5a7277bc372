// Over 500 lines: one class, the reconcile loop (the pass, the node-workers' sync and each attempt's state machine), whose
// parts share its maps of attempts and workers; the writes, intake, stops and timers are in files of their own.
/**
 * The Kubernetes driver of Rondo's one engine. It runs inside `rondo serve --kube` beside the scheduler and talks
 * to the server through its REST API (plus, in the same process, the planner's why record for Event reasons),
 * playing two roles the runtime already has:
 *   - a job source (intake.ts): labelled batch/v1 Jobs (`rondo.dev/queue`), and JobSets and PyTorchJobs when
 *     `--kube-kinds` enables them (workloads.ts, kinds/), become Rondo jobs (tenant = queue), and a deleted Job
 *     cancels its Rondo job;
 *   - worker agents: every usable Node is a Rondo worker (its GPU type from the node label, its count from
 *     allocatable GPUs minus those of pods Rondo does not manage). Each pass syncs all node-workers in one batched
 *     request (the worker protocol, sending only what changed) and turns the leases into Job writes: a lease
 *     starts with one admission patch (admit.ts); an extension writes nothing; a lease that ends, is withdrawn or is
 *     cancelled suspends the Job, waits until its pods are gone, clears status.startTime (KEP-2926) and restores the
 *     original selector, then reports the end (stop.ts). Estimated finishes are annotations (annotations.ts).
 * This file keeps the reconcile loop: the pass, the node-workers' sync and the state machine of each attempt.
 * kube-scheduler still picks the node within the type. Admission state lives on the Job (annotations), Rondo's
 * in its store, so a restarted driver rebuilds its view from both. Decisions are Events on the Job.
 */
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import type { BatchSyncEntry, LeaseMessage } from '../runtime/protocol.js';
import { A_ATTEMPT, A_STOPPING, A_WORKER, type KubeOptions } from './config.js';
import { Reflector, type KList, type KObj } from './reflector.js';
import { RondoClient } from './rondo-client.js';
import { DEFAULT_SPOT_LABELS, SpotNodes } from './spot.js';
import { wantsSecret, gpusPerPod, jobFinished, jobKey, nodeOffers, podCount, podJobUid, suspended, workloadGpus, type NodeOffer } from './objects.js';
import { Workloads } from './workloads.js';
import { KINDS, kindOf } from './kinds/index.js';
import { LeaderElector } from './leader.js';
import { JobWriter } from './writer.js';
import { keepAliveClient } from './client.js';
import { FinishEstimates } from './estimates.js';
import { JobIntake } from './intake.js';
import { endAttempt, type Attempt, type Phase } from './attempt.js';
import { admit } from './admit.js';
import { annotateFinish } from './annotations.js';
import { beginStop, finishStop, preemptionReason, Tidier, type WriteContext } from './stop.js';
import { Waker } from './waker.js';
import { Timeline } from './timeline.js';
import type { ChangeBudgetView } from './change-budget.js';

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
  /** The automatic change budget as of the last pass (change-budget.ts); absent without one. */
  changeBudget?: ChangeBudgetView;
}


export class KubeController {
  private readonly kc = new KubeConfig();
  private readonly core: CoreV1Api;
  /** Every enabled workload kind's labelled objects, by `jobKey` (workloads.ts). */
  readonly jobs: Workloads;
  readonly nodes: Reflector<KObj>;
  readonly pods: Reflector<KObj>;
  private readonly rondo: RondoClient;
  private readonly workers: Record<string, WorkerRecord>;
  private readonly attempts = new Map<number, Attempt>();
  /** GPU type -> until (ms): a Pending timeout said kube-scheduler has fewer GPUs of it than Rondo thought. */
  private readonly short = new Map<string, { gpus: number; until: number }>();
  /** Nodes synced in the last pass: an attempt on any other node is stopped (NotReady, cordoned, gone). */
  private offered = new Set<string>();
  /** Nodes no longer offered whose leaving the server acknowledged with nothing left to report (sent once). */
  private readonly left = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Passes between ticks (waker.ts). */
  private readonly waker = new Waker(() => this.pass());
  /** Stopped Jobs not yet restored (stop.ts). */
  private readonly tidier: Tidier;
  /** The driver's timeline (off unless enabled: timeline.ts). */
  readonly timeline = new Timeline();
  private stopped = false;
  private leader: LeaderElector | undefined;
  private stageMs: number[] = [];
  private intaking = false;
  readonly stats: KubeStats = { passes: 0, lastPassMs: 0, syncs: 0 };
  readonly writer: JobWriter;
  private readonly estimates: FinishEstimates;
  /** Jobs -> Rondo jobs (intake.ts). */
  private readonly intake: JobIntake;
  /** What the admission, stop and annotation writes (admit.ts, stop.ts, annotations.ts) need of this class. */
  private readonly ctx: WriteContext;
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
    this.core = keepAliveClient(this.kc, CoreV1Api);
    this.rondo = new RondoClient(opts.serverUrl, opts.adminToken);
    this.workers = this.loadWorkers();
    const log = (m: string): void => this.log(m);
    this.spot = new SpotNodes(opts.spotLabels ?? DEFAULT_SPOT_LABELS, log);
    const kinds = opts.kinds ?? ['job'];
    this.jobs = new Workloads(this.kc, KINDS.filter((k) => kinds.includes(k.id)), { namespace: opts.namespace, log });
    this.nodes = new Reflector(this.kc, '/api/v1/nodes', () => this.core.listNode() as unknown as Promise<KList>, { log });
    // All pods: GPUs held by pods Rondo does not manage are subtracted from what a node offers.
    this.pods = new Reflector(this.kc, '/api/v1/pods', () => this.core.listPodForAllNamespaces() as unknown as Promise<KList>, {
      log,
      // The last pod of a stopping Job gone: its stop can end now, and the job's next lease follow, without waiting
      // for the next tick.
      onChange: (type) => {
        if (type === 'DELETED' && this.stopping > 0) this.waker.soon();
      },
    });
    this.writer = new JobWriter(this.kc, { jobs: this.jobs, jobServerUrl: opts.jobServerUrl, identity: opts.leader?.identity ?? 'rondo', log, timeline: this.timeline, rate: opts.changeBudget?.rate });
    this.intake = new JobIntake({ jobs: this.jobs, rondo: this.rondo, writer: this.writer, log });
    this.estimates = new FinishEstimates(this.rondo, opts.roundMs ?? 60_000, log);
    this.ctx = { writer: this.writer, jobs: this.jobs, typeLabel: opts.typeLabel, log, timeline: this.timeline };
    this.tidier = new Tidier(this.ctx, opts.tidyAfterMs ?? opts.roundMs ?? 60_000);
  }

  private log(m: string): void {
    this.opts.log?.(`[kube] ${m}`);
  }

  async start(): Promise<void> {
    for (const r of [this.nodes, this.pods]) r.start();
    await Promise.all([this.jobs.start(), this.nodes.waitSynced(), this.pods.waitSynced()]);
    await this.intake.load();
    this.recover();
    // Jobs first, nodes after: a burst of queued Jobs is submitted before any node-worker is live, so the server does
    // not plan again after every submit (with no live worker a submit does not wake it).
    if (!this.opts.leader) await this.intake.run(this.openKubeKeys()).catch((e: Error) => this.log(`intake failed: ${e.message}`));
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
    this.waker.close();
    for (const r of [this.jobs, this.nodes, this.pods]) r.stop();
    await this.leader?.stop();
    const busy = (): boolean => this.running || this.intaking || this.tidier.busy || [...this.attempts.values()].some((a) => a.busy);
    for (let i = 0; i < 300 && busy(); i++) await new Promise((r) => setTimeout(r, 10));
  }

  /** Rebuilds attempts from the Jobs' admission annotations (after a restart of Rondo). */
  private recover(): void {
    for (const o of this.jobs.items.values()) {
      const a = o.metadata?.annotations ?? {};
      const attempt = Number(a[A_ATTEMPT]);
      const jobId = this.intake.openJob(o.metadata?.uid ?? '');
      if (!jobId || !Number.isInteger(attempt) || attempt <= 0 || !a[A_WORKER]) continue;
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
    this.waker.begin();
    const t0 = Date.now();
    try {
      // Intake (new Jobs: a submit, an Event and an annotation each) runs beside the syncs, so a burst of new Jobs
      // never delays the heartbeats of the node-workers.
      if (!this.intaking) {
        this.intaking = true;
        void this.intake
          .run(this.openKubeKeys())
          .catch((e: Error) => this.log(`intake failed: ${e.message}`))
          .finally(() => (this.intaking = false));
      }
      // Leases that start or end now (the pass a wake-up ran for) act on what the last sync said, before this one.
      this.execute();
      const t1 = Date.now();
      await this.syncWorkers();
      const t2 = Date.now();
      this.timeline.mark('sync', undefined, t2 - t1);
      this.execute();
      if (!this.annotating) {
        this.annotating = true;
        void annotateFinish(this.ctx, this.estimates, this.attempts.values())
          .catch((e: Error) => this.log(`estimated finish: ${e.message}`))
          .finally(() => (this.annotating = false));
      }
      this.stageMs = [t1 - t0, t2 - t1, Date.now() - t2];
      this.stats.passes++;
      if (this.opts.changeBudget) {
        this.stats.changeBudget = this.opts.changeBudget.view();
        const line = this.opts.changeBudget.report(this.opts.roundMs ?? 60_000);
        if (line) this.log(line);
      }
    } catch (e) {
      this.log(`pass failed: ${(e as Error).message}`);
    } finally {
      this.stats.lastPassMs = Date.now() - t0;
      this.timeline.mark('pass', undefined, this.stats.lastPassMs);
      if (this.stats.lastPassMs > this.opts.heartbeatMs * 2) this.log(`slow pass: ${this.stats.lastPassMs} ms (intake start, sync, execute: ${this.stageMs.join(', ')} ms)`);
      this.running = false;
      this.waker.end();
      this.wakeForLeases();
    }
  }

  /** Stopping attempts (a pod deletion matters to the driver only while one is). */
  private stopping = 0;

  /**
   * A pass at the moment the next lease starts or ends (plans arrive ahead of their round), so a round's admissions
   * and stops begin at its start rather than at the next tick.
   */
  private wakeForLeases(): void {
    if (this.stopped) return;
    const now = Date.now();
    let next = Infinity;
    for (const a of this.attempts.values()) {
      if (a.ended || a.busy) continue;
      if (a.phase === 'pending' && a.startAt > now) next = Math.min(next, a.startAt);
      if ((a.phase === 'starting' || a.phase === 'running') && a.deadline > now) next = Math.min(next, a.deadline);
    }
    if (next !== Infinity) this.waker.atTime(next);
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

  // ---- Nodes -> workers, and the sync protocol ----

  /**
   * What each usable node offers now. A type marked short (a Pending timeout) offers that many GPUs fewer, taken
   * from its nodes in name order; a node left with none is dropped unless it still has attempts to report on.
   */
  private offers(): NodeOffer[] {
    const ours = new Set(this.intake.links.keys());
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
    // A registered node that is no longer offered (NotReady, cordoned, gone) leaves the cluster now, instead of after
    // the worker timeout: with its attempts' ends once they have ended (sent while any is unacked), at once when it
    // held none.
    for (const node of this.offered) this.left.delete(node);
    for (const [node, w] of Object.entries(this.workers)) {
      if (this.offered.has(node) || nodeOf.has(w.id) || this.left.has(node)) continue;
      const list = byNode.get(node) ?? [];
      const ended = list.filter((a) => a.ended).map((a) => a.ended!);
      if (ended.length === 0 && list.length > 0) continue; // its stops are still under way
      if (list.length === 0) this.left.add(node);
      nodeOf.set(w.id, node);
      entries.push({ id: w.id, leaving: true, ...(ended.length > 0 ? { ended } : {}) });
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
    for (const [uid, id] of this.intake.links) uidOf.set(id, uid);
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
      this.timeline.mark('lease', l.round);
      if (!o) endAttempt(a, { exitCode: null, signal: null, stoppedByWorker: true, spawnError: 'its Kubernetes Job no longer exists' });
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
    let stopping = 0;
    for (const a of this.attempts.values()) {
      if (a.ended || a.busy) continue;
      const o = this.jobs.items.get(a.kube);
      if (!o) {
        endAttempt(a, { exitCode: null, signal: 'SIGKILL', stoppedByWorker: true, spawnError: null });
        continue;
      }
      const fin = jobFinished(o);
      if (fin && a.phase !== 'pending') {
        endAttempt(a, { exitCode: fin === 'Complete' ? 0 : 1, signal: null, stoppedByWorker: false, spawnError: null });
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
          endAttempt(a, { exitCode: fin === 'Complete' ? 0 : 1, signal: null, stoppedByWorker: false, spawnError: null });
          continue;
        }
        if (a.stop || leaseOver) {
          endAttempt(a, { exitCode: null, signal: null, stoppedByWorker: true, spawnError: null });
          continue;
        }
        const other = (open.get(a.kube) ?? 0) > 1;
        // Admit only a suspended Job whose pods are all gone (one suspended by hand or by intake may still have
        // terminating pods): its template may then change once startTime is cleared.
        const ready = suspended(o) && !(podsOf.get(o.metadata?.uid ?? '') ?? []).some(kindOf(o).stopWaitsFor);
        if (now >= a.startAt && !other && ready) {
          const spot = this.spot.placement(a.gpuType, this.nodes.items.values(), this.opts.typeLabel, this.opts.typeMap);
          this.tidier.forget(a.kube);
          this.timeline.mark('admit.queued', a.round);
          work(a, admit(this.ctx, a, o, spot ? spot.product : productOf.get(a.gpuType), spot?.selector));
        }
        continue;
      }
      const pods = podsOf.get(o.metadata?.uid ?? '') ?? [];
      if (a.phase === 'starting') {
        // Running once every pod of it is (a gang's pods all, or it is still short of its GPUs); a gang's pods that
        // finished before a preemption are not made again.
        if (pods.filter((p) => p.status?.phase === 'Running' || p.status?.phase === 'Succeeded').length >= podCount(o)) {
          a.phase = 'running';
          a.startedAt = Date.now();
        } else if (!a.stop && now - (a.admittedAt ?? now) > this.opts.pendingTimeoutMs) {
          a.stop = `pending longer than ${Math.round(this.opts.pendingTimeoutMs / 1000)} s: kube-scheduler found no ${a.gpuType} node with free GPUs`;
          const prev = this.short.get(a.gpuType);
          const gpus = this.podsGpus(pods.filter(kindOf(o).stopWaitsFor)) || workloadGpus(o) || 1;
          this.short.set(a.gpuType, { gpus: (prev && prev.until > now ? prev.gpus : 0) + gpus, until: now + this.opts.shortForMs });
        }
      }
      if (a.phase === 'starting' || a.phase === 'running') {
        if (a.stop || leaseOver) {
          a.stop ??= a.withdrawn ? 'lease withdrawn by the scheduler' : preemptionReason(a, this.opts.explain);
          this.timeline.mark('stop.queued', a.round);
          work(a, beginStop(this.ctx, a, o));
        }
        continue;
      }
      if (a.phase === 'stopping') {
        stopping++;
        if (finishStop(this.ctx, a, o, pods)) {
          this.tidier.stopped(a.kube);
          // Its end goes to the server in a pass now: the job's next lease may wait on it.
          this.waker.soon();
        }
      }
    }
    this.stopping = stopping;
    this.tidier.run(open);
  }

  /** For tests and the dashboard: what the driver holds now. */
  snapshot(): { attempts: Array<{ id: number; jobId: string; kube: string; phase: Phase; gpuType: string }>; workers: number } {
    return { attempts: [...this.attempts.values()].map((a) => ({ id: a.id, jobId: a.jobId, kube: a.kube, phase: a.phase, gpuType: a.gpuType })), workers: Object.keys(this.workers).length };
  }
}

