import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../src/activities/index.js';
import { parseConfig } from '../src/config.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { insertEventWithoutBatch } from '../src/db/webhook-events.js';
import { newId } from '../src/shared/ids.js';
import { createLogger } from '../src/shared/logger.js';
import { createUpstreamClient } from '../src/upstream/upstream-client.js';
import { createWebhookDispatcher } from '../src/webhooks/url-guard.js';
import { WEBHOOK_NOT_SENT, type OneTaskAttemptResult } from '../src/workflows/contracts.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

/**
 * The attempt activity against a real Postgres whose connection fails once,
 * right after the attempt is logged as started: the failure must not cost the
 * attempt (sent nothing, yet counted as interrupted when the workflow tries
 * the attempt again). Nothing but the POST may happen between the two.
 */
let pool: Pool;
let cutAfterLoggedAttempt = false;
let cut = false;

/** The real pool, except that the first query after an attempt is logged fails as a dropped connection would. */
function poolFailingOnceAfterLogging(real: Pool): Pool {
  return new Proxy(real, {
    get(target, prop, receiver) {
      if (prop !== 'query') {
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (text: string, params?: unknown[]) => {
        if (cut) {
          cut = false;
          throw new Error('Connection terminated unexpectedly');
        }
        const result = await target.query(text, params);
        if (cutAfterLoggedAttempt && String(text).includes('INSERT INTO webhook_delivery_attempts')) {
          cutAfterLoggedAttempt = false;
          cut = true;
        }
        return result;
      };
    },
  }) as Pool;
}

beforeAll(() => {
  pool = createPool(inject('databaseUrl'), 4);
});
afterAll(async () => {
  await pool?.end();
});

describe('a webhook attempt when Postgres drops right after logging it', () => {
  it('still sends it once and keeps its outcome: the attempt is not spent', async () => {
    const receiver = await startWebhookReceiver(() => ({ status: 204 }));
    const config = parseConfig({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', UPSTREAM_BASE_URL: 'http://127.0.0.1:9', LOG_LEVEL: 'silent' });
    const owner = `fault-${newId('o')}`;
    const endpointId = newId('we');
    await pool.query(
      `INSERT INTO webhook_endpoints (id, owner, url, secret, events, max_retries, timeout) VALUES ($1, $2, $3, 'whsec_dGVzdA==', '{completed}', 3, 5)`,
      [endpointId, owner, receiver.url],
    );
    const eventId = newId('evt');
    await insertEventWithoutBatch(pool, { id: eventId, owner, type: 'webhook.dead_lettered', payload: JSON.stringify({ id: eventId }) });
    const upstream = createUpstreamClient({ ...config.upstream, baseUrl: 'http://127.0.0.1:9' });
    const webhookDispatcher = createWebhookDispatcher({ allowPrivateNetworks: true });
    const activities = createActivities({ pool: poolFailingOnceAfterLogging(pool), upstream, webhookDispatcher, config, log: createLogger('silent', 'test') });
    const input = { eventId, deliveryId: `fault-test/${eventId}`, attempt: 1, timeoutSeconds: 5, target: { kind: 'endpoint' as const, endpointId } };
    try {
      cutAfterLoggedAttempt = true;
      // As the workflow does: an attempt that was not sent is tried again, the attempt number kept.
      let result: OneTaskAttemptResult | undefined;
      for (let tries = 0; tries < 3 && !result; tries++) {
        try {
          result = await new MockActivityEnvironment().run(activities.attemptWebhook, input);
        } catch (err) {
          if (!(err instanceof ApplicationFailure && err.type === WEBHOOK_NOT_SENT)) throw err;
        }
      }
      expect(result?.outcome).toMatchObject({ kind: 'delivered', statusCode: 204 });
      expect(receiver.received).toHaveLength(1);
      // Whichever step met the dropped connection, the outcome ends up recorded (here or by the workflow's recording activity).
      if (!result?.recorded) await activities.recordWebhookAttemptOutcome({ deliveryId: input.deliveryId, attempt: 1, outcome: result!.outcome, target: input.target });
      const { rows } = await pool.query(`SELECT state, status_code FROM webhook_delivery_attempts WHERE delivery_id = $1`, [input.deliveryId]);
      expect(rows).toEqual([{ state: 'finished', status_code: 204 }]);
    } finally {
      await upstream.close();
      await webhookDispatcher.close();
      await receiver.close();
    }
  });
});
