/**
 * `rondo serve --kube`'s automatic change budget (docs/kubernetes.md, "Scale"): a round's decisions (admissions and
 * stops) should reach the API server within a change window, by default a tenth of the round (a restart on Kubernetes
 * costs tens of seconds, so a round should spend only a small share of itself on its own churn). The driver measures
 * how fast the API server lets it complete decisions, and each plan may change at most rate x window jobs.
 *
 * The rate is changes per second of busy time: a change is an admission whose Job patch is done or a stop whose
 * suspend is done (the admission's Secret and `/status` writes, and the re-reads after a 409, are part of its cost);
 * busy time is time during which at least one decision write is in flight, so idle stretches between rounds do not
 * dilute it. It is smoothed exponentially over busy time with a time constant of one change window (the last
 * window's worth of writes weighs about as much as everything before), which makes it an average over recent
 * rounds, unmoved by a single quick write or by quiet periods with no writes at all.
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

/** The measured rate of decision writes (see the top of this file). */
export class ChangeRate {
  private inFlight = 0;
  private at: number;
  /** Changes, exponentially weighted by busy time (time constant tauS): the rate is this over tauS. */
  private weighted: number;
  /** Totals since the start, for stats and tests. */
  busyMs = 0;
  changes = 0;

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

  /** One change completed (an admission's Job patch or a stop's suspend). */
  changed(): void {
    this.advance();
    this.weighted += 1;
    this.changes++;
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
  readonly windowS: number;
}

/**
 * The automatic budget: floor(rate x window), at least MIN_CHANGE_BUDGET. Made before the server (which reads
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
    return Math.max(MIN_CHANGE_BUDGET, Math.floor(this.rate.perSecond * this.windowS));
  }

  /** For `ServeOptions.maxChanges`: read at each plan. */
  readonly maxChanges = (): number => this.current();

  view(): ChangeBudgetView {
    return { budget: this.current(), changesPerS: this.rate.perSecond, windowS: this.windowS };
  }

  private reported: number | undefined;
  private reportedAt = -Infinity;

  /** A log line when the budget differs from the one last reported, at most once every `everyMs` (once a round). */
  report(everyMs: number): string | undefined {
    const v = this.view();
    const now = this.now();
    if (v.budget === this.reported || now - this.reportedAt < everyMs) return undefined;
    const was = this.reported;
    this.reported = v.budget;
    this.reportedAt = now;
    return `change budget ${v.budget}${was === undefined ? '' : ` (was ${was})`}: ${v.changesPerS.toFixed(1)} changes/s measured x ${v.windowS} s window (${this.rate.changes} changes in ${(this.rate.busyMs / 1000).toFixed(1)} s of writes so far)`;
  }

  /** The gauges /metrics shows (Scheduler.gauges). */
  gauges(): Array<{ name: string; help: string; value: number }> {
    const v = this.view();
    return [
      { name: 'rondo_kube_changes_per_second', help: 'Admissions and stops per second the Kubernetes API server completed while decision writes were in flight (smoothed; the automatic change budget follows it).', value: v.changesPerS },
      { name: 'rondo_kube_change_window_seconds', help: 'Time a round\'s admissions and stops should take to reach the API server (--change-window).', value: v.windowS },
      { name: 'rondo_kube_change_budget', help: `Automatic change budget a plan made now would get: floor(changes/s x window), at least ${MIN_CHANGE_BUDGET}.`, value: v.budget },
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
