import type { ActivityDeps } from './activity-deps.js';
import { createBatchActivities } from './batch-activities.js';
import { createOperationalEventActivities } from './operational-event-activities.js';
import { createRetentionActivities } from './retention-activities.js';
import { createUpstreamPauseActivities } from './upstream-pause-activities.js';
import { createWebhookActivities } from './webhook-activities.js';

export type { ActivityDeps } from './activity-deps.js';

/** All activities, closed over their dependencies. Workflows import this as a type only. */
export function createActivities(deps: ActivityDeps) {
  return { ...createBatchActivities(deps), ...createWebhookActivities(deps), ...createOperationalEventActivities(deps), ...createRetentionActivities(deps), ...createUpstreamPauseActivities(deps) };
}
