import type { FastifyInstance } from 'fastify';
import { ApiError } from '../api-error.js';
import { iso, USER, visibleActiveIds, type RouteDeps } from '../http.js';
import * as S from '../schemas.js';
import { whatIf, type HypotheticalJob } from '../whatif.js';

/**
 * What-if: estimated starts and finishes from the live state, simulated forward. The simulation is CPU work on the
 * server's thread, so it is bounded: a few at once (more answer 429 with Retry-After), a job count above which it
 * declines, and a time budget after which the estimate comes back truncated.
 */
export async function whatIfRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { store, scheduler, limits } = deps;
  let running = 0;
  app.post(
    '/api/v1/whatif',
    { schema: { body: S.whatIfBody }, config: { auth: USER, summary: 'Estimated start and finish times from the live state (simulated forward), optionally with one more job' } },
    async (req, reply) => {
      const b = req.body as Partial<HypotheticalJob> & { scaleFactor?: number };
      const hypothetical = Object.keys(b).length > 0 ? { ...b, scaleFactor: b.scaleFactor ?? 1 } : undefined;
      if (running >= limits.whatIfConcurrency) {
        reply.header('retry-after', '2');
        throw new ApiError(429, 'E_BUSY', `${running} what-if simulations are running (at most ${limits.whatIfConcurrency} at once); retry in 2 s`);
      }
      const active = store.countSchedulable(Number.MAX_SAFE_INTEGER);
      if (active > limits.whatIfMaxJobs) {
        throw new ApiError(422, 'E_TOO_LARGE', `what-if simulates at most ${limits.whatIfMaxJobs} active jobs; the server has ${active}`);
      }
      running++;
      let r;
      try {
        r = await whatIf(store, scheduler, hypothetical, { budgetMs: limits.whatIfBudgetMs });
      } finally {
        running--;
      }
      const mine = visibleActiveIds(store, req);
      return {
        ...r,
        now: iso(r.now),
        jobs: r.jobs.filter((j) => !mine || mine.has(j.id)).map((j) => ({ ...j, estimatedStart: iso(j.estimatedStart), estimatedFinish: iso(j.estimatedFinish) })),
        ...(r.hypothetical ? { hypothetical: { ...r.hypothetical, estimatedStart: iso(r.hypothetical.estimatedStart), estimatedFinish: iso(r.hypothetical.estimatedFinish) } } : {}),
      };
    },
  );
}
