import type { Config } from '../config.js';
import type { WebhookRetrySettings } from '../workflows/contracts.js';

/** Spread of each scheduled wait, so retries of many events do not arrive in lockstep. */
const SCHEDULE_JITTER = 0.2;

/** What a delivery workflow is started with to space its attempts; frozen into its input. */
export function webhookRetrySettings(webhook: Config['webhook']): WebhookRetrySettings {
  return {
    ...(webhook.retryScheduleSeconds ? { scheduleSeconds: webhook.retryScheduleSeconds, jitter: SCHEDULE_JITTER } : {}),
    initialSeconds: webhook.retryInitialSeconds,
    backoff: webhook.retryBackoff,
    maxIntervalSeconds: webhook.retryMaxIntervalSeconds,
  };
}
