/**
 * API clients for the driver that reuse their connections. `KubeConfig.makeApiClient` gives every request a new
 * agent, so each write opens a new connection (and on a real cluster a new TLS handshake): at thousands of writes a
 * round that is most of the driver's and the API server's CPU. Here one keep-alive agent per client (made from the
 * first request's agent options: the cluster's CA, client certificate and TLS settings) carries every request;
 * authentication headers are still applied to each request by the KubeConfig.
 */
import http from 'node:http';
import https from 'node:https';
import { createConfiguration, ServerConfiguration, type KubeConfig, type Middleware } from '@kubernetes/client-node';

/** Sockets one client keeps open to the API server (the writer has at most 36 requests in flight). */
const MAX_SOCKETS = 48;

export function keepAliveClient<T>(kc: KubeConfig, api: new (config: ReturnType<typeof createConfiguration>) => T): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('No active cluster in the kubeconfig: set its current-context (or run in a pod with a service account)');
  let shared: http.Agent | undefined;
  const reuse: Middleware = {
    pre: async (ctx) => {
      const fresh = ctx.getAgent();
      // A proxy agent (a kubeconfig proxy-url) is left as it is: its connections are the proxy's business.
      if (fresh && (fresh.constructor === https.Agent || fresh.constructor === http.Agent)) {
        shared ??= fresh instanceof https.Agent ? new https.Agent({ ...fresh.options, keepAlive: true, maxSockets: MAX_SOCKETS }) : new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
        ctx.setAgent(shared);
        fresh.destroy();
      }
      return ctx;
    },
    post: async (res) => res,
  };
  return new api(createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: kc }, promiseMiddleware: [reuse] }));
}
