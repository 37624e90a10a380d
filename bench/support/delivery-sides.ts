import { setTimeout as delay } from 'node:timers/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { Agent, request } from 'undici';
import { eventTypeName, type WebhookDeliveryInput, type WebhookDeliveryResult, type WebhookRetrySettings } from '../../src/workflows/contracts.js';
import { signWebhook } from '../../src/webhooks/webhook-signer.js';
import { deliveryStartOptions } from '../../src/workflows/delivery-start-options.js';
import type { webhookDeliveryWorkflow } from '../../src/workflows/webhook-delivery-workflow.js';
import { webhookDeliveryWorkflowId } from '../../src/workflows/workflow-ids.js';
import { withTimeout } from './cleanup.js';
import type { Settled } from './delivery-outcomes.js';
import { SEEDED_EVENT, type SeededEvent } from './seed-events.js';

export interface DeliverySettings {
  secret: string;
  maxAttempts: number;
  timeoutSeconds: number;
  retry: WebhookRetrySettings;
}

/**
 * One way of getting events to the receiver, in two steps so that a closed
 * loop can wait for each event and an open loop can hand events over on a
 * schedule and collect the outcomes afterwards.
 */
export interface DeliverySide {
  /**
   * Hands event `index` over and calls `accepted` once the side has taken it
   * (the baseline: when it sends the first POST; the stack: when the server
   * has answered the workflow start). Resolves when the hand-over is done.
   */
  start(event: SeededEvent, index: number, accepted: () => void): Promise<void>;
  /** Resolves with how event `index` ended, once it has. */
  settle(index: number): Promise<Settled['outcome']>;
  close(): Promise<void>;
}

/**
 * The baseline: sign and POST each frozen body, retrying like the delivery
 * workflow would. Its hand-over is the whole delivery.
 */
export function baselineSide(url: string, settings: DeliverySettings): DeliverySide {
  const dispatcher = new Agent();
  const outcomes = new Map<number, Settled['outcome']>();
  const { retry } = settings;
  // Delay before retry number `attempt` (1-based), as Temporal computes it for the activity.
  const retryDelayMs = (attempt: number) => 1000 * Math.min(retry.maxIntervalSeconds, retry.initialSeconds * retry.backoff ** (attempt - 1));

  return {
    async start(event, index, accepted) {
      accepted();
      for (let attempt = 1; attempt <= settings.maxAttempts; attempt++) {
        const headers = signWebhook({
          secret: settings.secret,
          eventId: event.eventId,
          eventType: eventTypeName(SEEDED_EVENT),
          body: event.payload,
          timestamp: Math.floor(Date.now() / 1000),
        });
        const res = await request(url, {
          method: 'POST',
          headers,
          body: event.payload,
          dispatcher,
          headersTimeout: settings.timeoutSeconds * 1000,
          bodyTimeout: settings.timeoutSeconds * 1000,
        });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) {
          outcomes.set(index, 'delivered');
          return;
        }
        if (attempt < settings.maxAttempts) await delay(retryDelayMs(attempt));
      }
      outcomes.set(index, 'dead_lettered');
    },
    async settle(index) {
      const outcome = outcomes.get(index);
      if (outcome === undefined) throw new Error(`baseline event ${index} was never handed over`);
      return outcome;
    },
    close: () => dispatcher.close(),
  };
}

/** The stack: one webhookDeliveryWorkflow per event, started as the service starts them. */
export function stackSide(
  client: Client,
  taskQueue: string,
  webhookUrl: string,
  settings: DeliverySettings,
  perEventTimeoutMs: number,
): DeliverySide {
  const handles = new Map<number, { eventId: string; handle: WorkflowHandle<typeof webhookDeliveryWorkflow> }>();
  return {
    async start(event, index, accepted) {
      const input: WebhookDeliveryInput = {
        batchId: event.batchId,
        eventId: event.eventId,
        event: SEEDED_EVENT,
        maxAttempts: settings.maxAttempts,
        timeoutSeconds: settings.timeoutSeconds,
        retry: settings.retry,
      };
      const handle = await client.workflow.start<typeof webhookDeliveryWorkflow>('webhookDeliveryWorkflow', {
        ...deliveryStartOptions(webhookDeliveryWorkflowId(event.batchId, SEEDED_EVENT, event.seq), webhookUrl, input),
        taskQueue,
      });
      accepted();
      handles.set(index, { eventId: event.eventId, handle });
    },
    async settle(index) {
      const started = handles.get(index);
      if (!started) throw new Error(`stack event ${index} was never started`);
      const result: WebhookDeliveryResult = await withTimeout(started.handle.result(), perEventTimeoutMs, `delivery of ${started.eventId}`);
      return result.status;
    },
    close: async () => undefined,
  };
}
