/** What the scheduler measured of its rounds and plans (served by /metrics and the dashboard). */
export interface SchedulerStats {
  rounds: number;
  lastRound: number;
  lastPlanMs: number;
  /** CPU time of the last plan (it runs in one synchronous stretch): less dependent on a busy machine than `lastPlanMs`. */
  lastPlanCpuMs: number;
  lastSolverMs: number;
  /** Of the last plan: ms from its start until the plan was ready (cluster read, policy if recomputed, mechanism). */
  lastPlanReadyMs: number;
  /** Of the last plan: ms in the policy (0 when the plan kept the allocation). */
  lastPlanPolicyMs: number;
  /** Of the last plan: ms to commit it as leases (one store transaction). */
  lastCommitMs: number;
  /** Of the last plan: ms its "why" record held the event loop (src/runtime/server/why.ts); 0 for a backfill plan. */
  lastWhyMs: number;
  solverMsSum: number;
  solverCount: number;
  lastRoundGapMs: number;
  lastPlanAt: number;
  /** Jobs quarantined by this process (the policy failed with them), and the last 20 of them. */
  quarantined: number;
  quarantinedJobs: ReadonlyArray<{ readonly jobId: string; readonly tenant: string }>;
  /** The change budget the last plan was made with (null: none; `--max-changes`, src/kube/change-budget.ts). */
  changeBudget: number | null;
}
