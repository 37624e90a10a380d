import { Hono } from 'hono';
import { z } from 'zod';
import {
  CreateBatchRequestSchema,
  RetryFailedRequestSchema,
  RotateWebhookSecretRequestSchema,
  UpdateWebhookRequestSchema,
} from '../../batches/create-batch-request.js';
import { retryFailedRequests } from '../../services/batch-retry-service.js';
import { cancelBatch, createBatch, getBatch, listBatchObjects } from '../../services/batch-service.js';
import { rotateWebhookSecret, updateWebhook } from '../../services/batch-webhook-service.js';
import type { ServiceDeps } from '../../services/service-deps.js';
import { listWebhookDeliveries } from '../../services/webhook-delivery-service.js';
import { ApiError } from '../api-error.js';
import type { AuthVariables } from '../auth.js';
import { toList } from '../list-shape.js';
import { parseOrThrow, readJson, readOptionalJson } from '../validate.js';

export const ListBatchesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().optional(),
});

export const ListDeliveriesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(100),
  after: z.coerce.number().int().min(0).optional(),
});

export const IdempotencyKey = z.string().min(1).max(255).nullable();

function idempotencyKeyOf(header: string | undefined): string | null {
  const key = IdempotencyKey.safeParse(header ?? null);
  if (!key.success) throw new ApiError(400, 'Idempotency-Key must be 1 to 255 characters.', 'invalid_value', 'Idempotency-Key');
  return key.data;
}

export function batchesRoutes(deps: ServiceDeps) {
  return new Hono<{ Variables: AuthVariables }>()
    .post('/', async (c) => {
      const body = parseOrThrow(CreateBatchRequestSchema, await readJson(c.req));
      const { batch, replayed } = await createBatch(deps, c.get('owner'), body, idempotencyKeyOf(c.req.header('idempotency-key')));
      if (replayed) c.header('idempotent-replayed', 'true');
      return c.json(batch);
    })
    .get('/', async (c) => {
      const query = parseOrThrow(ListBatchesQuery, c.req.query());
      return c.json(toList(await listBatchObjects(deps, c.get('owner'), query), query.limit));
    })
    .get('/:id', async (c) => c.json(await getBatch(deps, c.get('owner'), c.req.param('id'))))
    .patch('/:id/webhook', async (c) => {
      const body = parseOrThrow(UpdateWebhookRequestSchema, await readJson(c.req));
      return c.json(await updateWebhook(deps, c.get('owner'), c.req.param('id'), body));
    })
    .post('/:id/webhook/rotate_secret', async (c) => {
      const body = parseOrThrow(RotateWebhookSecretRequestSchema, await readOptionalJson(c.req));
      return c.json(await rotateWebhookSecret(deps, c.get('owner'), c.req.param('id'), body));
    })
    .post('/:id/cancel', async (c) => c.json(await cancelBatch(deps, c.get('owner'), c.req.param('id'))))
    .post('/:id/retry_failed', async (c) => {
      const body = parseOrThrow(RetryFailedRequestSchema, await readOptionalJson(c.req));
      const key = idempotencyKeyOf(c.req.header('idempotency-key'));
      const { batch, replayed } = await retryFailedRequests(deps, c.get('owner'), c.req.param('id'), body, key);
      if (replayed) c.header('idempotent-replayed', 'true');
      return c.json(batch);
    })
    .get('/:id/webhook_deliveries', async (c) => {
      const query = parseOrThrow(ListDeliveriesQuery, c.req.query());
      return c.json(toList(await listWebhookDeliveries(deps, c.get('owner'), c.req.param('id'), query), query.limit));
    });
}
