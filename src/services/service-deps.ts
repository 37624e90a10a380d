import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import type { Logger } from '../shared/logger.js';

/** What the API's service functions need; wired once by the API entry point. */
export interface ServiceDeps {
  pool: Pool;
  temporal: Client;
  config: Config;
  log: Logger;
  /** Set by an entry point that serves before its migrations are applied (start-up with Postgres down). */
  startup?: { schemaReady(): boolean };
  /** The API's Prometheus metrics: with them the app counts every request and serves `GET /metrics`. */
  metrics?: ApiMetrics;
}
