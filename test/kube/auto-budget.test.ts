/**
 * `rondo serve --kube`'s automatic change budget end to end (src/kube/change-budget.ts): with more queued Jobs than
 * GPUs and short rounds, every round's plan changes at most the budget the planner read for it, the driver measures
 * its admissions and stops against the fake API server, and the budget then follows that measured rate.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { renderMetrics } from '../../src/runtime/server/metrics.js';
import { MIN_CHANGE_BUDGET, START_CHANGES_PER_S, TARGET_SHARE } from '../../src/kube/change-budget.js';
import { startEnv, trainingJob, until, type Env } from './setup.js';
import { regularRounds } from '../../bench/kube/attribute.js';

const TPUT = { 'Tesla-V100-SXM2-16GB': { resnet: 10 } };
let env: Env | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

interface PlanRow {
  round: number;
  start: number;
  plannedAt: number;
  plan: string;
}

describe('serve --kube: the automatic change budget', () => {
  it('plans each round within the budget read for it, and the budget follows the measured write rate', async () => {
    const roundMs = 1500;
    const windowS = 1; // a window of 1 s: the start budget is 8 changes (12/s x 0.7 s, the floor), below the 24 GPUs' demand
    env = await startEnv({
      name: 'auto-budget',
      throughputs: TPUT,
      roundMs,
      budget: { changeWindow: String(windowS) }, // --max-changes left out: auto, the default with --kube
      // 80 long Jobs on 24 GPUs: max-min fairness rotates them, so rounds want many changes.
      jobs: Array.from({ length: 80 }, (_, i) => trainingJob(`a${i}`, { queue: i % 2 ? 'x' : 'y', steps: 1_000_000 })),
      nodes: (c) => {
        for (let n = 0; n < 6; n++) c.addNode(`v100-${n}`, 'Tesla-V100-SXM2-16GB', 4);
      },
    });
    const budget = env.budget!;
    expect(budget).toBeDefined();
    // Regular rounds: each starts at least a round after the one before; a backfill plan starts inside a round
    // (bench/kube/attribute.ts, regularRounds). Wait for seven.
    const rows = (): PlanRow[] => {
      const db = new Database(join(env!.dir, 'rondo.db'), { readonly: true });
      try {
        return db.prepare('SELECT round, start, planned_at AS plannedAt, plan FROM rounds ORDER BY round').all() as PlanRow[];
      } finally {
        db.close();
      }
    };
    const regular = (rs: PlanRow[]): PlanRow[] => {
      const set = regularRounds(rs, roundMs);
      return rs.filter((r) => set.has(r.round));
    };
    await until('seven regular rounds', () => regular(rows()).length >= 7, 120_000);
    const all = rows();
    const reg = regular(all).slice(0, 7);
    type Asg = { jobId: string; leaseExtended: boolean };
    const planOf = (r: PlanRow): Asg[] => (JSON.parse(r.plan) as { assignments: Asg[] }).assignments;
    const budgets: number[] = [];
    let running = new Set<string>();
    for (let i = 0; i < reg.length - 1; i++) {
      const r = reg[i]!;
      // The budget this plan was made with: the planner's last read before the plan was committed.
      const read = env.budgetReads.filter((b) => b.at <= r.plannedAt).at(-1);
      expect(read, `a budget read for round ${r.round}`).toBeDefined();
      const b = read!.budget!;
      budgets.push(b);
      const plan = planOf(r);
      const now = new Set(plan.map((a) => a.jobId));
      const admitted = plan.filter((a) => !a.leaseExtended).length;
      const stopped = [...running].filter((j) => !now.has(j)).length;
      const rowsSeen = all.map((x) => `${x.round}@${x.start - reg[0]!.start}:${planOf(x).length}`).join(' ');
      expect(admitted + stopped, `round ${r.round}: ${admitted} admitted + ${stopped} stopped, budget ${b} (rows: ${rowsSeen})`).toBeLessThanOrEqual(b);
      // What runs when the next regular round is planned: this plan and the backfill plans after it.
      running = new Set([...now, ...all.filter((x) => x.start > r.start && x.start < reg[i + 1]!.start).flatMap((x) => planOf(x).map((a) => a.jobId))]);
    }
    // Before any write the budget is the start rate over the window; the first round is cut to it (24 GPUs free).
    expect(budgets[0]).toBe(Math.max(MIN_CHANGE_BUDGET, Math.floor(START_CHANGES_PER_S * TARGET_SHARE * windowS)));
    expect(planOf(reg[0]!).length).toBe(budgets[0]);
    // The driver measured its admissions and stops (each one change: as many as the fake received)...
    expect(budget.rate.changes).toBeGreaterThan(24);
    expect(budget.rate.busyMs).toBeGreaterThan(0);
    expect(budget.rate.perSecond).not.toBe(START_CHANGES_PER_S);
    // ...and later plans were made with the budget that rate gives, not the start one.
    expect(new Set(budgets).size).toBeGreaterThan(1);
    const last = env.budgetReads.at(-1)!;
    expect(last.budget).toBeGreaterThanOrEqual(MIN_CHANGE_BUDGET);
    const view = budget.view();
    expect(view.budget).toBe(Math.max(MIN_CHANGE_BUDGET, Math.floor(view.changesPerS * Math.max(0, TARGET_SHARE * windowS - view.latencyS))));
    // Visible in /metrics: the budget the last plan used, and the driver's rate, window and budget.
    const metrics = renderMetrics(env.srv.store, env.srv.scheduler);
    expect(metrics).toMatch(/^rondo_change_budget \d+$/m);
    expect(metrics).toMatch(/^rondo_kube_changes_per_second \d+(\.\d+)?(e[-+]?\d+)?$/m);
    expect(metrics).toMatch(/^rondo_kube_change_window_seconds 1$/m);
    expect(metrics).toMatch(/^rondo_kube_change_budget \d+$/m);
    expect(env.kube.controller.stats.changeBudget?.windowS).toBe(windowS);
    // Every change the driver counted is an admission or a suspend the API server received.
    await env.kube.close();
    const suspendWrites = env.api.seen.filter((s) => s.method === 'PATCH' && s.suspend !== undefined && s.status < 300 && !s.path.endsWith('/status')).length;
    expect(budget.rate.changes).toBe(suspendWrites);
    env.kube = { controller: env.kube.controller, close: async () => {} };
  }, 180_000);
});
