import { Hono } from 'hono';
import { z } from 'zod';
import {
  deleteDeadLetterObject,
  getDeadLetterObject,
  listDeadLetterObjects,
  retryDeadLetter,
  retryDeadLettersInBulk,
} from '../../services/dead-letter-service.js';
import type { ServiceDeps } from '../../services/service-deps.js';
import { ApiError } from '../api-error.js';
import type { AuthVariables } from '../auth.js';
import { toList } from '../list-shape.js';
import { storableText } from '../../shared/storable-text.js';
import { MAX_UNIX_SECONDS } from '../../shared/unix-time.js';
import { AnyEventNameSchema } from '../../webhooks/webhook-endpoint-request.js';
import { parseOrThrow, readJson } from '../validate.js';

/** Entry ids are positive integers; anything else names no entry, so it is a 404 too. */
function entryId(raw: string): number {
  if (!/^[1-9]\d{0,15}$/.test(raw)) throw ApiError.notFound('dead-letter entry', raw);
  return Number(raw);
}

export const ListDeadLettersQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.coerce.number().int().min(1).optional(),
  batch_id: storableText().max(128).optional(),
  event_type: AnyEventNameSchema.optional(),
  state: z.enum(['pending', 'retrying', 'succeeded', 'failed']).optional(),
  // `batch_webhook` or an endpoint id (`we_…`): the target the entries belong to.
  endpoint_id: storableText().max(128).optional(),
  reason: z.enum(['delivery_failed', 'endpoint_disabled']).optional(),
});

export const BulkRetryBody = z
  .object({
    batch_id: storableText().max(128).optional(),
    event_type: AnyEventNameSchema.optional(),
    // Unix seconds; beyond this a JavaScript Date (and so the query) has no valid value.
    created_since: z.number().int().min(0).max(MAX_UNIX_SECONDS).optional(),
    endpoint_id: storableText().max(128).optional(),
  })
  .strict();

export function deadLetterRoutes(deps: ServiceDeps) {
  return new Hono<{ Variables: AuthVariables }>()
    .get('/', async (c) => {
      const q = parseOrThrow(ListDeadLettersQuery, c.req.query());
      const rows = await listDeadLetterObjects(
        deps,
        c.get('owner'),
        { batchId: q.batch_id, eventType: q.event_type, state: q.state, target: q.endpoint_id, reason: q.reason },
        { limit: q.limit, after: q.after },
      );
      return c.json(toList(rows, q.limit));
    })
    .post('/retry', async (c) => {
      const raw = c.req.header('content-length') === '0' ? {} : await readJson(c.req);
      const body = parseOrThrow(BulkRetryBody, raw);
      const result = await retryDeadLettersInBulk(deps, c.get('owner'), {
        batchId: body.batch_id,
        eventType: body.event_type,
        createdSince: body.created_since === undefined ? undefined : new Date(body.created_since * 1000),
        target: body.endpoint_id,
      });
      return c.json(result, 202);
    })
    .get('/:id', async (c) => {
      return c.json(await getDeadLetterObject(deps, c.get('owner'), entryId(c.req.param('id'))));
    })
    .post('/:id/retry', async (c) => {
      return c.json(await retryDeadLetter(deps, c.get('owner'), entryId(c.req.param('id'))), 202);
    })
    .delete('/:id', async (c) => {
      return c.json(await deleteDeadLetterObject(deps, c.get('owner'), entryId(c.req.param('id'))));
    });
}
