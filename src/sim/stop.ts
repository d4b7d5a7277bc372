/**
 * The simulator's stop rules, given to the engine as its `StopRule`: Gavel's measurement window (stop once every job
 * with arrival index in [start, end) has left) and the JCT cap (stop as soon as the window's average JCT is certain
 * to exceed a bound: an arrived, unfinished window job has JCT >= now - arrival, and the average divides by the whole
 * window size). The cap saves the hours a sweep would spend draining a saturated queue that is off the chart anyway.
 */
import type { JobRecord, StopReason, StopRule } from '../engine/types.js';

export class WindowStop implements StopRule {
  private readonly size: number;
  /** Window jobs still to leave. */
  private left_: number;
  // For the cap: window jobs that arrived and are unfinished (count, sum of arrival times), and the JCTs of those that
  // finished. Failed and cancelled jobs have no JCT and leave both sums.
  private open = 0;
  private openArrivals = 0;
  private jctSum = 0;

  /** `jctCap` in seconds. */
  constructor(
    private readonly window: { readonly start: number; readonly end: number },
    private readonly jctCap?: number,
  ) {
    this.size = Math.max(0, window.end - window.start);
    this.left_ = this.size;
  }

  private inWindow(i: number): boolean {
    return i >= this.window.start && i < this.window.end;
  }

  admitted(rec: JobRecord): void {
    if (!this.inWindow(rec.index)) return;
    this.open++;
    this.openArrivals += rec.arrivalTime;
  }

  left(rec: JobRecord): void {
    if (!this.inWindow(rec.index)) return;
    if (this.left_ > 0) this.left_--;
    this.open--;
    this.openArrivals -= rec.arrivalTime;
    if (rec.finishTime !== undefined) this.jctSum += rec.finishTime - rec.arrivalTime;
  }

  reason(now: number): StopReason | undefined {
    if (this.left_ === 0) return 'window';
    if (this.jctCap !== undefined && this.size > 0 && (this.jctSum + this.open * now - this.openArrivals) / this.size > this.jctCap) return 'jctCap';
    return undefined;
  }

  finished(): number {
    return this.size - this.left_;
  }
}
