import { z } from 'zod';
import { WebhookConfigSchema } from '../batches/create-batch-request.js';
import { storableText } from '../shared/storable-text.js';

/** The fields an endpoint shares with a batch's webhook, with the same rules. */
const shared = WebhookConfigSchema.pick({ url: true, events: true, max_retries: true, timeout: true }).shape;
const description = storableText().max(512, 'must be at most 512 characters').nullable();

/** `POST /v1/webhook_endpoints` body; `secret` is generated when not given. */
export const CreateWebhookEndpointRequestSchema = z
  .object({
    ...shared,
    secret: storableText().min(1).max(128, 'must be at most 128 characters').optional(),
    description: description.optional(),
    enabled: z.boolean().optional(),
  })
  .strict();

export type CreateWebhookEndpointRequest = z.output<typeof CreateWebhookEndpointRequestSchema>;

/** `PATCH /v1/webhook_endpoints/{id}` body: any field but the secret; `description: null` clears it. */
export const UpdateWebhookEndpointRequestSchema = z
  .object({
    url: shared.url.optional(),
    events: shared.events,
    max_retries: shared.max_retries,
    timeout: shared.timeout,
    description: description.optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'give at least one of url, events, description, enabled, max_retries, timeout' });

export type UpdateWebhookEndpointRequest = z.output<typeof UpdateWebhookEndpointRequestSchema>;
