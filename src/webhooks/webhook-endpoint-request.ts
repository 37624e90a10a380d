import { z } from 'zod';
import { MetadataSchema, WebhookConfigSchema } from '../batches/create-batch-request.js';
import { storableText } from '../shared/storable-text.js';
import { MAX_UNIX_SECONDS } from '../shared/unix-time.js';
import { isOperationalEventType, OPERATIONAL_EVENT_TYPES, WEBHOOK_EVENTS, type WebhookEvent } from '../workflows/contracts.js';

/** The fields an endpoint shares with a batch's webhook, with the same rules. */
const shared = WebhookConfigSchema.pick({ url: true, max_retries: true, timeout: true }).shape;
const description = storableText().max(512, 'must be at most 512 characters').nullable();

const isLifecycleName = (name: string) => (WEBHOOK_EVENTS as readonly string[]).includes(name.replace(/^batch\./, ''));

/**
 * An endpoint subscribes to lifecycle events as a batch webhook names them
 * (`completed` or `batch.completed`) and to operational events by full name.
 */
export const AnyEventNameSchema = z
  .string()
  .refine((name) => isOperationalEventType(name) || isLifecycleName(name), {
    message: `each event must be one of ${WEBHOOK_EVENTS.join(', ')} (optionally prefixed with 'batch.') or ${OPERATIONAL_EVENT_TYPES.join(', ')}`,
  })
  .transform((name) => (isOperationalEventType(name) ? name : (name.replace(/^batch\./, '') as WebhookEvent)));

const events = z
  .array(AnyEventNameSchema)
  .min(1)
  .max((WEBHOOK_EVENTS.length + OPERATIONAL_EVENT_TYPES.length) * 2)
  .transform((names) => [...new Set(names)])
  .optional();

/** `POST /v1/webhook_endpoints` body; `secret` is generated when not given. */
export const CreateWebhookEndpointRequestSchema = z
  .object({
    ...shared,
    events,
    secret: storableText().min(1).max(128, 'must be at most 128 characters').optional(),
    description: description.optional(),
    enabled: z.boolean().optional(),
    metadata: MetadataSchema.nullable().optional(),
  })
  .strict();

export type CreateWebhookEndpointRequest = z.output<typeof CreateWebhookEndpointRequestSchema>;

/** `PATCH /v1/webhook_endpoints/{id}` body: any field but the secret; `description: null` clears it. */
export const UpdateWebhookEndpointRequestSchema = z
  .object({
    url: shared.url.optional(),
    events,
    max_retries: shared.max_retries,
    timeout: shared.timeout,
    description: description.optional(),
    enabled: z.boolean().optional(),
    // null clears it; an object replaces it whole, as on a batch.
    metadata: MetadataSchema.nullable().optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'give at least one of url, events, description, enabled, max_retries, timeout, metadata' });

/** `POST /v1/webhook_endpoints/{id}/recover` body: redeliver what the endpoint missed since (unix seconds), up to `until`. */
export const RecoverWebhookEndpointRequestSchema = z
  .object({
    since: z.number().int().min(0).max(MAX_UNIX_SECONDS),
    until: z.number().int().min(0).max(MAX_UNIX_SECONDS).optional(),
  })
  .strict()
  .refine((body) => body.until === undefined || body.until > body.since, { message: 'until must be after since', path: ['until'] });

export type RecoverWebhookEndpointRequest = z.output<typeof RecoverWebhookEndpointRequestSchema>;

export type UpdateWebhookEndpointRequest = z.output<typeof UpdateWebhookEndpointRequestSchema>;
