import { expect } from 'vitest';
import type { ApiError } from '../../src/api/api-error.js';
import type { toList } from '../../src/api/list-shape.js';
import type { BatchObject } from '../../src/batches/batch-object.js';
import type { retryDeadLettersInBulk } from '../../src/services/dead-letter-service.js';
import type { toDeadLetterObject } from '../../src/webhooks/dead-letter-object.js';
import type { toFileObject } from '../../src/services/file-service.js';
import type { toDeliveryAttemptObject } from '../../src/services/webhook-delivery-service.js';
import type { Harness } from './service-harness.js';

/** The shapes the API answers with, derived from the functions that build them. */
export type { BatchObject };
export type FileObject = ReturnType<typeof toFileObject>;
export type DeadLetterEntry = ReturnType<typeof toDeadLetterObject>;
export type DeliveryAttempt = ReturnType<typeof toDeliveryAttemptObject>;
export type BulkRetryResult = Awaited<ReturnType<typeof retryDeadLettersInBulk>>;
export type ListOf<T extends { id: string | number }> = ReturnType<typeof toList<T>>;
export type ErrorBody = ReturnType<ApiError['toBody']>;

type Api = Pick<Harness, 'api'>;
type CallOptions = Parameters<Harness['api']>[1];

/** The response's JSON body, typed as the route answers it (the one cast, in one place). */
export async function bodyOf<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** The `error` of an error response. */
export async function errorOf(res: Response): Promise<ErrorBody['error']> {
  return (await bodyOf<ErrorBody>(res)).error;
}

/** Calls `path` and returns its body, expecting `status` (200 by default). */
export async function call<T>(h: Api, path: string, init?: CallOptions, status = 200): Promise<T> {
  const res = await h.api(path, init);
  const text = await res.text();
  expect(res.status, `${init?.method ?? 'GET'} ${path}: ${text}`).toBe(status);
  return JSON.parse(text) as T;
}

export const getBatch = (h: Api, id: string, key?: string) => call<BatchObject>(h, `/v1/batches/${id}`, { key });

export const listBatches = (h: Api, query = '', key?: string) => call<ListOf<BatchObject>>(h, `/v1/batches${query}`, { key });

export const listFiles = (h: Api, query = '', key?: string) => call<ListOf<FileObject>>(h, `/v1/files${query}`, { key });

export const getDeadLetter = (h: Api, id: number, key?: string) => call<DeadLetterEntry>(h, `/v1/webhooks/dead-letter/${id}`, { key });

export const listDeadLetters = (h: Api, query = '', key?: string) =>
  call<ListOf<DeadLetterEntry>>(h, `/v1/webhooks/dead-letter${query}`, { key });

export const listDeliveryAttempts = (h: Api, batchId: string, query = '') =>
  call<ListOf<DeliveryAttempt>>(h, `/v1/batches/${batchId}/webhook_deliveries${query}`);

/**
 * Asserts OpenAI's error envelope with exactly its four fields, a message, the
 * type that goes with the status, and the expected param and code; returns the error.
 */
export async function expectError(res: Response, status: number, expected: { param?: string | null; code?: string } = {}) {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(text) as ErrorBody;
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.message).toEqual(expect.any(String));
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.type).toBe(status >= 500 ? 'server_error' : 'invalid_request_error');
  if ('param' in expected) expect(body.error.param).toBe(expected.param);
  if (expected.code) expect(body.error.code).toBe(expected.code);
  return body.error;
}
