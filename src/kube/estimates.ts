/**
 * Estimated finishes of the running jobs, for the `rondo.dev/estimated-finish` annotation: read from the server's
 * queue view (`GET /api/v1/queue?state=running`, the dashboard's what-if estimates) at most once per `everyMs`, in
 * the background. The server gives no estimates above a few thousand active jobs; then there are none to write.
 */
import type { RondoClient } from './rondo-client.js';

export class FinishEstimates {
  private readonly byJob = new Map<string, number>();
  private at = 0;
  private busy = false;

  constructor(
    private readonly rondo: RondoClient,
    private readonly everyMs: number,
    private readonly log: (m: string) => void,
  ) {}

  /** Estimated finish (Unix ms) of a Rondo job, when the last refresh had one. */
  get(jobId: string): number | undefined {
    return this.byJob.get(jobId);
  }

  /** Reads the estimates again when due. Resolves true when it did. */
  async refresh(now = Date.now()): Promise<boolean> {
    if (this.busy || now - this.at < this.everyMs) return false;
    this.busy = true;
    this.at = now;
    try {
      const next = new Map<string, number>();
      for (let offset = 0; ; offset += 500) {
        const page = await this.rondo.queue('running', offset, 500);
        for (const j of page.jobs) {
          const t = j.estimatedFinish === null ? NaN : Date.parse(j.estimatedFinish);
          if (Number.isFinite(t)) next.set(j.id, t);
        }
        if (page.jobs.length < 500) break;
      }
      this.byJob.clear();
      for (const [k, v] of next) this.byJob.set(k, v);
      return true;
    } catch (e) {
      this.log(`estimates: ${(e as Error).message}`);
      return false;
    } finally {
      this.busy = false;
    }
  }
}

/** Seconds are enough for a finish time on a Job. */
export function finishText(ms: number): string {
  return new Date(Math.round(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Whether an annotation saying `current` should be rewritten with `next`: when absent or unreadable, or moved by
 * more than a minute and a tenth of the time left, so a drifting estimate does not cost a write every round.
 */
export function finishChanged(current: string | undefined, next: number, now: number): boolean {
  if (current === undefined) return true;
  const c = Date.parse(current);
  if (!Number.isFinite(c)) return true;
  return Math.abs(next - c) > Math.max(60_000, 0.1 * Math.max(0, c - now));
}
