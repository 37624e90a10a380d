import { findDeadLetter } from '../db/webhook-dead-letters.js';
import { findWebhookEndpoint, listSubscribedEndpoints } from '../db/webhook-endpoints.js';
import { insertEventWithoutBatch } from '../db/webhook-events.js';
import { toDeadLetterObject } from '../webhooks/dead-letter-object.js';
import { toWebhookEndpointObject } from '../webhooks/webhook-endpoint-object.js';
import type { OperationalEventSubject, RecordedOperationalEvent } from '../workflows/contracts.js';
import type { ActivityDeps } from './activity-deps.js';
import { toEndpointPlan } from './webhook-activities.js';

/** The event's `data` and the batch it concerns; null when its subject is gone (deleted meanwhile). */
async function describeSubject(deps: ActivityDeps, owner: string, subject: OperationalEventSubject) {
  if (subject.type === 'webhook.dead_lettered') {
    const row = await findDeadLetter(deps.pool, owner, subject.deadLetterId);
    return row ? { data: toDeadLetterObject(row), batchId: row.batch_id, aboutEndpoint: null } : null;
  }
  const row = await findWebhookEndpoint(deps.pool, owner, subject.endpointId);
  return row ? { data: toWebhookEndpointObject(row), batchId: null, aboutEndpoint: row.id } : null;
}

export function createOperationalEventActivities(deps: ActivityDeps) {
  return {
    /**
     * Freezes an operational event under the id the workflow chose (a retry
     * finds it) and returns the owner's enabled endpoints that subscribe to
     * it, never the endpoint it is about. Logged at warn level whether or not
     * anyone subscribes: it is something the owner should hear of.
     */
    async recordOperationalEvent({ eventId, owner, subject }: { eventId: string; owner: string; subject: OperationalEventSubject }): Promise<RecordedOperationalEvent | null> {
      const about = await describeSubject(deps, owner, subject);
      if (!about) return null;
      const subscribed = (await listSubscribedEndpoints(deps.pool, owner, subject.type)).filter((row) => row.enabled && row.id !== about.aboutEndpoint);
      deps.log.warn({ owner, eventType: subject.type, ...subject, eventId, subscribers: subscribed.length }, `operational event ${subject.type}`);
      if (subscribed.length === 0) return { eventId, batchId: about.batchId, endpoints: [] };
      const payload = JSON.stringify({ id: eventId, object: 'event', type: subject.type, created_at: Math.floor(Date.now() / 1000), data: about.data });
      await insertEventWithoutBatch(deps.pool, { id: eventId, owner, type: subject.type, payload });
      return {
        eventId,
        batchId: about.batchId,
        endpoints: subscribed.map(toEndpointPlan),
      };
    },
  };
}
