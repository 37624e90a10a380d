import type { z } from 'zod';
import type { ApiError } from '../api-error.js';
import type { toList } from '../list-shape.js';
import type { toBatchObject } from '../../batches/batch-object.js';
import type { retryDeadLettersInBulk, deleteDeadLetterObject } from '../../services/dead-letter-service.js';
import type { rotateWebhookSecret } from '../../services/batch-webhook-service.js';
import type { deleteFileObject, toFileObject } from '../../services/file-service.js';
import type { toDeliveryAttemptObject } from '../../services/webhook-delivery-service.js';
import type {
  createWebhookEndpoint,
  deleteWebhookEndpointObject,
  recoverWebhookEndpoint,
  rotateWebhookEndpointSecretOf,
} from '../../services/webhook-endpoint-service.js';
import type { sendTestEvent } from '../../services/webhook-endpoint-test-service.js';
import type { toDeadLetterObject } from '../../webhooks/dead-letter-object.js';
import type { toWebhookEndpointObject } from '../../webhooks/webhook-endpoint-object.js';
import type * as S from './response-schemas.js';

/**
 * Type-level proof that every response schema of the OpenAPI document
 * describes exactly what the code answers: each line fails `tsc` when a
 * schema's type and the return type of the function that shapes that answer
 * differ in a field, its type, its nullability or its optionality.
 */

/** True when A and B are each assignable to the other (same fields, same types). */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Expect<T extends true> = T;
type Shape<S extends z.ZodType> = z.output<S>;
type Answer<F extends (...args: never[]) => unknown> = Awaited<ReturnType<F>>;

export type ResponseSchemasMatchTheCode = [
  Expect<Same<Shape<typeof S.ErrorSchema>, ReturnType<ApiError['toBody']>>>,
  Expect<Same<Shape<typeof S.FileSchema>, Answer<typeof toFileObject>>>,
  Expect<Same<Shape<typeof S.FileDeletedSchema>, Answer<typeof deleteFileObject>>>,
  Expect<Same<Shape<typeof S.FileListSchema>, ReturnType<typeof toList<Answer<typeof toFileObject>>>>>,
  Expect<Same<Shape<typeof S.BatchSchema>, Answer<typeof toBatchObject>>>,
  Expect<Same<Shape<typeof S.BatchListSchema>, ReturnType<typeof toList<Answer<typeof toBatchObject>>>>>,
  Expect<Same<Shape<typeof S.BatchWithRotatedSecretSchema>, Answer<typeof rotateWebhookSecret>>>,
  Expect<Same<Shape<typeof S.DeliveryAttemptSchema>, Answer<typeof toDeliveryAttemptObject>>>,
  Expect<Same<Shape<typeof S.DeliveryAttemptListSchema>, ReturnType<typeof toList<Answer<typeof toDeliveryAttemptObject>>>>>,
  Expect<Same<Shape<typeof S.DeadLetterEntrySchema>, Answer<typeof toDeadLetterObject>>>,
  Expect<Same<Shape<typeof S.DeadLetterListSchema>, ReturnType<typeof toList<Answer<typeof toDeadLetterObject>>>>>,
  Expect<Same<Shape<typeof S.DeadLetterDeletedSchema>, Answer<typeof deleteDeadLetterObject>>>,
  Expect<Same<Shape<typeof S.BulkRetryResultSchema>, Answer<typeof retryDeadLettersInBulk>>>,
  Expect<Same<Shape<typeof S.WebhookEndpointSchema>, Answer<typeof toWebhookEndpointObject>>>,
  Expect<Same<Shape<typeof S.WebhookEndpointCreatedSchema>, Answer<typeof createWebhookEndpoint>>>,
  Expect<Same<Shape<typeof S.WebhookEndpointSecretRotatedSchema>, Answer<typeof rotateWebhookEndpointSecretOf>>>,
  Expect<Same<Shape<typeof S.WebhookEndpointListSchema>, ReturnType<typeof toList<Answer<typeof toWebhookEndpointObject>>>>>,
  Expect<Same<Shape<typeof S.WebhookEndpointDeletedSchema>, Answer<typeof deleteWebhookEndpointObject>>>,
  Expect<Same<Shape<typeof S.WebhookEndpointRecoverySchema>, Answer<typeof recoverWebhookEndpoint>>>,
  Expect<Same<Shape<typeof S.WebhookEndpointTestResultSchema>, Answer<typeof sendTestEvent>>>,
];
