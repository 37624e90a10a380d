/**
 * Lifecycle events of a batch. Each is emitted at exactly one point of the
 * batch workflow; the subscribable ones can be delivered as webhooks.
 */
export const LIFECYCLE_EVENTS = ['in_progress', 'progress', 'completed', 'failed', 'cancelled', 'expired'] as const;
export type LifecycleEvent = (typeof LIFECYCLE_EVENTS)[number];

export const WEBHOOK_EVENTS = ['completed', 'failed', 'progress', 'cancelled', 'expired'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** What a webhook gets when it names no events: every terminal event, not progress. */
export const DEFAULT_WEBHOOK_EVENTS: WebhookEvent[] = ['completed', 'failed', 'cancelled', 'expired'];

/** The event `type` as it appears in payloads and headers. */
export const eventTypeName = (event: LifecycleEvent): string => `batch.${event}`;
