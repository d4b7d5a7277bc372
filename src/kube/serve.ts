/**
 * `rondo serve --kube`: starts the Kubernetes driver beside a running server. The driver gets an admin token of its
 * own (the previous start's is revoked) and keeps its node-worker tokens in `<db>.kube-workers.json` (mode 0600),
 * so a restarted server and driver go on with the same workers and open attempts.
 */
import type { RunningServer } from '../runtime/serve.js';
import { KubeController } from './controller.js';
import type { KubeOptions } from './config.js';

const LABEL = 'kubernetes driver';

export interface RunningKube {
  readonly controller: KubeController;
  close(): Promise<void>;
}

export async function startKube(srv: RunningServer, opts: KubeOptions, log?: (m: string) => void): Promise<RunningKube> {
  for (const t of srv.store.listTokens()) if (t.kind === 'admin' && t.label === LABEL && !t.revoked) srv.store.revokeToken(t.id);
  const adminToken = srv.store.createToken('admin', { label: LABEL }).token;
  const controller = new KubeController({
    ...opts,
    // Without a URL for jobs, the server's own (right when jobs run where it listens, as in tests).
    jobServerUrl: opts.jobServerUrl ?? srv.url,
    serverUrl: srv.url,
    adminToken,
    stateFile: `${srv.store.path}.kube-workers.json`,
    heartbeatMs: srv.scheduler.timing.heartbeatMs,
    roundMs: srv.scheduler.timing.roundMs,
    // In the same process: the planner's why record gives each preemption its reason without a request.
    explain: (jobId) => srv.scheduler.why.of(jobId).preemption,
    ...(log ? { log } : {}),
  });
  // The automatic change budget (change-budget.ts) in /metrics beside the budget the scheduler last planned with.
  const budget = opts.changeBudget;
  const gauges = budget ? (): ReturnType<typeof budget.gauges> => budget.gauges() : undefined;
  await controller.start();
  if (gauges) srv.scheduler.gauges.push(gauges);
  return {
    controller,
    async close() {
      await controller.stop();
      if (gauges) srv.scheduler.gauges.splice(srv.scheduler.gauges.indexOf(gauges), 1);
    },
  };
}
