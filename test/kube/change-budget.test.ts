/** The automatic change budget's rate estimator (src/kube/change-budget.ts) and its flags, on a hand-driven clock. */
import { describe, expect, it } from 'vitest';
import { AutoChangeBudget, ChangeRate, kubeChangeBudget, MIN_CHANGE_BUDGET, START_CHANGES_PER_S, TARGET_SHARE } from '../../src/kube/change-budget.js';
import { parseChangeWindow, parseMaxChanges } from '../../src/kube/config.js';

/** A clock the test moves by hand. */
function clock(): { now: () => number; tick: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, tick: (ms) => (t += ms) };
}

/** `n` changes spread evenly over `ms` of busy time, one write in flight at a time. */
function burst(r: ChangeRate, c: ReturnType<typeof clock>, n: number, ms: number): void {
  for (let i = 0; i < n; i++) {
    r.begin();
    c.tick(ms / n);
    r.changed();
    r.end();
  }
}

describe('ChangeRate', () => {
  it('starts at the documented start rate', () => {
    const c = clock();
    expect(new ChangeRate(2, undefined, c.now).perSecond).toBe(START_CHANGES_PER_S);
  });

  it('counts only busy time: idle stretches between writes neither lower nor raise the rate', () => {
    const c = clock();
    const r = new ChangeRate(2, 10, c.now);
    burst(r, c, 100, 1000); // 100 changes/s while busy
    const busyRate = r.perSecond;
    c.tick(60_000); // a minute with nothing in flight
    expect(r.perSecond).toBe(busyRate);
    expect(r.busyMs).toBe(1000);
    expect(r.changes).toBe(100);
    // Overlapping writes are one stretch of busy time, not the sum of their durations.
    r.begin();
    r.begin();
    c.tick(500);
    r.end();
    r.end();
    expect(r.busyMs).toBe(1500);
  });

  it('moves from the start rate toward the measured one as an exponential average over busy time', () => {
    const c = clock();
    const tau = 2;
    const r = new ChangeRate(tau, 10, c.now);
    burst(r, c, 200, 2000); // one time constant at 100 changes/s
    // Continuous EWMA: 100 + (10 - 100) e^-1, within the discretisation of 200 steps.
    expect(r.perSecond).toBeGreaterThan(100 - 90 * Math.exp(-1) - 1.5);
    expect(r.perSecond).toBeLessThan(100 - 90 * Math.exp(-1) + 1.5);
    burst(r, c, 1000, 10_000); // five more: the start rate is forgotten
    expect(r.perSecond).toBeGreaterThan(99);
    expect(r.perSecond).toBeLessThan(101);
    // A slower API server pulls it down again.
    burst(r, c, 200, 10_000);
    expect(r.perSecond).toBeLessThan(22);
    expect(r.perSecond).toBeGreaterThan(20);
  });

  it('is moved little by one quick write (a small sample weighs its busy time)', () => {
    const c = clock();
    const r = new ChangeRate(2, 10, c.now);
    burst(r, c, 1, 2); // one change in 2 ms: "500/s"
    expect(r.perSecond).toBeLessThan(10.6);
  });
});

describe('AutoChangeBudget', () => {
  it('is floor(rate x share of the window), at least the floor, before any latency is measured', () => {
    const c = clock();
    const b = new AutoChangeBudget(2, 12, c.now);
    expect(b.current()).toBe(Math.floor(12 * TARGET_SHARE * 2));
    burst(b.rate, c, 1000, 10_000); // 100/s for five windows
    const rate = b.rate.perSecond;
    expect(b.current()).toBe(Math.floor(rate * TARGET_SHARE * 2));
    expect(b.current()).toBeGreaterThanOrEqual(Math.floor(99 * TARGET_SHARE * 2));
    // A very slow API server: the floor keeps the rotation going.
    const slow = new AutoChangeBudget(0.5, 1, c.now);
    expect(slow.current()).toBe(MIN_CHANGE_BUDGET);
    expect(slow.maxChanges()).toBe(MIN_CHANGE_BUDGET);
    expect(b.gauges().map((g) => g.name)).toEqual(['rondo_kube_changes_per_second', 'rondo_kube_change_window_seconds', 'rondo_kube_change_latency_seconds', 'rondo_kube_change_budget']);
  });

  it('logs a changed budget at most once a round', () => {
    const c = clock();
    const b = new AutoChangeBudget(2, 12, c.now);
    const first = Math.floor(12 * TARGET_SHARE * 2);
    expect(b.report(0)).toMatch(new RegExp(`^change budget ${first}: 12\\.0 changes/s measured x \\(${TARGET_SHARE} x 2 s window - 0\\.00 s latency\\)`));
    expect(b.report(0)).toBeUndefined(); // unchanged
    burst(b.rate, c, 1000, 10_000);
    expect(b.report(3_600_000)).toBeUndefined(); // changed, but reported less than a round ago
    expect(b.report(0)).toMatch(new RegExp(`^change budget \\d+ \\(was ${first}\\)`));
  });
});

