import { ActivityFailure, ApplicationFailure, TemporalFailure, patched, proxyActivities, setCurrentDetails, sleep, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import {
  WEBHOOK_CANNOT_CONTINUE,
  WEBHOOK_NOT_SENT,
  type WebhookAttemptOutcome,
  type WebhookDeliveryInput,
  type WebhookDeliveryResult,
  type RecordedAttempt,
  type WebhookRetrySettings,
} from './contracts.js';
import { startOperationalEvent } from './operational-event-workflow.js';

type Activities = ReturnType<typeof createActivities>;

// Deliveries started before this patch replay the old single-activity path.
const ATTEMPT_LOOP_PATCH = 'webhook-attempts-counted-by-workflow';
// Before this patch a disabled endpoint or a dead-lettered event told nobody.
const OPERATIONAL_EVENTS_PATCH = 'webhook-operational-events';
// Before this patch the steps of an attempt were three activity tasks; see attemptInOneTask.
const ONE_TASK_ATTEMPT_PATCH = 'webhook-attempt-one-activity';
// Headroom so the HTTP timeout (exactly `timeoutSeconds`) fires before Temporal gives up on the POST.
const START_TO_CLOSE_MARGIN_SECONDS = 5;
// Pause between tries while Postgres is unreachable before a request goes out; no attempt is spent.
const NOT_SENT_MAX_PAUSE_SECONDS = 60;

// Bookkeeping is retried for as long as Postgres is away: an outage pauses delivery and costs no attempt.
const bookkeeping = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: { maximumInterval: '10s' } });
// Besides the POST, attemptWebhook logs the attempt before and records it after.
const ATTEMPT_BOOKKEEPING_SECONDS = 15;

/** An attempt's outcome, and the endpoint that recording it disabled, if any. */
type RecordedOutcome = { outcome: WebhookAttemptOutcome; disabled: RecordedAttempt['disabledEndpoint'] };

/**
 * What a failed step failed with: an activity's failure comes wrapped in an
 * ActivityFailure. Anything else is a bug in the workflow, rethrown.
 */
function stepFailure(err: unknown): TemporalFailure {
  if (err instanceof ActivityFailure) return err.cause instanceof TemporalFailure ? err.cause : err;
  throw err;
}

/**
 * Seconds to wait after failed attempt `attempt`. On a schedule: the scheduled
 * wait spread by ±jitter, or the receiver's Retry-After when it asks for less.
 * Deliveries started before schedules existed: Retry-After, else exponential
 * backoff. `random` is the workflow's deterministic Math.random.
 */
export function retryDelaySeconds(outcome: WebhookAttemptOutcome, attempt: number, retry: WebhookRetrySettings, random: () => number = Math.random): number {
  const retryAfter = outcome.kind === 'failed' ? outcome.retryAfterSeconds : undefined;
  const schedule = retry.scheduleSeconds;
  if (schedule && schedule.length > 0) {
    const planned = schedule[Math.min(attempt, schedule.length) - 1]!;
    const spread = planned * (retry.jitter ?? 0) * (2 * random() - 1);
    const scheduled = Math.max(1, Math.round(planned + spread));
    return retryAfter === undefined ? scheduled : Math.min(Math.max(retryAfter, 1), scheduled);
  }
  if (retryAfter !== undefined) return Math.min(Math.max(retryAfter, 1), retry.maxIntervalSeconds);
  return Math.min(retry.initialSeconds * retry.backoff ** (attempt - 1), retry.maxIntervalSeconds);
}

/**
 * Delivers one event. The workflow counts HTTP attempts itself: each is
 * logged as started, POSTed, and its outcome recorded; only the POST is
 * limited by the job's attempts, and Postgres failures around it are retried
 * without spending any. When the attempts run out the event is dead-lettered;
 * a delivered event never is. The input carries ids and settings only; the
 * sending activity reads the URL's secret from Postgres.
 */
