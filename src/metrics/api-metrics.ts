import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BatchStatus } from '../db/batches.js';
import type { Pool } from '../db/pool.js';
import { countStatuses, type StatusCounts } from '../db/status-counts.js';
import type { DeadLetterState } from '../db/webhook-dead-letters.js';
import type { Logger } from '../shared/logger.js';
import { METRIC_PREFIX, createMetricsRegistry } from './registry.js';

/** What the API records; `registry` is what `GET /metrics` shows. */
export interface ApiMetrics {
  readonly registry: Registry;
  /** One answered HTTP request: its route pattern (never the raw path), status and time to the response. */
  observeHttpRequest(request: { method: string; route: string; status: number; seconds: number }): void;
}

// Records, not lists, so that a new status is a type error here until it is counted.
const BATCH_STATUSES = Object.keys({
  validating: 0,
  failed: 0,
  in_progress: 0,
  finalizing: 0,
  completed: 0,
  expired: 0,
  cancelling: 0,
  cancelled: 0,
} satisfies Record<BatchStatus, 0>);
const DEAD_LETTER_STATES = Object.keys({ pending: 0, retrying: 0, succeeded: 0, failed: 0 } satisfies Record<DeadLetterState, 0>);
/** A status read from Postgres is written by this code; the check only keeps a label well-formed. */
const STATUS_LABEL = /^[a-z_]{1,32}$/;

const HTTP_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The API's metrics: HTTP requests by route pattern, and the batches and
 * dead-letter entries in Postgres by status, counted when scraped. Only the
 * API counts them (one query per scrape, however many workers run); when
 * Postgres does not answer, those two gauges are left out of that scrape and
 * `batch_service_metrics_database_errors_total` goes up.
 */
export function createApiMetrics({ pool, log }: { pool: Pool; log: Logger }): ApiMetrics {
  const registry = createMetricsRegistry();
  const labelNames = ['method', 'route', 'status'] as const;
  const httpRequests = new Counter({
    name: `${METRIC_PREFIX}http_requests_total`,
    help: 'HTTP requests answered by the API, by method, route pattern and status code.',
    labelNames,
    registers: [registry],
  });
  const httpSeconds = new Histogram({
    name: `${METRIC_PREFIX}http_request_duration_seconds`,
    help: 'Time from an HTTP request to its response (headers; a streamed body may take longer), by method, route pattern and status code.',
    labelNames,
    buckets: HTTP_SECONDS_BUCKETS,
    registers: [registry],
  });
  const databaseErrors = new Counter({
    name: `${METRIC_PREFIX}metrics_database_errors_total`,
    help: 'Scrapes whose batch and dead-letter counts could not be read from Postgres.',
    registers: [registry],
  });

  // Both gauges collect concurrently within one scrape: they share one query.
  let inFlight: Promise<StatusCounts | undefined> | undefined;
  const countsForThisScrape = () =>
    (inFlight ??= countStatuses(pool)
      .catch((err: Error) => {
        databaseErrors.inc();
        log.warn({ err: { message: err.message } }, 'metrics: could not count batches and dead letters');
        return undefined;
      })
      .finally(() => {
        inFlight = undefined;
      }));

  const gaugeOf = (counts: Record<string, number>, known: string[]) => {
    const values = new Map(known.map((state) => [state, 0]));
    for (const [state, n] of Object.entries(counts)) if (STATUS_LABEL.test(state)) values.set(state, n);
    return values;
  };
  new Gauge({
    name: `${METRIC_PREFIX}batches`,
    help: 'Batches in Postgres by status, counted at scrape time.',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const counts = await countsForThisScrape();
      this.reset();
      if (counts) for (const [status, n] of gaugeOf(counts.batches, BATCH_STATUSES)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}dead_letter_entries`,
    help: 'Dead-letter entries in Postgres by state (pending: never retried; failed: the last retry failed), counted at scrape time.',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const counts = await countsForThisScrape();
      this.reset();
      if (counts) for (const [state, n] of gaugeOf(counts.deadLetters, DEAD_LETTER_STATES)) this.set({ state }, n);
    },
  });

  return {
    registry,
    observeHttpRequest({ method, route, status, seconds }) {
      const labels = { method, route, status: String(status) };
      httpRequests.inc(labels);
      httpSeconds.observe(labels, seconds);
    },
  };
}
