import { z } from 'zod';

/**
 * The shapes the API answers with, as zod schemas for the OpenAPI document.
 * The functions that build the answers (toBatchObject, toFileObject, …) stay
 * the source: response-schema-checks.ts fails the type-check when a schema
 * and its function disagree.
 */

/** Fields our Batch object has beyond OpenAI's; the OpenAI type test checks this list. */
export const BATCH_EXTENSIONS = ['webhook', 'retried_from', 'retries', 'paused_at', 'pause_reason'] as const;

const unixTime = () => z.number().int().meta({ description: 'Unix time in seconds.' });
const metadata = () =>
  z.record(z.string(), z.string()).nullable().meta({ description: 'Up to 16 key-value pairs (keys up to 64, values up to 512 characters).' });

export const ErrorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string().meta({ description: '`invalid_request_error` for a 4xx, `server_error` for a 5xx.' }),
      param: z.string().nullable().meta({ description: 'The request field the error is about, e.g. `input_file_id` or `webhook.url`.' }),
      code: z.string().nullable().meta({ description: 'A stable machine-readable code, e.g. `not_found` or `invalid_value`.' }),
    }),
  })
  .meta({ id: 'Error', description: "OpenAI's error shape; every error the API answers has it." });

/** OpenAI's list envelope around `item`; `first_id`/`last_id` are ids of the page's items. */
export function listOf<Item extends z.ZodObject<{ id: z.ZodString | z.ZodNumber }>>(item: Item, id: string) {
  return z
    .object({
      object: z.literal('list'),
      data: z.array(item),
      first_id: item.shape.id.nullable(),
      last_id: item.shape.id.nullable(),
      has_more: z.boolean(),
    })
    .meta({ id, description: 'One page; pass `last_id` as `after` for the next while `has_more`.' });
}

const deletedOf = <Id extends z.ZodString | z.ZodNumber, Kind extends string>(id: Id, object: Kind, name: string) =>
  z.object({ id, object: z.literal(object), deleted: z.boolean().meta({ description: 'Always true.' }) }).meta({ id: name });

// ── Files ─────────────────────────────────────────────────────────────────────

export const FileSchema = z
  .object({
    id: z.string(),
    object: z.literal('file'),
    bytes: z.number().int(),
    created_at: unixTime(),
    expires_at: unixTime().nullable().meta({ description: 'When the file expires; null: kept until deleted.' }),
    filename: z.string(),
    purpose: z.string().meta({ description: '`batch` for an uploaded input file, `batch_output` for a batch\'s output or error file.' }),
    status: z.literal('processed'),
    status_details: z.null(),
  })
  .meta({ id: 'File', description: "OpenAI's File object." });

export const FileDeletedSchema = deletedOf(z.string(), 'file', 'FileDeleted');
export const FileListSchema = listOf(FileSchema, 'FileList');

// ── Batches ───────────────────────────────────────────────────────────────────

export const BatchWebhookSchema = z
  .object({
    url: z.string(),
    events: z.array(z.string()),
    max_retries: z.number().int(),
    timeout: z.number().int().meta({ description: 'Seconds each delivery attempt may take.' }),
    has_secret: z.boolean().meta({ description: 'Whether the webhook has its own secret (never shown after creation).' }),
  })
  .meta({ id: 'BatchWebhook', description: 'The webhook settings of a batch; the secret is never shown, only whether there is one.' });

const BatchUsageSchema = z
  .object({
    input_tokens: z.number().int(),
    input_tokens_details: z.object({ cached_tokens: z.number().int() }),
    output_tokens: z.number().int(),
    output_tokens_details: z.object({ reasoning_tokens: z.number().int() }),
    total_tokens: z.number().int(),
  })
  .meta({ id: 'BatchUsage', description: "Token usage summed over the answers of the batch's finished requests (OpenAI's `BatchUsage`)." });

const BatchErrorSchema = z.object({ code: z.string(), message: z.string(), param: z.string().nullable(), line: z.number().int().nullable() });

