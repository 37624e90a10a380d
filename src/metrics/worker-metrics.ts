import { Counter, Histogram, type Registry } from 'prom-client';
import type { UpstreamAttemptOutcome, UpstreamObserver } from '../upstream/upstream-client.js';
import { createModelLabeler, endpointLabel } from './labels.js';
import { METRIC_PREFIX, createMetricsRegistry } from './registry.js';

/** Whom a webhook goes to, as a label: the batch's own webhook or a registered endpoint. */
export type WebhookTargetLabel = 'batch_webhook' | 'endpoint';

/**
 * What one webhook attempt came to: the send outcomes of the contracts, plus
 * `interrupted` (the worker stopped mid-request), `not_sent` (it failed before
 * the request went out, e.g. Postgres was away) and `error` (anything else).
 */
export type WebhookAttemptLabel = 'delivered' | 'failed' | 'forbidden' | 'gone' | 'interrupted' | 'not_sent' | 'error';

/** What a worker records; `registry` is what its `/metrics` shows. */
export interface WorkerMetrics {
  readonly registry: Registry;
  /** Given to the upstream client: every attempt and retry. */
  readonly upstream: UpstreamObserver;
  /** A batch request line finished upstream (its result is about to be saved). */
  requestFinished(request: { endpoint: string; body: string; ok: boolean }): void;
  webhookAttempt(attempt: { outcome: WebhookAttemptLabel; target: WebhookTargetLabel; seconds?: number }): void;
  /** A webhook was delivered `seconds` after its event was created. */
  eventDelivered(delivery: { target: WebhookTargetLabel; seconds: number }): void;
  deadLetterCreated(target: WebhookTargetLabel): void;
  /** A manual retry of a dead-letter entry ended. */
  deadLetterRetried(outcome: 'delivered' | 'failed'): void;
}

const UPSTREAM_SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const WEBHOOK_SECONDS_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** From a second to the end of the longest retry schedule (days). */
const EVENT_TO_DELIVERY_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 7200, 21_600, 43_200, 86_400, 172_800, 259_200, 604_800];

/**
 * The worker's metrics: batch requests by endpoint and model, upstream
 * attempts, webhook attempts and their latency, dead-letter entries. Every
 * label comes from a fixed set or a bounded one (see labels.ts).
 */
export function createWorkerMetrics(): WorkerMetrics {
  const registry = createMetricsRegistry();
  const registers = [registry];

  const requests = new Counter({
    name: `${METRIC_PREFIX}requests_total`,
    help: 'Batch request lines that finished upstream, by endpoint, model and outcome (completed: 2xx; failed: goes to the error file). A request re-sent after a worker crash counts again.',
    labelNames: ['endpoint', 'model', 'outcome'] as const,
    registers,
  });
  const upstreamSeconds = new Histogram({
    name: `${METRIC_PREFIX}upstream_attempt_duration_seconds`,
    help: 'Time of one HTTP attempt to the upstream (not the wait for a concurrency slot), by endpoint and outcome.',
    labelNames: ['endpoint', 'outcome'] as const,
    buckets: UPSTREAM_SECONDS_BUCKETS,
    registers,
  });
  const upstreamRetries = new Counter({
    name: `${METRIC_PREFIX}upstream_retries_total`,
    help: 'Upstream attempts that failed and were retried, by endpoint and the failed attempt’s outcome.',
    labelNames: ['endpoint', 'reason'] as const,
    registers,
  });
  const upstreamRateLimited = new Counter({
    name: `${METRIC_PREFIX}upstream_rate_limited_total`,
    help: 'Upstream answers 429 Too Many Requests, retried or not, by endpoint.',
    labelNames: ['endpoint'] as const,
    registers,
  });
  const webhookAttempts = new Counter({
    name: `${METRIC_PREFIX}webhook_attempts_total`,
    help: 'Webhook delivery attempts by outcome and target kind.',
    labelNames: ['outcome', 'target'] as const,
    registers,
  });
  const webhookSeconds = new Histogram({
    name: `${METRIC_PREFIX}webhook_attempt_duration_seconds`,
    help: 'Time of one webhook HTTP attempt, by outcome.',
    labelNames: ['outcome'] as const,
    buckets: WEBHOOK_SECONDS_BUCKETS,
    registers,
  });
  const eventToDelivery = new Histogram({
    name: `${METRIC_PREFIX}webhook_event_to_delivery_seconds`,
    help: 'Time from a webhook event’s creation to its successful delivery, retries included, by target kind.',
    labelNames: ['target'] as const,
    buckets: EVENT_TO_DELIVERY_BUCKETS,
    registers,
  });
  const deadLettersCreated = new Counter({
    name: `${METRIC_PREFIX}dead_letter_created_total`,
    help: 'Webhook deliveries that ran out of attempts and were dead-lettered, by target kind.',
    labelNames: ['target'] as const,
    registers,
  });
  const deadLetterRetries = new Counter({
    name: `${METRIC_PREFIX}dead_letter_retries_total`,
    help: 'Manual retries of dead-letter entries (single or bulk) that ended, by outcome.',
    labelNames: ['outcome'] as const,
    registers,
  });

  // Series that alerts divide by exist from the start at 0, so a first failure shows up in rate().
  const targets: WebhookTargetLabel[] = ['batch_webhook', 'endpoint'];
  for (const target of targets) {
    for (const outcome of ['delivered', 'failed'] as const) webhookAttempts.inc({ outcome, target }, 0);
    deadLettersCreated.inc({ target }, 0);
  }
  for (const outcome of ['delivered', 'failed'] as const) deadLetterRetries.inc({ outcome }, 0);

  const modelOf = createModelLabeler();
  const upstream: UpstreamObserver = {
    attemptFinished(path: string, outcome: UpstreamAttemptOutcome, seconds: number) {
      const endpoint = endpointLabel(path);
      upstreamSeconds.observe({ endpoint, outcome }, seconds);
      if (outcome === 'rate_limited') upstreamRateLimited.inc({ endpoint });
    },
    retryScheduled(path: string, reason: UpstreamAttemptOutcome) {
      upstreamRetries.inc({ endpoint: endpointLabel(path), reason });
    },
  };

  return {
    registry,
    upstream,
    requestFinished({ endpoint, body, ok }) {
      requests.inc({ endpoint: endpointLabel(endpoint), model: modelOf(body), outcome: ok ? 'completed' : 'failed' });
    },
    webhookAttempt({ outcome, target, seconds }) {
      webhookAttempts.inc({ outcome, target });
      if (seconds !== undefined) webhookSeconds.observe({ outcome }, seconds);
    },
    eventDelivered({ target, seconds }) {
      eventToDelivery.observe({ target }, Math.max(0, seconds));
    },
    deadLetterCreated(target) {
      deadLettersCreated.inc({ target });
    },
    deadLetterRetried(outcome) {
      deadLetterRetries.inc({ outcome });
    },
  };
}
