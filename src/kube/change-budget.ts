/**
 * `rondo serve --kube`'s automatic change budget (docs/kubernetes.md, "Scale"): a round's decisions (admissions and
 * stops) should reach the API server within a change window, by default a tenth of the round (a restart on Kubernetes
 * costs tens of seconds, so a round should spend only a small share of itself on its own churn). The driver measures
 * how fast the API server lets it complete decisions, and each plan may change at most rate x window jobs.
 *
 * A round's last decision comes after a fixed latency (the pass that notices the round began, a suspend's pods
 * going away before a moved job can be admitted, request round trips) plus its changes over the rate the API server
 * grants. Both are measured:
 *   - the rate is changes per second of busy time: a change is an admission whose Job patch is done or a stop whose
 *     suspend is done (the admission's Secret and `/status` writes, and the re-reads after a 409, are part of its
 *     cost); busy time is time during which at least one decision write is in flight, so idle stretches between
 *     rounds do not dilute it. It is smoothed exponentially over busy time with a time constant of one change window
 *     (the last window's worth of writes weighs about as much as everything before): an average over recent rounds,
 *     unmoved by a single quick write or by quiet periods with no writes at all;
 *   - the latency is the part of a round's span with no decision write in flight: for the decisions due at one
 *     moment (a round's start, a backfill plan's), the time from that moment to the last of them done, less the
 *     busy time between their first and last; smoothed over such groups. Busy time alone leaves out these stretches
 *     (the pass that notices the round, waits for pods to go), which made a budget of rate x window miss its window
 *     by half (bench:kube, December 2026).
 * The budget is then the changes that fit in TARGET_SHARE of the window after the latency: rate x (share x window -
 * latency), so that a round somewhat slower than the recent ones still lands within the window.
 */
import type { MaxChanges } from '../runtime/server/scheduler.js';
import type { MaxChangesSetting } from './config.js';

/**
 * Changes per second assumed before any measurement. kube-scheduler's default client settings ask the API server
 * for 50 requests/s (clientConnection qps 50, burst 100), and client-go's built-in default is 5; a change costs about
 * four requests (the Secret, the `/status` clear when needed, the Job patch or the suspend, an Event), so 50
 * requests/s is about 12 changes/s. Low enough not to flood a cluster whose API server is shared, and the first
 * measured rounds replace it within a few windows.
 */
export const START_CHANGES_PER_S = 12;

/**
 * The smallest automatic budget. A budget far below the churn a policy asks for slows the rotation fairness needs
 * (`npm run bench:churn`, 48 GPUs: a budget of 8 cost 24% in average JCT, 4 cost 57%), and 8 changes are a handful of
 * requests even for a slow API server: a slow or noisy measurement never freezes the rotation.
 */
export const MIN_CHANGE_BUDGET = 8;

/** The change window as a share of the round length (20 s rounds: 2 s; Gavel's 360 s: 36 s). */
export const CHANGE_WINDOW_SHARE = 0.1;

/**
 * The share of the window a budget is sized to fill: rounds vary (a slower pass, a sync behind a plan, pods slower to
 * go), by up to a half either way in bench:kube's steady rounds, so aiming at the whole window would miss it about
 * every other round.
 */
export const TARGET_SHARE = 0.7;

/** Decisions due within this of each other are one group (a round's stops and admissions, or one backfill plan's). */
const GROUP_MS = 500;

/** The measured rate of decision writes (see the top of this file). */
export class ChangeRate {
  private inFlight = 0;
  private at: number;
  /** Changes, exponentially weighted by busy time (time constant tauS): the rate is this over tauS. */
  private weighted: number;
  /** Totals since the start, for stats and tests. */
  busyMs = 0;
  changes = 0;
  /** Decisions due at about the same moment, not yet closed: when they were due, how many are done, the last when. */
  private readonly groups: Array<{ dueAt: number; n: number; lastDone: number; busyAtFirst: number; busyAtLast: number }> = [];
  /** The smoothed latency in seconds (see the top of this file); undefined until a group has closed. */
  private latency: number | undefined;

  constructor(
    private readonly tauS: number,
    startPerS = START_CHANGES_PER_S,
    private readonly now: () => number = Date.now,
  ) {
    if (!(tauS > 0) || !(startPerS > 0)) throw new Error(`ChangeRate: tauS and startPerS must be positive (got ${tauS}, ${startPerS})`);
    this.at = now();
    this.weighted = startPerS * tauS;
  }

  /** Changes per second of busy time, smoothed. */
  get perSecond(): number {
    this.advance();
    return this.weighted / this.tauS;
  }

  /** A decision write leaves the writer's queue for the API server. */
  begin(): void {
    this.advance();
    this.inFlight++;
  }

