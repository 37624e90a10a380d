import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import { metricsRoutes } from '../api/routes/metrics-routes.js';
import { createWorkerMetrics, type WorkerMetrics } from '../metrics/worker-metrics.js';

/**
 * Serves a worker's `GET /metrics` on its own port; every other path is a
 * 404. Resolves once it listens, with the port it got (0 picks a free one).
 */
export async function startWorkerMetricsServer(opts: { registry: Registry; host: string; port: number; token?: string | undefined }) {
  const app = new Hono().route('/', metricsRoutes(opts));
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : opts.port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A worker's metrics and their server, when METRICS_PORT is set; undefined
 * (no metrics are recorded) when it is not. For the worker entry points.
 */
export async function startWorkerMetrics(opts: { host: string; port: number | undefined; token: string | undefined }): Promise<
  (Awaited<ReturnType<typeof startWorkerMetricsServer>> & { metrics: WorkerMetrics }) | undefined
> {
  if (opts.port === undefined) return undefined;
  const metrics = createWorkerMetrics();
  const server = await startWorkerMetricsServer({ registry: metrics.registry, host: opts.host, port: opts.port, token: opts.token });
  return { ...server, metrics };
}
