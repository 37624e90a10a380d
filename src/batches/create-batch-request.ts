import { z } from 'zod';
import { storableText } from '../shared/storable-text.js';
import { BATCH_ENDPOINTS } from './batch-endpoints.js';
import { WEBHOOK_EVENTS, type WebhookEvent } from '../workflows/contracts.js';
import { ExpiresAfterSchema } from '../files/expires-after.js';

/** Event names as users may write them: `completed` or `batch.completed`. */
export const WebhookEventNameSchema = z
  .string()
  .transform((name) => name.replace(/^batch\./, ''))
  .refine((name): name is WebhookEvent => (WEBHOOK_EVENTS as readonly string[]).includes(name), {
    message: `each event must be one of ${WEBHOOK_EVENTS.join(', ')} (optionally prefixed with 'batch.')`,
  });

export const WebhookConfigSchema = z
  .object({
    url: storableText().min(1).max(2048),
    secret: storableText().min(1).max(128, 'must be at most 128 characters').optional().nullable(),
    max_retries: z.number().int().min(1).max(10).optional(),
    timeout: z.number().int().min(5).max(300).optional(),
    events: z
      .array(WebhookEventNameSchema)
      .min(1)
      .max(WEBHOOK_EVENTS.length * 2)
      .transform((events) => [...new Set(events)])
      .optional(),
  })
  .strict();

export type WebhookConfigInput = z.output<typeof WebhookConfigSchema>;

// zod's record drops a `__proto__` key without a word; refuse it so metadata is kept exactly as sent.
const NoReservedKey = z.unknown().superRefine((value, ctx) => {
  if (value !== null && typeof value === 'object' && Object.hasOwn(value, '__proto__')) {
    ctx.addIssue({ code: 'custom', message: "'__proto__' is a reserved key", path: ['__proto__'] });
  }
});

/** OpenAI's metadata: up to 16 string pairs, keys up to 64 and values up to 512 characters. */
export const MetadataSchema = NoReservedKey.pipe(z.record(storableText().max(64), storableText().max(512))).refine(
  (m) => Object.keys(m).length <= 16,
  'at most 16 keys',
);

/**
 * `POST /v1/batches` body: OpenAI's fields plus this service's `webhook`. Any
 * of OpenAI's batch endpoints parses; the service then refuses those the
 * upstream does not serve.
 */
export const CreateBatchRequestSchema = z.object({
  input_file_id: storableText().min(1).max(128),
  endpoint: z.enum(BATCH_ENDPOINTS),
  completion_window: z.literal('24h'),
  metadata: MetadataSchema.nullable().optional(),
  /** Expiry of the batch's output and error files, anchored at each file's creation (OpenAI's semantics). */
  output_expires_after: ExpiresAfterSchema.optional(),
  webhook: WebhookConfigSchema.nullable().optional(),
});

export type CreateBatchRequest = z.output<typeof CreateBatchRequestSchema>;

/**
 * `POST /v1/batches/{id}/retry_failed` body (optional): what the new batch
 * takes instead of the original's. Absent: the original's metadata and
 * webhook (secret included); `webhook: null`: no webhook of its own.
 */
export const RetryFailedRequestSchema = z
  .object({
    metadata: MetadataSchema.nullable().optional(),
    webhook: WebhookConfigSchema.nullable().optional(),
  })
  .strict();

export type RetryFailedRequest = z.output<typeof RetryFailedRequestSchema>;

/**
 * `PATCH /v1/batches/{id}/webhook` body: any of the webhook's fields, with the
 * rules of batch creation. `secret: null` removes the webhook's own secret.
 */
export const UpdateWebhookRequestSchema = WebhookConfigSchema.partial().refine((body) => Object.keys(body).length > 0, {
  message: 'give at least one of url, events, max_retries, timeout, secret',
});

export type UpdateWebhookRequest = z.output<typeof UpdateWebhookRequestSchema>;

/** `POST /v1/batches/{id}/webhook/rotate_secret` body (optional): the new secret, else one is generated. */
export const RotateWebhookSecretRequestSchema = WebhookConfigSchema.pick({ secret: true });

export type RotateWebhookSecretRequest = z.output<typeof RotateWebhookSecretRequestSchema>;
