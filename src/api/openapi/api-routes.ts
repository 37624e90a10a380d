import { z } from 'zod';
import {
  CreateBatchRequestSchema,
  RetryFailedRequestSchema,
  RotateWebhookSecretRequestSchema,
  UpdateWebhookRequestSchema,
} from '../../batches/create-batch-request.js';
import { ExpiresAfterSchema } from '../../files/expires-after.js';
import { ACCEPTED_PURPOSES } from '../../services/file-service.js';
import {
  CreateWebhookEndpointRequestSchema,
  RecoverWebhookEndpointRequestSchema,
  UpdateWebhookEndpointRequestSchema,
} from '../../webhooks/webhook-endpoint-request.js';
import { IdempotencyKey, ListBatchesQuery, ListDeliveriesQuery } from '../routes/batches-routes.js';
import { BulkRetryBody, ListDeadLettersQuery } from '../routes/dead-letter-routes.js';
import { ListFilesQuery } from '../routes/files-routes.js';
import { ListWebhookEndpointsQuery } from '../routes/webhook-endpoints-routes.js';
import * as S from './response-schemas.js';

export type ErrorStatus = 400 | 401 | 404 | 409 | 413 | 500 | 503;
export type TagName = 'Files' | 'Batches' | 'Batch webhooks' | 'Dead letters' | 'Webhook endpoints' | 'Service';

interface Answer {
  description: string;
  schema: z.ZodType;
  /** application/json unless said. */
  contentType?: string;
  headers?: z.ZodObject;
}