export async function webhookDeliveryWorkflow(input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  const deliveryId = workflowInfo().workflowId;
  if (!patched(ATTEMPT_LOOP_PATCH)) return deliverWithActivityRetries(input, deliveryId);
  const ids = { eventId: input.eventId, deliveryId };
  // Which URL and secret each attempt reads; absent for deliveries started before endpoints existed.
  const target = input.target;
  const oneTaskAttempts = patched(ONE_TASK_ATTEMPT_PATCH);
  // Never resent by Temporal: a POST that may have gone out is an attempt, and the workflow decides.
  const sendOnce = { retry: { maximumAttempts: 1 } };
  const { sendWebhook } = proxyActivities<Activities>({ ...sendOnce, startToCloseTimeout: `${input.timeoutSeconds + START_TO_CLOSE_MARGIN_SECONDS}s` });
  const { attemptWebhook } = proxyActivities<Activities>({
    ...sendOnce,
    startToCloseTimeout: `${input.timeoutSeconds + START_TO_CLOSE_MARGIN_SECONDS + ATTEMPT_BOOKKEEPING_SECONDS}s`,
  });

  /** One HTTP attempt as three activities, logged before and after; `interrupted` when its worker stopped mid-request. */
  async function attempt(n: number): Promise<RecordedOutcome> {
    for (let pause = 1; ; pause = Math.min(pause * 2, NOT_SENT_MAX_PAUSE_SECONDS)) {
      await bookkeeping.prepareWebhookAttempt({ ...ids, attempt: n, target });
      let outcome: WebhookAttemptOutcome | undefined;
      try {
        outcome = await sendWebhook({ ...ids, attempt: n, timeoutSeconds: input.timeoutSeconds, target });
      } catch (err) {
        const cause = stepFailure(err);
        if (!(cause instanceof ApplicationFailure && cause.type === WEBHOOK_NOT_SENT)) outcome = { kind: 'interrupted' };
      }
      if (outcome) return record(n, outcome);
      await sleep(`${pause}s`);
    }
  }

  /**
   * One HTTP attempt as one activity task (attemptWebhook: log, POST,
   * record) instead of three: an event delivered at once costs one activity
   * and two workflow tasks. A worker that dies mid-attempt fails the task
   * (never retried), and the attempt is recorded as interrupted. If the
   * attempt was somehow logged already, attemptWebhook sends nothing and
   * returns its recorded outcome, or `interrupted`: never a second POST.
   */
  async function attemptInOneTask(n: number): Promise<RecordedOutcome> {
    for (let pause = 1; ; pause = Math.min(pause * 2, NOT_SENT_MAX_PAUSE_SECONDS)) {
      try {
        const done = await attemptWebhook({ ...ids, attempt: n, timeoutSeconds: input.timeoutSeconds, target });
        // Postgres failed after the POST: record it the durable way, retried until it is back.
        return done.recorded ? { outcome: done.outcome, disabled: done.disabledEndpoint } : record(n, done.outcome);
      } catch (err) {
        const cause = stepFailure(err);
        // The event or its target is gone for good: the caller ends the delivery.
        if (cause instanceof ApplicationFailure && (WEBHOOK_CANNOT_CONTINUE as readonly (string | undefined)[]).includes(cause.type ?? undefined)) throw err;
        if (!(cause instanceof ApplicationFailure && cause.type === WEBHOOK_NOT_SENT)) return record(n, { kind: 'interrupted' });
      }
      await sleep(`${pause}s`);
    }
  }

  async function record(n: number, outcome: WebhookAttemptOutcome): Promise<RecordedOutcome> {
    const recorded = await bookkeeping.recordWebhookAttemptOutcome({ deliveryId, attempt: n, outcome, target });
    // Optional chaining: attempts recorded before this returned anything replay as undefined.
    return { outcome, disabled: recorded?.disabledEndpoint ?? null };
  }

  // Why the delivery stopped before its attempts ran out (say, its endpoint was disabled); kept on the dead-letter entry.
  let stoppedBecause: string | undefined;
  for (let n = 1; n <= input.maxAttempts; n++) {
    setCurrentDetails(`attempt ${n} of ${input.maxAttempts}`);
    let outcome: WebhookAttemptOutcome;
    let disabled: RecordedOutcome['disabled'];
    try {
      ({ outcome, disabled } = await (oneTaskAttempts ? attemptInOneTask(n) : attempt(n)));
    } catch (err) {
      // Only a permanent failure (the event or its target is gone) ends up here; anything else is a bug to surface.
      stoppedBecause = stepFailure(err).message;
      break;
    }
    if (disabled && patched(OPERATIONAL_EVENTS_PATCH)) {
      const subject = { type: 'webhook_endpoint.disabled' as const, endpointId: disabled.endpointId, changedAtMs: disabled.disabledAtMs };
      await startOperationalEvent({ owner: disabled.owner, subject, retry: input.retry });
    }
    if (outcome.kind === 'delivered') {
      if (input.deadLetterId !== undefined) {
        await bookkeeping.recordDeadLetterRetrySuccess({ deadLetterId: input.deadLetterId, deliveryId });
      }
      setCurrentDetails(`delivered on attempt ${n} (HTTP ${outcome.statusCode})`);
      return { status: 'delivered', attempts: n, statusCode: outcome.statusCode };
    }
    // 410 Gone (Standard Webhooks) and a refused URL end the delivery at once.
    if (outcome.kind === 'forbidden' || outcome.kind === 'gone' || n === input.maxAttempts) break;
    const delay = retryDelaySeconds(outcome, n, input.retry);
    const lastFailure = outcome.kind === 'interrupted' ? 'interrupted' : outcome.error;
    setCurrentDetails(`attempt ${n} of ${input.maxAttempts} failed (${lastFailure}); next attempt in ${delay}s`);
    await sleep(`${delay}s`);
  }
  // Dead-lettered only when the HTTP attempts ran out (or can never be made); the entry counts them from the log.
  const entry = await bookkeeping.recordDeadLetter({ ...ids, deadLetterId: input.deadLetterId, target, stoppedBecause });
  if (entry.notify && patched(OPERATIONAL_EVENTS_PATCH)) {
    const subject = { type: 'webhook.dead_lettered' as const, deadLetterId: entry.deadLetterId };
    await startOperationalEvent({ owner: entry.notify.owner, subject, retry: input.retry }, input.batchId);
  }
  setCurrentDetails(`dead-lettered after ${entry.attempts} attempts`);
  return { status: 'dead_lettered', deadLetterId: entry.deadLetterId, attempts: entry.attempts };
}