  /** A decision write came back (done or failed). */
  end(): void {
    this.advance();
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  /** Runs a decision write (`fn`), its time in flight counted as busy. */
  async measure<T>(fn: () => Promise<T>): Promise<T> {
    this.begin();
    try {
      return await fn();
    } finally {
      this.end();
    }
  }

  /** One change completed (an admission's Job patch or a stop's suspend); `dueAt`: when it was due (ms). */
  changed(dueAt?: number): void {
    this.advance();
    this.weighted += 1;
    this.changes++;
    if (dueAt === undefined) return;
    const t = this.now();
    this.closeQuiet(t);
    let g = this.groups.find((x) => Math.abs(x.dueAt - dueAt) <= GROUP_MS);
    if (!g) this.groups.push((g = { dueAt, n: 0, lastDone: t, busyAtFirst: this.busyMs, busyAtLast: this.busyMs }));
    g.dueAt = Math.min(g.dueAt, dueAt);
    g.n++;
    g.lastDone = Math.max(g.lastDone, t);
    g.busyAtLast = this.busyMs;
  }

  /** Seconds of a group's span (due time to last change) with no decision write in flight, smoothed; 0 before any. */
  get latencyS(): number {
    this.closeQuiet(this.now());
    return this.latency ?? 0;
  }

  /**
   * Closes the groups with no change for a window (`tauS`): a round's decisions are done by then, or the budget was
   * too large and the next one is smaller anyway. Each closed group is one latency sample, weighted a half.
   */
  private closeQuiet(t: number): void {
    for (let i = this.groups.length - 1; i >= 0; i--) {
      const g = this.groups[i]!;
      if (t - g.lastDone < this.tauS * 1000) continue;
      this.groups.splice(i, 1);
      const sample = Math.max(0, (g.lastDone - g.dueAt - (g.busyAtLast - g.busyAtFirst)) / 1000);
      this.latency = this.latency === undefined ? sample : (this.latency + sample) / 2;
    }
  }

  /** Decays the weighted count by the busy time since the last event (idle time leaves it as it is). */
  private advance(): void {
    const t = this.now();
    if (this.inFlight > 0 && t > this.at) {
      this.busyMs += t - this.at;
      this.weighted *= Math.exp(-(t - this.at) / 1000 / this.tauS);
    }
    this.at = t;
  }
}

/** What the driver reports of the automatic budget (stats, /metrics, logs). */
export interface ChangeBudgetView {
  readonly budget: number;
  readonly changesPerS: number;
  /** The measured latency before a round's changes flow (seconds). */
  readonly latencyS: number;
  readonly windowS: number;
}

/**
 * The automatic budget: floor(rate x (TARGET_SHARE x window - latency)), at least MIN_CHANGE_BUDGET. Made before the server (which reads
 * `maxChanges` at each plan) and fed by the Kubernetes driver's writer (`rate`).
 */
export class AutoChangeBudget {
  readonly rate: ChangeRate;
  readonly windowS: number;

  constructor(
    windowS: number,
    startPerS = START_CHANGES_PER_S,
    private readonly now: () => number = Date.now,
  ) {
    this.windowS = windowS;
    this.rate = new ChangeRate(windowS, startPerS, now);
  }

  /** The budget for a plan made now. */
  current(): number {
    return Math.max(MIN_CHANGE_BUDGET, Math.floor(this.rate.perSecond * Math.max(0, TARGET_SHARE * this.windowS - this.rate.latencyS)));
  }

  /** For `ServeOptions.maxChanges`: read at each plan. */
  readonly maxChanges = (): number => this.current();

  view(): ChangeBudgetView {
    return { budget: this.current(), changesPerS: this.rate.perSecond, latencyS: this.rate.latencyS, windowS: this.windowS };
  }

  private reported: number | undefined;
  private reportedAt = -Infinity;

  /** A log line when the budget differs from the one last reported, at most once every `everyMs` (once a round). */
  report(everyMs: number): string | undefined {
    const now = this.now();
    if (now - this.reportedAt < everyMs) return undefined;
    const v = this.view();
    if (v.budget === this.reported) return undefined;
    const was = this.reported;
    this.reported = v.budget;
    this.reportedAt = now;
    return `change budget ${v.budget}${was === undefined ? '' : ` (was ${was})`}: ${v.changesPerS.toFixed(1)} changes/s measured x (${TARGET_SHARE} x ${v.windowS} s window - ${v.latencyS.toFixed(2)} s latency) (${this.rate.changes} changes in ${(this.rate.busyMs / 1000).toFixed(1)} s of writes so far)`;
  }

  /** The gauges /metrics shows (Scheduler.gauges). */
  gauges(): Array<{ name: string; help: string; value: number }> {
    const v = this.view();
    return [
      { name: 'rondo_kube_changes_per_second', help: 'Admissions and stops per second the Kubernetes API server completed while decision writes were in flight (smoothed; the automatic change budget follows it).', value: v.changesPerS },
      { name: 'rondo_kube_change_window_seconds', help: 'Time a round\'s admissions and stops should take to reach the API server (--change-window).', value: v.windowS },
      { name: 'rondo_kube_change_latency_seconds', help: 'Time from a round\'s start to its last admission or stop that the change rate does not explain (smoothed).', value: v.latencyS },
      { name: 'rondo_kube_change_budget', help: `Automatic change budget a plan made now would get: floor(changes/s x (${TARGET_SHARE} x window - latency)), at least ${MIN_CHANGE_BUDGET}.`, value: v.budget },
    ];
  }
}

/**
 * The budget of `rondo serve --kube` (and `npm run bench:kube`, which runs the same server and driver) for a
 * `--max-changes` setting: what the server plans with (`ServeOptions.maxChanges`) and, for `auto`, the budget the
 * driver must feed (`KubeOptions.changeBudget`). Made before the server starts, so its first plan already has it.
 */
export function kubeChangeBudget(setting: MaxChangesSetting, windowS: number): { maxChanges: MaxChanges | undefined; auto: AutoChangeBudget | undefined } {
  if (setting === 'none') return { maxChanges: undefined, auto: undefined };
  if (setting !== 'auto') return { maxChanges: setting, auto: undefined };
  const auto = new AutoChangeBudget(windowS);
  return { maxChanges: auto.maxChanges, auto };
}
