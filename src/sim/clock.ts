import type { Clock } from '../engine/types.js';

/** Simulated time: never sleeps, jumps. */
export class SimClock implements Clock {
  private t: number;

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  async sleepUntil(t: number): Promise<void> {
    if (t > this.t) this.t = t;
  }

  /** Used by the simulated executor to move time to the end of a round. */
  advanceTo(t: number): void {
    if (t > this.t) this.t = t;
  }
}