describe('AutoChangeBudget on a modelled API server', () => {
  /**
   * Rounds of `budget` changes each, due at the round's start: nothing done for `latencyMs` (the pass, pods going
   * away), then one change every 1/rate s with writes in flight. Returns each round's time to its last change.
   */
  function rounds(b: AutoChangeBudget, c: ReturnType<typeof clock>, n: number, latencyMs: number, perS: number, roundMs: number): number[] {
    const spans: number[] = [];
    for (let i = 0; i < n; i++) {
      const due = c.now();
      const changes = b.current();
      c.tick(latencyMs);
      b.rate.begin();
      for (let k = 0; k < changes; k++) {
        c.tick(1000 / perS);
        b.rate.changed(due);
      }
      b.rate.end();
      spans.push(c.now() - due);
      c.tick(roundMs - (c.now() - due));
    }
    return spans;
  }

  it('sizes the budget so that a round with a fixed latency lands within the share of its window it aims at', () => {
    const c = clock();
    const b = new AutoChangeBudget(2, 12, c.now);
    // 300 changes/s after 600 ms of latency, 20 s rounds: the budget should settle near 300 x (1.4 - 0.6) = 240.
    const spans = rounds(b, c, 20, 600, 300, 20_000);
    const last = spans.slice(-4);
    for (const s of last) expect(s).toBeLessThanOrEqual(TARGET_SHARE * 2000 * 1.05);
    // Not needlessly small either: the rounds use most of what they aim at.
    for (const s of last) expect(s).toBeGreaterThan(TARGET_SHARE * 2000 * 0.8);
    expect(b.view().latencyS).toBeGreaterThan(0.5);
    expect(b.view().latencyS).toBeLessThan(0.7);
    // Without the latency term (budget = rate x share x window) every such round would take 600 ms longer than aimed.
    expect(b.rate.perSecond * TARGET_SHARE * 2).toBeGreaterThan(b.current() + 100);
  });

  it('a latency longer than the share of the window leaves the floor', () => {
    const c = clock();
    const b = new AutoChangeBudget(2, 12, c.now);
    rounds(b, c, 6, 1800, 300, 20_000);
    expect(b.current()).toBe(MIN_CHANGE_BUDGET);
  });
});

describe('--max-changes and --change-window with --kube', () => {
  it('auto is the default with --kube; none turns the budget off; N fixes it', () => {
    expect(parseMaxChanges(undefined, true)).toBe('auto');
    const auto = kubeChangeBudget('auto', 2);
    expect(auto.auto?.windowS).toBe(2);
    expect(typeof auto.maxChanges).toBe('function');
    expect((auto.maxChanges as () => number)()).toBe(Math.floor(12 * TARGET_SHARE * 2));
    expect(kubeChangeBudget('none', 2)).toEqual({ maxChanges: undefined, auto: undefined });
    expect(kubeChangeBudget(300, 2)).toEqual({ maxChanges: 300, auto: undefined });
  });

  it('takes the window in seconds, a tenth of the round by default, and refuses bad ones naming the flag', () => {
    expect(parseChangeWindow(undefined, 20, 'auto')).toBe(2);
    expect(parseChangeWindow(undefined, 360, 'auto')).toBe(36);
    expect(parseChangeWindow('5', 20, 'auto')).toBe(5);
    for (const bad of ['0', '-1', '20', '25', 'x', '']) expect(() => parseChangeWindow(bad, 20, 'auto'), bad).toThrow(/bad --change-window.*less than the round \(20 s\)/);
    expect(() => parseChangeWindow('5', 20, 300)).toThrow(/--change-window applies only to the automatic change budget/);
    expect(() => parseChangeWindow('5', 20, 'none')).toThrow(/--change-window applies only/);
  });
});
