import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes that let operators find every workflow of a batch
 * in the Web UI (`BatchId = "batch_…"`) and filter deliveries by event type.
 * They must be registered on the namespace; the worker does it at start-up.
 */
export const BATCH_ID_ATTRIBUTE = defineSearchAttributeKey('BatchId', SearchAttributeType.KEYWORD);
export const WEBHOOK_EVENT_TYPE_ATTRIBUTE = defineSearchAttributeKey('WebhookEventType', SearchAttributeType.KEYWORD);

export const CUSTOM_SEARCH_ATTRIBUTES = {
  [BATCH_ID_ATTRIBUTE.name]: 'Keyword',
  [WEBHOOK_EVENT_TYPE_ATTRIBUTE.name]: 'Keyword',
} as const;
