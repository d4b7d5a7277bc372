/**
 * The Kubernetes driver's job source: labelled workloads (`rondo.dev/queue`; batch/v1 Jobs, and JobSets and
 * PyTorchJobs when enabled) become Rondo jobs (tenant = queue, scale factor = all their pods' GPUs),
 * a labelled Job found running without Rondo's admission is suspended, and a deleted Job cancels its Rondo job.
 */
import { A_ATTEMPT } from './config.js';
import type { KObj, ObjectCache } from './reflector.js';
import { RondoApiError, type RondoClient, type RondoJobView } from './rondo-client.js';
import { jobFinished, jobKey, managed, submitBody, suspended, suspendPatch, uidOfRondoName } from './objects.js';
import { pool, type JobWriter } from './writer.js';

export class JobIntake {
  /** Kubernetes Job uid -> Rondo job id. */
  readonly links = new Map<string, string>();
  private readonly rondoJobs = new Map<string, RondoJobView>();
  /** Jobs we could not submit (uid -> reason), so the Event is sent once. */
  private readonly rejected = new Map<string, string>();

  constructor(private readonly cfg: { readonly jobs: ObjectCache; readonly rondo: RondoClient; readonly writer: JobWriter; readonly log: (m: string) => void }) {}

  /** Links from the server's jobs (after a restart): the newest open job of each Job uid wins. */
  async load(): Promise<void> {
    for (const j of await this.cfg.rondo.allJobs()) {
      const uid = uidOfRondoName(j.name);
      if (uid === undefined) continue;
      this.rondoJobs.set(j.id, j);
      if (j.state === 'queued' || j.state === 'running' || !this.links.has(uid)) this.links.set(uid, j.id);
    }
  }

  /** The Rondo job linked to a Job uid while it is queued or running. */
  openJob(uid: string): string | undefined {
    const jobId = this.links.get(uid);
    const st = jobId === undefined ? undefined : this.rondoJobs.get(jobId)?.state;
    return st === 'queued' || st === 'running' ? jobId : undefined;
  }

  /** New Jobs submitted, rogue ones suspended, deleted ones cancelled. `open`: Jobs (namespace/name) with an open attempt. */
  async run(open: ReadonlyMap<string, number>): Promise<void> {
    const present = new Set<string>();
    const fresh: KObj[] = [];
    for (const o of [...this.cfg.jobs.items.values()]) {
      const uid = o.metadata?.uid ?? '';
      present.add(uid);
      if (!managed(o)) continue;
      const jobId = this.links.get(uid);
      if (jobId === undefined) {
        if (!jobFinished(o) && !this.rejected.has(uid)) fresh.push(o);
        continue;
      }
      // Running without Rondo's admission (created unsuspended, or resumed by hand): suspend it.
      const active = this.openJob(uid) !== undefined;
      if (!suspended(o) && !jobFinished(o) && active && o.metadata?.annotations?.[A_ATTEMPT] === undefined && !open.has(jobKey(o))) await this.suspendRogue(o);
    }
    // New Jobs are submitted a few at a time (a burst of thousands must not take one round trip each in turn).
    await pool(fresh, 16, (o) => this.submit(o));
    // A Job deleted from the cluster cancels its Rondo job.
    for (const [uid, jobId] of this.links) {
      if (present.has(uid) || this.openJob(uid) === undefined) continue;
      try {
        this.rondoJobs.set(jobId, await this.cfg.rondo.cancel(jobId));
        this.cfg.log(`${jobId}: its Job was deleted; cancelled`);
      } catch (e) {
        this.cfg.log(`cancel ${jobId}: ${(e as Error).message}`);
      }
    }
  }

  private async submit(o: KObj): Promise<void> {
    const uid = o.metadata?.uid ?? '';
    const req = submitBody(o);
    if ('error' in req) {
      this.rejected.set(uid, req.error);
      await this.cfg.writer.event(o, 'Warning', 'NotAdmitted', `Rondo cannot schedule this Job: ${req.error}`);
      return;
    }
    let j: RondoJobView;
    try {
      j = await this.cfg.rondo.submit(req.body);
    } catch (e) {
      // A refusal (4xx) is final for this Job; anything else (the server busy or restarting) is tried again.
      const status = e instanceof RondoApiError ? e.status : 0;
      if (status >= 400 && status < 500) {
        this.rejected.set(uid, (e as Error).message);
        await this.cfg.writer.event(o, 'Warning', 'NotAdmitted', `Rondo refused this Job: ${(e as Error).message}`);
      } else this.cfg.log(`submit ${jobKey(o)}: ${(e as Error).message}; trying again`);
      return;
    }
    this.links.set(uid, j.id);
    this.rondoJobs.set(j.id, j);
    // The Rondo job id goes on the Job with its admission (one write fewer per Job than a patch now).
    void this.cfg.writer.event(o, 'Normal', 'Queued', `queued in Rondo as ${j.id} (queue ${req.body.tenant}, ${req.body.scaleFactor} GPU${req.body.scaleFactor > 1 ? 's' : ''})`);
    // Created unsuspended: suspended at once (the next intake would, one pass later).
    if (!suspended(o)) await this.suspendRogue(o);
  }

  private async suspendRogue(o: KObj): Promise<void> {
    await this.cfg.writer.patchJob(jobKey(o), (cur) => (!suspended(cur) && cur.metadata?.annotations?.[A_ATTEMPT] === undefined ? suspendPatch(cur, 'not admitted') : undefined), { tag: 'suspend-rogue', priority: 'stop' });
    void this.cfg.writer.event(o, 'Normal', 'Suspended', 'suspended: this Job runs only when Rondo admits it (create it with spec.suspend: true)');
  }
}