/** One route of the API, described with the schemas its handler uses. */
export interface ApiRoute {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** As OpenAPI writes it: `/v1/batches/{id}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: TagName;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  body?: { schema: z.ZodType; required: boolean; contentType?: string };
  responses: { [status: number]: Answer };
  /** Errors beyond those every route of its kind has (see openapi-document.ts). */
  errors?: ErrorStatus[];
}

const json = (schema: z.ZodType, description: string): Answer => ({ schema, description });

/** Sent when an `Idempotency-Key` was seen before with the same body: the answer is that earlier batch. */
const REPLAYED = z.object({ 'idempotent-replayed': z.literal('true').optional().meta({ description: 'The answer is the batch an earlier request with this key made.' }) });

/**
 * `POST /v1/files` is a multipart form that the file service streams (it is
 * never parsed whole), so this schema only describes it, from the same constants.
 */
const UploadFileForm = z.object({
  purpose: z.enum(ACCEPTED_PURPOSES),
  file: z.string().meta({ format: 'binary', description: 'JSONL, one request a line: up to 50,000 requests and 200 MB.' }),
  'expires_after[anchor]': ExpiresAfterSchema.shape.anchor.optional(),
  'expires_after[seconds]': ExpiresAfterSchema.shape.seconds.optional(),
});

const files: ApiRoute[] = [
  {
    method: 'post', path: '/v1/files', operationId: 'uploadFile', tag: 'Files', summary: 'Upload a batch input file',
    description: 'Without `expires_after` a `batch` file expires after 30 days, as at OpenAI.',
    body: { schema: UploadFileForm, required: true, contentType: 'multipart/form-data' },
    responses: { 200: json(S.FileSchema, 'The stored file.') },
  },
  { method: 'get', path: '/v1/files', operationId: 'listFiles', tag: 'Files', summary: 'List files', query: ListFilesQuery, responses: { 200: json(S.FileListSchema, 'A page of files.') } },
  { method: 'get', path: '/v1/files/{id}', operationId: 'getFile', tag: 'Files', summary: 'Get a file', responses: { 200: json(S.FileSchema, 'The file.') } },
  {
    method: 'get', path: '/v1/files/{id}/content', operationId: 'getFileContent', tag: 'Files', summary: "Download a file's content",
    responses: { 200: { schema: z.string().meta({ format: 'binary' }), contentType: 'application/octet-stream', description: 'The bytes, streamed.' } },
  },
  { method: 'delete', path: '/v1/files/{id}', operationId: 'deleteFile', tag: 'Files', summary: 'Delete a file', responses: { 200: json(S.FileDeletedSchema, 'Deleted.') } },
];

const batches: ApiRoute[] = [
  {
    method: 'post', path: '/v1/batches', operationId: 'createBatch', tag: 'Batches', summary: 'Create a batch',
    description: 'The same `Idempotency-Key` and body answer the same batch (with `idempotent-replayed: true`); the same key with another body is a 409.',
    headers: z.object({ 'idempotency-key': IdempotencyKey.unwrap().optional() }),
    body: { schema: CreateBatchRequestSchema, required: true },
    responses: { 200: { ...json(S.BatchSchema, 'The batch, `validating`.'), headers: REPLAYED } },
    errors: [409],
  },
  { method: 'get', path: '/v1/batches', operationId: 'listBatches', tag: 'Batches', summary: 'List batches, newest first', query: ListBatchesQuery, responses: { 200: json(S.BatchListSchema, 'A page of batches.') } },
  { method: 'get', path: '/v1/batches/{id}', operationId: 'getBatch', tag: 'Batches', summary: 'Get a batch', responses: { 200: json(S.BatchSchema, 'The batch.') } },
  {
    method: 'post', path: '/v1/batches/{id}/cancel', operationId: 'cancelBatch', tag: 'Batches', summary: 'Cancel a batch',
    responses: { 200: json(S.BatchSchema, 'The batch, `cancelling` (or already cancelled).') },
    errors: [409],
  },
  {
    method: 'post', path: '/v1/batches/{id}/retry_failed', operationId: 'retryFailedRequests', tag: 'Batches', summary: "Retry a finished batch's failed requests",
    description:
      'Extension. A new batch of the requests worth retrying (expired, cancelled, timed out, connection errors, upstream 408, 409, 429 and 5xx), each with its custom_id and body, written to a new input file; ' +
      "linked both ways (`retried_from`, `retries`). The original's metadata and webhook unless the body gives others. 409 when the batch is not finished or has nothing to retry. " +
      'The same `Idempotency-Key` and body answer the same batch.',
    headers: z.object({ 'idempotency-key': IdempotencyKey.unwrap().optional() }),
    body: { schema: RetryFailedRequestSchema, required: false },
    responses: { 200: { ...json(S.BatchSchema, 'The new batch, `validating`.'), headers: REPLAYED } },
    errors: [409],
  },
  {
    method: 'patch', path: '/v1/batches/{id}/webhook', operationId: 'updateBatchWebhook', tag: 'Batch webhooks', summary: "Change a batch's webhook",
    description: 'Any of the webhook\'s fields; a batch without a webhook gets one only when `url` is given. A running batch uses the new settings for the events it emits afterwards.',
    body: { schema: UpdateWebhookRequestSchema, required: true },
    responses: { 200: json(S.BatchSchema, 'The batch with its new webhook settings.') },
    errors: [409],
  },
  {
    method: 'post', path: '/v1/batches/{id}/webhook/rotate_secret', operationId: 'rotateBatchWebhookSecret', tag: 'Batch webhooks', summary: "Rotate a batch webhook's secret",
    description: 'The replaced secret keeps signing too for the overlap (`WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS`). Without a body a secret is generated.',
    body: { schema: RotateWebhookSecretRequestSchema, required: false },
    responses: { 200: json(S.BatchWithRotatedSecretSchema, 'The batch, with the new secret shown once.') },
    errors: [409],
  },
  {
    method: 'get', path: '/v1/batches/{id}/webhook_deliveries', operationId: 'listBatchWebhookDeliveries', tag: 'Batch webhooks', summary: "Every delivery attempt of a batch's webhook events",
    query: ListDeliveriesQuery,
    responses: { 200: json(S.DeliveryAttemptListSchema, 'A page of attempts, oldest first.') },
  },
];

const deadLetters: ApiRoute[] = [
  { method: 'get', path: '/v1/webhooks/dead-letter', operationId: 'listDeadLetters', tag: 'Dead letters', summary: 'List dead-letter entries', query: ListDeadLettersQuery, responses: { 200: json(S.DeadLetterListSchema, 'A page of entries.') } },
  {
    method: 'post', path: '/v1/webhooks/dead-letter/retry', operationId: 'retryDeadLettersInBulk', tag: 'Dead letters', summary: 'Retry every matching entry',
    description: 'Up to 500 entries a call, oldest event first, started at the configured rate. An empty body retries every entry that can be retried.',
    body: { schema: BulkRetryBody, required: false },
    responses: { 202: json(S.BulkRetryResultSchema, 'The retries started.') },
  },
  { method: 'get', path: '/v1/webhooks/dead-letter/{id}', operationId: 'getDeadLetter', tag: 'Dead letters', summary: 'Get a dead-letter entry', responses: { 200: json(S.DeadLetterEntrySchema, 'The entry.') } },
  {
    method: 'post', path: '/v1/webhooks/dead-letter/{id}/retry', operationId: 'retryDeadLetter', tag: 'Dead letters', summary: "Retry an entry's delivery",
    responses: { 202: json(S.DeadLetterEntrySchema, 'The entry, `retrying`.') },
    errors: [409],
  },
  { method: 'delete', path: '/v1/webhooks/dead-letter/{id}', operationId: 'deleteDeadLetter', tag: 'Dead letters', summary: 'Delete an entry', responses: { 200: json(S.DeadLetterDeletedSchema, 'Deleted.') } },
];

const endpoints: ApiRoute[] = [
  {
    method: 'post', path: '/v1/webhook_endpoints', operationId: 'createWebhookEndpoint', tag: 'Webhook endpoints', summary: 'Register a webhook endpoint',
    body: { schema: CreateWebhookEndpointRequestSchema, required: true },
    responses: { 200: json(S.WebhookEndpointCreatedSchema, 'The endpoint, with its secret shown once.') },
    errors: [409],
  },
  { method: 'get', path: '/v1/webhook_endpoints', operationId: 'listWebhookEndpoints', tag: 'Webhook endpoints', summary: 'List webhook endpoints', query: ListWebhookEndpointsQuery, responses: { 200: json(S.WebhookEndpointListSchema, 'A page of endpoints.') } },
  { method: 'get', path: '/v1/webhook_endpoints/{id}', operationId: 'getWebhookEndpoint', tag: 'Webhook endpoints', summary: 'Get a webhook endpoint', responses: { 200: json(S.WebhookEndpointSchema, 'The endpoint.') } },
  {
    method: 'patch', path: '/v1/webhook_endpoints/{id}', operationId: 'updateWebhookEndpoint', tag: 'Webhook endpoints', summary: 'Change a webhook endpoint',
    body: { schema: UpdateWebhookEndpointRequestSchema, required: true },
    responses: { 200: json(S.WebhookEndpointSchema, 'The endpoint.') },
  },
  { method: 'delete', path: '/v1/webhook_endpoints/{id}', operationId: 'deleteWebhookEndpoint', tag: 'Webhook endpoints', summary: 'Delete a webhook endpoint', responses: { 200: json(S.WebhookEndpointDeletedSchema, 'Deleted.') } },
  {
    method: 'post', path: '/v1/webhook_endpoints/{id}/rotate_secret', operationId: 'rotateWebhookEndpointSecret', tag: 'Webhook endpoints', summary: "Rotate an endpoint's secret",
    description: 'The replaced secret keeps signing too for the overlap. Without a body a secret is generated.',
    body: { schema: RotateWebhookSecretRequestSchema, required: false },
    responses: { 200: json(S.WebhookEndpointSecretRotatedSchema, 'The endpoint, with the new secret shown once.') },
  },
  {
    method: 'post', path: '/v1/webhook_endpoints/{id}/test', operationId: 'testWebhookEndpoint', tag: 'Webhook endpoints', summary: 'Send a signed test event',
    responses: { 200: json(S.WebhookEndpointTestResultSchema, 'The outcome of the one attempt.') },
  },
  {
    method: 'post', path: '/v1/webhook_endpoints/{id}/recover', operationId: 'recoverWebhookEndpoint', tag: 'Webhook endpoints', summary: 'Redeliver what an endpoint missed',
    description: 'Its unresolved dead-letter entries whose event happened in [`since`, `until`), oldest first, at the bulk-retry rate. The endpoint must be enabled.',
    body: { schema: RecoverWebhookEndpointRequestSchema, required: true },
    responses: { 202: json(S.WebhookEndpointRecoverySchema, 'The redeliveries started.') },
    errors: [409],
  },
];

const service: ApiRoute[] = [
  { method: 'get', path: '/health', operationId: 'health', tag: 'Service', summary: 'Liveness', responses: { 200: json(S.HealthSchema, 'The process serves.') } },
  {
    method: 'get', path: '/ready', operationId: 'ready', tag: 'Service', summary: 'Readiness: Postgres, the schema, Temporal, the namespace and its search attributes',
    responses: { 200: json(S.ReadinessSchema, 'Ready.'), 503: json(S.ReadinessSchema, 'Not ready; `problems` says what is missing and how to fix it.') },
  },
  {
    method: 'get', path: '/metrics', operationId: 'metrics', tag: 'Service', summary: "Prometheus metrics (when the API serves them)",
    description: 'With `METRICS_TOKEN` set, a scrape sends it as `Authorization: Bearer <token>`.',
    responses: {
      200: { schema: z.string(), contentType: 'text/plain', description: "Prometheus' text format." },
      401: json(S.ErrorSchema, 'The metrics token is missing or wrong.'),
    },
  },
  {
    method: 'get', path: '/openapi.json', operationId: 'openApiDocument', tag: 'Service', summary: 'This document',
    responses: { 200: json(z.record(z.string(), z.unknown()), 'The OpenAPI 3.1 description of the API.') },
  },
];

/** Every route the API serves, but the pages (`/console`, `/docs`). */
export const API_ROUTES: readonly ApiRoute[] = [...files, ...batches, ...deadLetters, ...endpoints, ...service];
