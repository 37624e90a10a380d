import { Hono } from 'hono';
import { z } from 'zod';
import type { ServiceDeps } from '../../services/service-deps.js';
import {
  createWebhookEndpoint,
  deleteWebhookEndpointObject,
  getWebhookEndpoint,
  listWebhookEndpointObjects,
  recoverWebhookEndpoint,
  rotateWebhookEndpointSecretOf,
  updateWebhookEndpointSettings,
} from '../../services/webhook-endpoint-service.js';
import { RotateWebhookSecretRequestSchema } from '../../batches/create-batch-request.js';
import { sendTestEvent } from '../../services/webhook-endpoint-test-service.js';
import { CreateWebhookEndpointRequestSchema, RecoverWebhookEndpointRequestSchema, UpdateWebhookEndpointRequestSchema } from '../../webhooks/webhook-endpoint-request.js';
import { ApiError } from '../api-error.js';
import type { AuthVariables } from '../auth.js';
import { toList } from '../list-shape.js';
import { parseOrThrow, readJson, readOptionalJson } from '../validate.js';

/** Endpoint ids are `we_` and base62; anything else names no endpoint, so it is a 404 too. */
function endpointId(raw: string): string {
  if (!/^we_[A-Za-z0-9]{1,64}$/.test(raw)) throw ApiError.notFound('webhook endpoint', raw);
  return raw;
}

export const ListWebhookEndpointsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().regex(/^we_[A-Za-z0-9]{1,64}$/, 'must be a webhook endpoint id').optional(),
});

export function webhookEndpointsRoutes(deps: ServiceDeps) {
  return new Hono<{ Variables: AuthVariables }>()
    .post('/', async (c) => {
      const body = parseOrThrow(CreateWebhookEndpointRequestSchema, await readJson(c.req));
      return c.json(await createWebhookEndpoint(deps, c.get('owner'), body));
    })
    .get('/', async (c) => {
      const q = parseOrThrow(ListWebhookEndpointsQuery, c.req.query());
      return c.json(toList(await listWebhookEndpointObjects(deps, c.get('owner'), q), q.limit));
    })
    .get('/:id', async (c) => c.json(await getWebhookEndpoint(deps, c.get('owner'), endpointId(c.req.param('id')))))
    .patch('/:id', async (c) => {
      const id = endpointId(c.req.param('id'));
      const body = parseOrThrow(UpdateWebhookEndpointRequestSchema, await readJson(c.req));
      return c.json(await updateWebhookEndpointSettings(deps, c.get('owner'), id, body));
    })
    .delete('/:id', async (c) => c.json(await deleteWebhookEndpointObject(deps, c.get('owner'), endpointId(c.req.param('id')))))
    .post('/:id/rotate_secret', async (c) => {
      const id = endpointId(c.req.param('id'));
      const body = parseOrThrow(RotateWebhookSecretRequestSchema, await readOptionalJson(c.req));
      return c.json(await rotateWebhookEndpointSecretOf(deps, c.get('owner'), id, body));
    })
    .post('/:id/test', async (c) => c.json(await sendTestEvent(deps, c.get('owner'), endpointId(c.req.param('id')))))
    .post('/:id/recover', async (c) => {
      const id = endpointId(c.req.param('id'));
      const body = parseOrThrow(RecoverWebhookEndpointRequestSchema, await readJson(c.req));
      return c.json(await recoverWebhookEndpoint(deps, c.get('owner'), id, body), 202);
    });
}
