import { expect } from 'vitest';
import type { BatchOutcome, WebhookDeliveryResult } from '../../src/workflows/contracts.js';
import { batchWorkflowId, webhookDeliveryWorkflowId } from '../../src/workflows/workflow-ids.js';
import { bodyOf, getBatch, type BatchObject } from './api-client.js';
import type { Harness } from './service-harness.js';

/** What `POST /v1/batches` takes besides the input file; endpoint and window default to chat and 24h. */
export interface BatchRequest {
  endpoint?: string;
  completion_window?: string;
  metadata?: Record<string, string>;
  webhook?: Record<string, unknown>;
}

/** Uploads `jsonl` and creates a batch on it; expects a 200 and returns the batch object. */
export async function createBatch(h: Harness, jsonl: string, request: BatchRequest = {}, key?: string): Promise<BatchObject> {
  const inputFileId = await h.upload(jsonl, key);
  const res = await h.api('/v1/batches', {
    method: 'POST',
    key,
    json: { input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h', ...request },
  });
  const batch = await bodyOf<BatchObject>(res);
  expect(res.status, JSON.stringify(batch)).toBe(200);
  return batch;
}

/** Waits for the batch's workflow to end and returns how it ended. */
export function batchOutcome(h: Harness, batchId: string): Promise<BatchOutcome> {
  return h.env.client.workflow.getHandle(batchWorkflowId(batchId)).result();
}

/** Waits for the batch's workflow to end, then returns the batch as the API shows it. */
export async function finishedBatch(h: Harness, batchId: string, key?: string): Promise<BatchObject> {
  await batchOutcome(h, batchId);
  return getBatch(h, batchId, key);
}

/** Waits for the delivery of the batch's `seq`-th `event` and returns its result. */
export function deliveryResult(h: Harness, batchId: string, event: string, seq = 1): Promise<WebhookDeliveryResult> {
  return h.env.client.workflow.getHandle(webhookDeliveryWorkflowId(batchId, event, seq)).result();
}

/** One line of a batch's output or error file, OpenAI's shape; `Body` is the upstream's answer. */
export interface ResultLine<Body = unknown> {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string | null; body: Body } | null;
  error: { code: string; message: string } | null;
}

/** The file's JSONL content, one parsed line each; expects a 200. */
export async function fileLines<Body = unknown>(h: Pick<Harness, 'api'>, fileId: string): Promise<ResultLine<Body>[]> {
  const res = await h.api(`/v1/files/${fileId}/content`);
  expect(res.status).toBe(200);
  return (await res.text())
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ResultLine<Body>);
}

/** The dead-letter entry id of a delivery that must have been dead-lettered. */
export function deadLetterIdOf(result: WebhookDeliveryResult): number {
  if (result.status !== 'dead_lettered') throw new Error(`expected a dead-lettered delivery, got ${JSON.stringify(result)}`);
  return result.deadLetterId;
}
