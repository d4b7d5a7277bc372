/**
 * Contention (active jobs x seconds, for finish-time fairness): every job active during a span adds the span to its
 * `activeJobSeconds`. The spans since the last flush wait in a buffer and a job takes them when it leaves or the
 * buffer fills (`settle`): the same additions in the same order as adding each span to every active job at once,
 * without a pass over every queued job per round.
 */
import type { Active, RunState } from './state.js';

/** Adds the spans a job has not taken yet to its record. */
export function settle(s: RunState, a: Active): void {
  let acc = a.rec.activeJobSeconds;
  for (let i = a.spanFrom; i < s.spanCount; i++) acc += s.spans[i]!;
  a.rec.activeJobSeconds = acc;
  a.spanFrom = s.spanCount;
}

/** Records a span of `v` active-job seconds shared by every active job. */
export function addSpan(s: RunState, v: number): void {
  if (s.spanCount === s.spans.length) {
    for (const a of s.active.values()) {
      settle(s, a);
      a.spanFrom = 0;
    }
    s.spanCount = 0;
  }
  s.spans[s.spanCount++] = v;
}
