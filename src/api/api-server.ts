import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { ServiceDeps } from '../services/service-deps.js';
import { createApiMetrics } from '../metrics/api-metrics.js';
import type { Logger } from '../shared/logger.js';
import { temporalConnectionOptions } from '../temporal/connection-options.js';
import { createApp } from './app.js';

type ApiServerConfig = Config & { temporal: Config['temporal'] & { address: string } };

/**
 * Serves the API on config.host:config.port; resolves once it listens. The
 * Temporal connection is lazy: the API comes up (and says so on `/ready`)
 * while Temporal is still unreachable, and the channel keeps reconnecting.
 */
export async function startApiServer(config: ApiServerConfig, pool: Pool, log: Logger, startup?: ServiceDeps['startup']) {
  const connection = Connection.lazy({
    ...(await temporalConnectionOptions(config.temporal)),
    // gRPC backs off up to 2 minutes between reconnects by default; come back within seconds of Temporal.
    channelArgs: { 'grpc.initial_reconnect_backoff_ms': 500, 'grpc.max_reconnect_backoff_ms': 5_000 },
  });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const app = createApp({ pool, temporal, config, log, startup, metrics: createApiMetrics({ pool, log }) });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return {
    port,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connection.close();
    },
  };
}
