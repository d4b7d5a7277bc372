import type { Scheduler } from './scheduler.js';
import type { Store } from './store/index.js';
import { renderTenantMetrics } from './tenant-metrics.js';

/** Prometheus text exposition (format 0.0.4) of the runtime's state, computed from the store on each scrape. */
export function renderMetrics(store: Store, scheduler: Scheduler): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: Array<[Record<string, string>, number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) {
      const l = Object.entries(labels)
        .map(([k, x]) => `${k}="${x.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
        .join(',');
      lines.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(v) ? v : 0}`);
    }
  };
  const counts = store.countJobs();
  metric('rondo_jobs', 'gauge', 'Jobs by state.', Object.entries(counts).map(([s, n]) => [{ state: s }, n]));
  metric('rondo_queue_length', 'gauge', 'Jobs waiting for GPUs.', [[{}, counts.queued]]);
  metric('rondo_running_jobs', 'gauge', 'Jobs with a running process.', [[{}, counts.running]]);

  const workers = store.listWorkers();
  const alive = workers.filter((w) => w.state === 'alive' && scheduler.isAlive(w.id));
  metric('rondo_workers', 'gauge', 'Workers by liveness.', [
    [{ state: 'alive' }, alive.length],
    [{ state: 'gone' }, workers.length - alive.length],
  ]);
  const total: Record<string, number> = {};
  const busy: Record<string, number> = {};
  const aliveIds = new Set(alive.map((w) => w.id));
  for (const w of alive) for (const g of w.gpus) total[g.type] = (total[g.type] ?? 0) + g.count;
  for (const a of store.openAttempts()) {
    if (a.state === 'running' && aliveIds.has(a.workerId)) busy[a.gpuType] = (busy[a.gpuType] ?? 0) + a.gpus.length;
  }
  const types = Object.keys(total).sort();
  metric('rondo_gpus', 'gauge', 'GPUs on live workers, by type.', types.map((t) => [{ type: t }, total[t]!]));
  metric('rondo_gpus_busy', 'gauge', 'GPUs held by a running job, by type.', types.map((t) => [{ type: t }, busy[t] ?? 0]));
  metric('rondo_gpu_utilization', 'gauge', 'Busy fraction of GPUs, by type.', types.map((t) => [{ type: t }, (busy[t] ?? 0) / total[t]!]));

  const s = scheduler.stats;
  metric('rondo_round_duration_seconds', 'gauge', 'Configured round length.', [[{}, scheduler.timing.roundMs / 1000]]);
  metric('rondo_round_interval_seconds', 'gauge', 'Time between the starts of the last two rounds.', [[{}, s.lastRoundGapMs / 1000]]);
  metric('rondo_round_plan_seconds', 'gauge', 'Time to plan the last round (policy, mechanism, store).', [[{}, s.lastPlanMs / 1000]]);
  metric('rondo_rounds_total', 'counter', 'Rounds planned by this server process.', [[{}, s.rounds]]);
  metric('rondo_current_round', 'gauge', 'Number of the last planned round.', [[{}, s.lastRound]]);
  metric('rondo_solver_last_seconds', 'gauge', 'Time of the last policy (allocation) computation.', [[{}, s.lastSolverMs / 1000]]);
  metric('rondo_jobs_quarantined_total', 'counter', 'Jobs this server process failed because the policy failed with them.', [[{}, s.quarantined]]);
  metric(
    'rondo_quarantined_job',
    'gauge',
    'The last jobs quarantined by this server process (1 each; the job failed, the policy failed with it).',
    s.quarantinedJobs.map((q) => [{ job: q.jobId, tenant: q.tenant }, 1]),
  );
  if (s.changeBudget !== null) metric('rondo_change_budget', 'gauge', 'Change budget the last plan was made with: the most jobs whose placement a round may change (--max-changes).', [[{}, s.changeBudget]]);
  for (const source of scheduler.gauges) for (const g of source()) metric(g.name, 'gauge', g.help, [[{}, g.value]]);
  lines.push(
    '# HELP rondo_solver_seconds Policy (allocation) computation time.',
    '# TYPE rondo_solver_seconds summary',
    `rondo_solver_seconds_sum ${s.solverMsSum / 1000}`,
    `rondo_solver_seconds_count ${s.solverCount}`,
  );
  renderTenantMetrics(scheduler.loadedPolicy.tenants, metric, alive.length > 0 && store.hasActiveJobs());
  return lines.join('\n') + '\n';
}
