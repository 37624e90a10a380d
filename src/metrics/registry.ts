import { collectDefaultMetrics, Registry } from 'prom-client';

/** Every metric of this service starts with this. */
export const METRIC_PREFIX = 'batch_service_';

/**
 * A registry of its own for one process role (API or worker), never
 * prom-client's global one, with Node's standard process metrics (CPU, memory,
 * event-loop lag, GC) under their usual names.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