export const BatchSchema = z
  .object({
    id: z.string(),
    object: z.literal('batch'),
    endpoint: z.string(),
    model: z.string().nullable().meta({ description: "The input file's one model; null until validation passed." }),
    errors: z.object({ object: z.literal('list'), data: z.array(BatchErrorSchema) }).nullable(),
    input_file_id: z.string(),
    completion_window: z.string(),
    status: z.enum(['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled']),
    output_file_id: z.string().nullable(),
    error_file_id: z.string().nullable(),
    created_at: unixTime(),
    in_progress_at: unixTime().nullable(),
    expires_at: unixTime(),
    finalizing_at: unixTime().nullable(),
    completed_at: unixTime().nullable(),
    failed_at: unixTime().nullable(),
    expired_at: unixTime().nullable(),
    cancelling_at: unixTime().nullable(),
    cancelled_at: unixTime().nullable(),
    request_counts: z.object({ total: z.number().int(), completed: z.number().int(), failed: z.number().int() }),
    metadata: metadata(),
    usage: BatchUsageSchema,
    webhook: BatchWebhookSchema.nullable().meta({ description: 'Extension: the batch\'s webhook, or null when it has none.' }),
    retried_from: z.string().nullable().meta({ description: 'Extension: the batch whose failed requests this one retries (`POST /v1/batches/{id}/retry_failed`).' }),
    retries: z.array(z.string()).meta({ description: "Extension: the batches retrying this one's failed requests, oldest first." }),
    paused_at: unixTime()
      .nullable()
      .meta({ description: 'Extension: while the batch waits for its upstream to answer again (`status` stays `in_progress`), since when; otherwise null.' }),
    pause_reason: z.string().nullable().meta({ description: 'Extension: why the batch is paused (e.g. the upstream refuses connections); null while it runs.' }),
  })
  .meta({
    id: 'Batch',
    description: `OpenAI's Batch object. Extensions (fields OpenAI's Batch does not have): ${BATCH_EXTENSIONS.map((f) => `\`${f}\``).join(', ')}.`,
  });

export const BatchListSchema = listOf(BatchSchema, 'BatchList');

export const BatchWithRotatedSecretSchema = BatchSchema.extend({
  webhook: BatchWebhookSchema.extend({
    secret: z.string().meta({ description: 'The new secret; this answer is the only place it is shown.' }),
    previous_secret_expires_at: unixTime().nullable().meta({ description: 'Until when the replaced secret still signs too.' }),
  }),
}).meta({ id: 'BatchWithRotatedSecret', description: 'The batch, with its webhook\'s new secret.' });

export const DeliveryAttemptSchema = z
  .object({
    id: z.number().int(),
    object: z.literal('webhook_delivery_attempt'),
    event_id: z.string(),
    event_type: z.string(),
    delivery_workflow_id: z.string(),
    attempt: z.number().int(),
    url: z.string(),
    attempted_at: unixTime(),
    duration_ms: z.number().int().nullable(),
    status_code: z.number().int().nullable(),
    response_body: z.string().nullable(),
    error: z.string().nullable(),
    success: z.boolean(),
  })
  .meta({ id: 'DeliveryAttempt', description: 'One attempt to deliver a webhook event.' });

export const DeliveryAttemptListSchema = listOf(DeliveryAttemptSchema, 'DeliveryAttemptList');

// ── Dead letters ──────────────────────────────────────────────────────────────

export const DeadLetterEntrySchema = z
  .object({
    id: z.number().int(),
    object: z.literal('webhook_dead_letter'),
    batch_id: z.string().nullable(),
    event_id: z.string(),
    event_type: z.string(),
    target: z.string().meta({ description: '`batch_webhook`, or the id of the webhook endpoint the deliveries go to.' }),
    reason: z.enum(['delivery_failed', 'endpoint_disabled']),
    webhook_url: z.string(),
    payload: z.unknown().meta({ description: 'The event as it was sent.' }),
    error_message: z.string().nullable(),
    attempts: z.number().int(),
    last_attempt_at: unixTime().nullable(),
    created_at: unixTime(),
    retried_at: unixTime().nullable(),
    retry_success: z.boolean().nullable(),
    state: z.enum(['pending', 'retrying', 'succeeded', 'failed']),
    retry_count: z.number().int(),
    delivery_workflow_id: z.string().nullable(),
  })
  .meta({ id: 'DeadLetterEntry', description: 'A webhook event whose delivery ran out of attempts, or that a disabled endpoint keeps.' });

export const DeadLetterListSchema = listOf(DeadLetterEntrySchema, 'DeadLetterList');
export const DeadLetterDeletedSchema = deletedOf(z.number().int(), 'webhook_dead_letter', 'DeadLetterDeleted');

const bulkRetryFields = {
  started: z.number().int(),
  has_more: z.boolean().meta({ description: 'More entries matched than one call retries; call again.' }),
  rate_per_second: z.number(),
  workflow_id: z.string().nullable().meta({ description: 'The workflow that starts the deliveries; null when nothing matched.' }),
  data: z.array(z.object({ id: z.number().int(), delivery_workflow_id: z.string().nullable() })),
};

export const BulkRetryResultSchema = z
  .object({ object: z.literal('webhook_dead_letter.bulk_retry'), ...bulkRetryFields })
  .meta({ id: 'BulkRetryResult', description: 'The retries started, paced at `rate_per_second`.' });

// ── Webhook endpoints ─────────────────────────────────────────────────────────

const webhookEndpointFields = {
  id: z.string(),
  object: z.literal('webhook_endpoint'),
  url: z.string(),
  events: z.array(z.string()),
  description: z.string().nullable(),
  enabled: z.boolean(),
  disabled_reason: z.string().nullable().meta({ description: 'Set when the service disabled the endpoint (e.g. after a 410 Gone).' }),
  max_retries: z.number().int(),
  timeout: z.number().int(),
  metadata: metadata(),
  failing_since: unixTime().nullable(),
  created_at: unixTime(),
  updated_at: unixTime(),
};

export const WebhookEndpointSchema = z
  .object(webhookEndpointFields)
  .meta({ id: 'WebhookEndpoint', description: 'A registered endpoint; it receives the events of every batch of its owner. Never shows the secret.' });

export const WebhookEndpointCreatedSchema = z
  .object({ ...webhookEndpointFields, secret: z.string().meta({ description: 'The signing secret; this answer is the only place it is shown.' }) })
  .meta({ id: 'WebhookEndpointCreated' });

export const WebhookEndpointSecretRotatedSchema = z
  .object({
    ...webhookEndpointFields,
    secret: z.string().meta({ description: 'The new secret; this answer is the only place it is shown.' }),
    previous_secret_expires_at: unixTime().meta({ description: 'Until when the replaced secret still signs too.' }),
  })
  .meta({ id: 'WebhookEndpointSecretRotated' });

export const WebhookEndpointListSchema = listOf(WebhookEndpointSchema, 'WebhookEndpointList');
export const WebhookEndpointDeletedSchema = deletedOf(z.string(), 'webhook_endpoint', 'WebhookEndpointDeleted');

export const WebhookEndpointRecoverySchema = z
  .object({ ...bulkRetryFields, object: z.literal('webhook_endpoint.recovery'), endpoint_id: z.string() })
  .meta({ id: 'WebhookEndpointRecovery', description: 'The redeliveries started for what the endpoint missed, oldest event first.' });

export const WebhookEndpointTestResultSchema = z
  .object({
    object: z.literal('webhook_endpoint.test'),
    endpoint_id: z.string(),
    event_id: z.string(),
    delivery_id: z.string(),
    status: z.enum(['delivered', 'failed', 'not_sent']).meta({ description: '`not_sent`: the endpoint is disabled.' }),
    status_code: z.number().int().nullable(),
    error: z.string().nullable(),
  })
  .meta({ id: 'WebhookEndpointTestResult', description: 'The outcome of one signed `webhook.test` event sent to the endpoint.' });

// ── Service ───────────────────────────────────────────────────────────────────

export const HealthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

export const ReadinessSchema = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.record(z.string(), z.string()).meta({ description: '`postgres`, `temporal` and, while they apply, `migrations`: `ok` or what is wrong.' }),
    problems: z.array(z.string()).optional().meta({ description: 'When not ready: what is missing and how to fix it.' }),
  })
  .meta({ id: 'Readiness' });