/** The path of deliveries started before ATTEMPT_LOOP_PATCH: Temporal's retries count the attempts. */
async function deliverWithActivityRetries(input: WebhookDeliveryInput, deliveryId: string): Promise<WebhookDeliveryResult> {
  const { deliverWebhook } = proxyActivities<Activities>({
    startToCloseTimeout: `${input.timeoutSeconds + START_TO_CLOSE_MARGIN_SECONDS}s`,
    retry: {
      maximumAttempts: input.maxAttempts,
      initialInterval: `${input.retry.initialSeconds}s`,
      backoffCoefficient: input.retry.backoff,
      maximumInterval: `${input.retry.maxIntervalSeconds}s`,
    },
  });
  try {
    const delivered = await deliverWebhook({ eventId: input.eventId, deliveryId, timeoutSeconds: input.timeoutSeconds });
    if (input.deadLetterId !== undefined) {
      await bookkeeping.recordDeadLetterRetrySuccess({ deadLetterId: input.deadLetterId, deliveryId });
    }
    return { status: 'delivered', attempts: delivered.attempt, statusCode: delivered.statusCode };
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const entry = await bookkeeping.recordDeadLetter({ eventId: input.eventId, deliveryId, deadLetterId: input.deadLetterId });
    return { status: 'dead_lettered', deadLetterId: entry.deadLetterId, attempts: entry.attempts };
  }
}
