import type { FastifyInstance } from 'fastify';
import type { ClusterView } from '../../dashboard-api.js';
import { iso, USER, visibleActiveIds, type RouteDeps } from '../http.js';
import * as S from '../schemas.js';
import type { RoundText } from '../store/rounds.js';

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

  // The admin's view of a round (a share per active job: large) is built once per round, not once per poll, and from
  // the stored text: parsing and re-encoding a 10,000-job allocation held the event loop for tens of ms.
  let planCache: { key: string; body: string } | undefined;
  app.get('/api/v1/plan', { schema: { querystring: S.emptyQuery }, config: { auth: USER, summary: 'Current allocation and round plan' } }, async (req, reply) => {
    const key = store.lastRoundKey();
    if (key === undefined) return { round: 0, assignments: [], allocation: { gpuTypes: [], shares: {} } };
    const mine = visibleActiveIds(store, req);
    if (!mine) {
      if (planCache?.key !== key) planCache = { key, body: adminPlanBody(store.lastRoundText()!) };
      return reply.type('application/json; charset=utf-8').send(planCache.body);
    }
    const r = store.lastRound()!;
    const alloc = r.allocation as { gpuTypes: string[]; shares: Record<string, number[]> };
    let assignments = (r.plan as { assignments: Array<{ jobId: string }> }).assignments;
    let shares = alloc.shares;
    // A tenant sees the plan for its own jobs only.
    assignments = assignments.filter((a) => mine.has(a.jobId));
    shares = Object.fromEntries(Object.entries(shares).filter(([k]) => mine.has(k)));
    return planView(r, { gpuTypes: alloc.gpuTypes, shares }, assignments);
  });
}

function planView(r: { round: number; start: number; duration: number; policy: string; solverMs: number }, allocation: unknown, assignments: unknown): object {
  return { round: r.round, start: iso(r.start), end: iso(r.start + r.duration), policy: r.policy, solverMs: r.solverMs, allocation, assignments };
}

/**
 * The admin's plan as JSON: the stored allocation spliced in as it is (the executor stores it as
 * `{"gpuTypes":[...],"shares":{...}}`, the view's own shape); any other stored form is parsed and re-encoded.
 */
function adminPlanBody(t: RoundText): string {
  const assignments = (JSON.parse(t.planJson) as { assignments: unknown[] }).assignments;
  if (!/^\{"gpuTypes":\[[^\]]*\],"shares":\{/.test(t.allocationJson)) {
    const alloc = JSON.parse(t.allocationJson) as { gpuTypes: string[]; shares: Record<string, number[]> };
    return JSON.stringify(planView(t, { gpuTypes: alloc.gpuTypes, shares: alloc.shares }, assignments));
  }
  const head = JSON.stringify(planView(t, null, null)).slice(0, -',"allocation":null,"assignments":null}'.length);
  return `${head},"allocation":${t.allocationJson},"assignments":${JSON.stringify(assignments)}}`;
}
