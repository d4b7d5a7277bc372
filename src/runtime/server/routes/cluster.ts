import type { FastifyInstance } from 'fastify';
import type { ClusterView } from '../../dashboard-api.js';
import { iso, USER, visibleActiveIds, type RouteDeps } from '../http.js';
import * as S from '../schemas.js';

/** The cluster (workers, GPUs, job counts) and the current round's plan. */
export async function clusterRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { store, scheduler } = deps;

  app.get('/api/v1/cluster', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'Workers, GPUs and job counts' } }, async (req): Promise<ClusterView> => {
    const open = store.openAttempts();
    const own = visibleActiveIds(store, req);
    const mine = (id: string): boolean => !own || own.has(id);
    const workers = store.listWorkers().map((w): ClusterView['workers'][number] => ({
      id: w.id,
      name: w.name,
      gpus: w.gpus,
      state: w.state === 'alive' && scheduler.isAlive(w.id) ? 'alive' : 'gone',
      // Set when the same worker (machine and name) registered again: this registration is retired, its GPUs counted there.
      replacedBy: w.replacedBy,
      running: open
        .filter((a) => a.workerId === w.id && a.state === 'running')
        // A tenant sees that another tenant's job holds GPUs, not which job.
        .map((a) => ({ attempt: a.id, jobId: mine(a.jobId) ? a.jobId : null, gpuType: a.gpuType, devices: a.gpus })),
    }));
    const gpus: Record<string, { total: number; busy: number }> = {};
    for (const w of workers) {
      if (w.state !== 'alive') continue;
      for (const g of w.gpus) (gpus[g.type] ??= { total: 0, busy: 0 }).total += g.count;
      for (const r of w.running) (gpus[r.gpuType] ??= { total: 0, busy: 0 }).busy += r.devices.length;
    }
    return { policy: scheduler.policyName, roundMs: scheduler.timing.roundMs, workers, gpus, jobs: store.countJobs() };
  });

  // The admin's view of a round (a share per active job: large) is serialised once per round, not once per poll.
  let planCache: { row: unknown; body: string } | undefined;
  app.get('/api/v1/plan', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'Current allocation and round plan' } }, async (req, reply) => {
    const r = store.lastRound();
    if (!r) return { round: 0, assignments: [], allocation: { gpuTypes: [], shares: {} } };
    const mine = visibleActiveIds(store, req);
    if (!mine && planCache?.row === r) return reply.type('application/json; charset=utf-8').send(planCache.body);
    const alloc = r.allocation as { gpuTypes: string[]; shares: Record<string, number[]> };
    let assignments = (r.plan as { assignments: Array<{ jobId: string }> }).assignments;
    let shares = alloc.shares;
    if (mine) {
      // A tenant sees the plan for its own jobs only.
      assignments = assignments.filter((a) => mine.has(a.jobId));
      shares = Object.fromEntries(Object.entries(shares).filter(([k]) => mine.has(k)));
    }
    const view = {
      round: r.round,
      start: iso(r.start),
      end: iso(r.start + r.duration),
      policy: r.policy,
      solverMs: r.solverMs,
      allocation: { gpuTypes: alloc.gpuTypes, shares },
      assignments,
    };
    if (mine) return view;
    planCache = { row: r, body: JSON.stringify(view) };
    return reply.type('application/json; charset=utf-8').send(planCache.body);
  });
}
