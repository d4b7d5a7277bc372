/**
 * The driver's own timeline, for `npm run bench:kube` and for finding what a round's last Job write waits for: each
 * step of a lease's life and each write is a mark (wall time, kind, the lease's round, a duration where one is
 * meaningful). Off unless `enabled` (a long-running server must not grow it), and bounded when on.
 *
 * Kinds: `lease` (a sync brought a new lease; round = the lease's), `pass` (ms = the pass), `sync` (ms = the batched
 * sync), `admit.queued` / `stop.queued` (the reconcile loop started the write), `<write>.sent` (the request left the
 * writer's queue; ms = the time it waited there) and `<write>.done` for the writes `admit`, `stop` (the suspend),
 * `clear` (startTime via /status), `restore`, `secret`, `tidy-restore`, `annotate`; `stop.podsGone` (ms = from the
 * suspend to the moment no pod was left), `stop.ended` (the attempt's end is ready to report), `conflict` (a 409,
 * retried on a fresh GET), `event.sent`.
 */
export interface Mark {
  readonly at: number;
  readonly kind: string;
  readonly round?: number;
  readonly ms?: number;
}

export class Timeline {
  enabled = false;
  readonly marks: Mark[] = [];
  constructor(private readonly limit = 500_000) {}

  mark(kind: string, round?: number, ms?: number): void {
    if (!this.enabled || this.marks.length >= this.limit) return;
    this.marks.push({ at: Date.now(), kind, ...(round !== undefined ? { round } : {}), ...(ms !== undefined ? { ms } : {}) });
  }
}
