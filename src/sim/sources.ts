import type { Job } from '../model/index.js';
import type { JobSource } from '../engine/types.js';

/** Replays a fixed job list (sorted stably by arrival time). */
export class TraceSource implements JobSource {
  private readonly jobs: readonly Job[];
  private next = 0;

  constructor(jobs: readonly Job[]) {
    this.jobs = [...jobs].map((j, i) => [j, i] as const).sort((a, b) => a[0].arrivalTime - b[0].arrivalTime || a[1] - b[1]).map((x) => x[0]);
  }

  poll(now: number): Job[] {
    const out: Job[] = [];
    while (this.next < this.jobs.length && this.jobs[this.next]!.arrivalTime <= now) out.push(this.jobs[this.next++]!);
    return out;
  }

  nextArrival(): number | undefined {
    return this.jobs[this.next]?.arrivalTime;
  }

  exhausted(): boolean {
    return this.next >= this.jobs.length;
  }
}

/** An unbounded stream of jobs, produced lazily in arrival order (see generate.ts). */
export interface JobStream {
  /** The next job without consuming it. */
  peek(): Job;
  take(): Job;
}

/** Replays a lazy stream; it never runs out, so the engine must be given a window (or maxRounds) to stop. */
export class StreamSource implements JobSource {
  readonly taken: Job[] = [];

  constructor(
    private readonly stream: JobStream,
    /** Stop producing after this many jobs (undefined = unbounded). */
    private readonly limit?: number,
  ) {}

  poll(now: number): Job[] {
    const out: Job[] = [];
    while ((this.limit === undefined || this.taken.length < this.limit) && this.stream.peek().arrivalTime <= now) {
      const j = this.stream.take();
      this.taken.push(j);
      out.push(j);
    }
    return out;
  }

  nextArrival(): number | undefined {
    if (this.limit !== undefined && this.taken.length >= this.limit) return undefined;
    return this.stream.peek().arrivalTime;
  }

  exhausted(): boolean {
    return this.limit !== undefined && this.taken.length >= this.limit;
  }
}
