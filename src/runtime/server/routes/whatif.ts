import type { FastifyInstance } from 'fastify';
import { iso, USER, visibleActiveIds, type RouteDeps } from '../http.js';
import * as S from '../schemas.js';
import { whatIf, type HypotheticalJob } from '../whatif.js';

/** What-if: estimated starts and finishes from the live state, simulated forward. */
export async function whatIfRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { store, scheduler } = deps;
  app.post(
    '/api/v1/whatif',
    { schema: { body: S.whatIfBody }, config: { auth: USER, summary: 'Estimated start and finish times from the live state (simulated forward), optionally with one more job' } },
    async (req) => {
      const b = req.body as Partial<HypotheticalJob> & { scaleFactor?: number };
      const hypothetical = Object.keys(b).length > 0 ? { ...b, scaleFactor: b.scaleFactor ?? 1 } : undefined;
      const r = await whatIf(store, scheduler, hypothetical);
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
