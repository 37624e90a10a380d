import type { Dispatcher } from 'undici';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import type { Logger } from '../shared/logger.js';
import type { UpstreamClient } from '../upstream/upstream-client.js';
import type { UpstreamRouter } from '../upstream/upstream-router.js';

/** What activities need from the outside world; wired once by the worker entry point. */
export interface ActivityDeps {
  pool: Pool;
  /** The upstreams by model; a single client serves every model (tests, tools). */
  upstream: UpstreamRouter | UpstreamClient;
  /** HTTP dispatcher for webhook deliveries: refuses forbidden addresses at connect time. */
  webhookDispatcher: Dispatcher;
  config: Config;
  log: Logger;
  /** The worker's Prometheus metrics; absent (tests, tools), nothing is recorded. */
  metrics?: WorkerMetrics;
}
