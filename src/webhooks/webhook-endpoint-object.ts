import type { WebhookEndpointRow } from '../db/webhook-endpoints.js';
import { unixSeconds } from '../shared/unix-time.js';

/** An endpoint as users see it: never the secret (only the creation answer adds it). */
export function toWebhookEndpointObject(row: WebhookEndpointRow) {
  return {
    id: row.id,
    object: 'webhook_endpoint' as const,
    url: row.url,
    events: row.events,
    description: row.description,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    max_retries: row.max_retries,
    timeout: row.timeout,
    metadata: row.metadata,
    failing_since: unixSeconds(row.failing_since),
    created_at: unixSeconds(row.created_at)!,
    updated_at: unixSeconds(row.updated_at)!,
  };
}
