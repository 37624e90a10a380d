/**
 * What workflows, activities and the API agree on: inputs and outputs of the
 * workflows and of the activities they call, failure types, signals and the
 * lifecycle events. Workflow code is replayed, so this module stays pure: it
 * imports only the workflow SDK. A change to a shape here is a change to
 * running workflows' histories: see CONTRIBUTING.md.
 */
import { defineSignal } from '@temporalio/workflow';

// ── Lifecycle events ────────────────────────────────────────────────────────

/**
 * Every lifecycle event of a batch, where the batch workflow emits it, and
 * whether a webhook can subscribe to it. An `internal` event marks a point of
 * the lifecycle but is never delivered.
 */
export const LIFECYCLE_EVENTS = {
  in_progress: { emittedWhen: 'validation passed and requests start', delivery: 'internal' },
  progress: { emittedWhen: 'every BATCH_PROGRESS_INTERVAL_SECONDS while requests run', delivery: 'subscribable' },
  completed: { emittedWhen: 'the output and error files are written', delivery: 'subscribable' },
  failed: { emittedWhen: 'validation or a step failed for good', delivery: 'subscribable' },
  cancelled: { emittedWhen: 'a cancelled batch has stopped and its files are written', delivery: 'subscribable' },
  expired: { emittedWhen: 'the completion window closed and the files are written', delivery: 'subscribable' },
  // Opt-in (not in DEFAULT_WEBHOOK_EVENTS): the batch waits for its upstream, then runs again.
  paused: { emittedWhen: 'the upstream looks down and the batch waits for it (status stays in_progress)', delivery: 'subscribable' },
  resumed: { emittedWhen: 'the upstream answers a probe again and the paused batch goes on', delivery: 'subscribable' },
} as const satisfies Record<string, { emittedWhen: string; delivery: 'subscribable' | 'internal' }>;

export type LifecycleEvent = keyof typeof LIFECYCLE_EVENTS;
export type WebhookEvent = {
  [E in LifecycleEvent]: (typeof LIFECYCLE_EVENTS)[E]['delivery'] extends 'subscribable' ? E : never;
}[LifecycleEvent];

/** The events a webhook may name in `webhook.events`. */
export const WEBHOOK_EVENTS = (Object.keys(LIFECYCLE_EVENTS) as LifecycleEvent[]).filter(
  (event): event is WebhookEvent => LIFECYCLE_EVENTS[event].delivery === 'subscribable',
) as [WebhookEvent, ...WebhookEvent[]];

/** What a webhook gets when it names no events: every terminal event, not progress. */
export const DEFAULT_WEBHOOK_EVENTS: WebhookEvent[] = ['completed', 'failed', 'cancelled', 'expired'];

/** The event `type` as it appears in payloads and headers. */
export const eventTypeName = (event: LifecycleEvent): string => `batch.${event}`;

/**
 * An event's `type` as users see it, from the name it is stored under:
 * lifecycle events are stored bare (`completed`), every other event
 * (`webhook.test`, operational events) under its full name.
 */
export const publicEventType = (stored: string): string => (Object.hasOwn(LIFECYCLE_EVENTS, stored) ? `batch.${stored}` : stored);

// ── Operational events ──────────────────────────────────────────────────────

/**
 * Events about the webhooks themselves, sent to the owner's endpoints that
 * subscribe to them. Never about an operational event: a failed delivery of
 * one is dead-lettered without a `webhook.dead_lettered`, so nothing loops.
 */
export const OPERATIONAL_EVENT_TYPES = ['webhook.dead_lettered', 'webhook_endpoint.disabled', 'webhook_endpoint.enabled'] as const;
export type OperationalEventType = (typeof OPERATIONAL_EVENT_TYPES)[number];

export const isOperationalEventType = (type: string): type is OperationalEventType =>
  (OPERATIONAL_EVENT_TYPES as readonly string[]).includes(type);

/** What an operational event is about: a dead-letter entry, or an endpoint that was disabled or enabled. */
export type OperationalEventSubject =
  | { type: 'webhook.dead_lettered'; deadLetterId: number }
  /** `changedAtMs`: when the endpoint was disabled or enabled (its `updated_at`), which keys the event. */
  | { type: 'webhook_endpoint.disabled' | 'webhook_endpoint.enabled'; endpointId: string; changedAtMs: number };

export interface OperationalEventInput {
  owner: string;
  subject: OperationalEventSubject;
  /** The spacing of its deliveries' attempts; how many, and their timeout, come from each endpoint. */
  retry: WebhookRetrySettings;
}

/** How many events of each type a batch emitted; carried across continue-as-new. */
export type EventCounters = Partial<Record<LifecycleEvent, number>>;

// ── Batch workflow ──────────────────────────────────────────────────────────

/** The batch workflow's signal: stop sending requests, keep what finished, end `cancelled`. */
export const cancelBatchSignal = defineSignal('cancel');

/** A batch's webhook settings as the workflow holds them: no secret. */
export type BatchWebhookPlan = { url: string; events: LifecycleEvent[]; maxAttempts: number; timeoutSeconds: number };

/**
 * Sent by `PATCH /v1/batches/{id}/webhook` after the new settings are saved:
 * events the batch emits from then on use them. The plan was read when the
 * batch started, so without this a running batch would keep the old ones.
 */
export const webhookSettingsSignal = defineSignal<[BatchWebhookPlan]>('webhook-settings');

/** Statuses a batch ends in after its files are written. */
export type FinalStatus = 'completed' | 'cancelled' | 'expired';

/** `abandoned`: the batch row never appeared (the API died before committing it); nothing was written. */
export type BatchOutcome = FinalStatus | 'failed' | 'abandoned';

/** One entry of a batch's `errors.data[]`, OpenAI's shape. */
export interface BatchErrorItem {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

/** What the batch workflow needs to know to run a batch: no secrets. */
export interface BatchPlan {
  endpoint: string;
  /** The completion window; the workflow times it on its own (server) clock. */
  completionWindowMs: number;
  tuning: {
    chunkSize: number;
    chunkConcurrency: number;
    progressIntervalSeconds: number;
    continueAsNewEvents: number;
  };
  webhook: BatchWebhookPlan | null;
  webhookRetry: WebhookRetrySettings;
}

export interface BatchWorkflowInput {
  batchId: string;
  /** Present when this run continues an earlier one (continue-as-new). */
  resume?: {
    plan: BatchPlan;
    /** Workflow-clock time at which the completion window closes. */
    deadlineMs: number;
    total: number;
    nextLine: number;
    eventCounters: EventCounters;
    lastProgressAtMs: number;
    cancelRequested: boolean;
  };
}

/** Failure type of a step that Postgres refused because of the batch's data: retrying cannot help. */
export const BATCH_DATA_ERROR = 'BatchDataError';

// ── Webhook delivery workflow ───────────────────────────────────────────────

/** Global spacing of attempts; how many attempts and their timeout come from the job. */
export interface WebhookRetrySettings {
  /**
   * Waits before attempts 2, 3, … (the last repeats), each spread by ±`jitter`.
   * Absent in deliveries started before schedules existed: they use the backoff below.
   */
  scheduleSeconds?: number[];
  /** Fraction of each scheduled wait to spread it by, e.g. 0.2 for ±20 %. */
  jitter?: number;
  initialSeconds: number;
  backoff: number;
  maxIntervalSeconds: number;
}

/**
 * Whom a delivery is for: the batch's own webhook, or one of the owner's
 * registered endpoints. Each attempt reads that target's URL and secret from
 * Postgres, so neither is in the input.
 */
export type DeliveryTarget = { kind: 'batch_webhook' } | { kind: 'endpoint'; endpointId: string };

/** The endpoint a delivery serves; undefined for the batch's own webhook (and deliveries from before targets). */
export const endpointIdOf = (target: DeliveryTarget | undefined): string | undefined =>
  target?.kind === 'endpoint' ? target.endpointId : undefined;

/** How a dead-letter entry names its target: `batch_webhook` or the endpoint's id. */
export const deadLetterTargetOf = (target: DeliveryTarget | undefined): string => endpointIdOf(target) ?? 'batch_webhook';

/**
 * An event frozen together with its targets: the enabled endpoints it goes
 * to. Disabled endpoints that subscribe keep it in the dead-letter queue
 * (reason `endpoint_disabled`) until they are recovered.
 */
export interface RecordedEvent {
  eventId: string;
  endpoints: EndpointPlan[];
}

/** An operational event as frozen: the batch it concerns, if any, for tracing its deliveries. */
export interface RecordedOperationalEvent extends RecordedEvent {
  batchId: string | null;
}

/** A registered endpoint an event fans out to, as the batch workflow needs it: no secret. */
export interface EndpointPlan {
  id: string;
  /** For the delivery's memo, so operators see where it goes. */
  url: string;
  maxAttempts: number;
  timeoutSeconds: number;
}

export interface WebhookDeliveryInput {
  /** Empty for an operational event about an endpoint, which belongs to no batch. */
  batchId: string;
  eventId: string;
  /** Lifecycle event name, e.g. `completed`. */
  event: string;
  /** Total attempts before the event goes to the dead-letter queue. */
  maxAttempts: number;
  /** Seconds per attempt: the HTTP timeout. */
  timeoutSeconds: number;
  retry: WebhookRetrySettings;
  /** Set when this delivery is a manual retry of a dead-letter entry. */
  deadLetterId?: number;
  /** Absent in deliveries started before endpoints existed: those are for the batch's own webhook. */
  target?: DeliveryTarget;
}

/** What a recorded attempt changed: the endpoint it disabled (410 Gone, or failing too long), if any. */
export type RecordedAttempt = { disabledEndpoint: { endpointId: string; owner: string; disabledAtMs: number } | null };

/** A dead-letter entry as written; `notify` when it is new and worth a `webhook.dead_lettered`. */
export type RecordedDeadLetter = { deadLetterId: number; attempts: number; notify?: { owner: string } };

export type WebhookDeliveryResult =
  | { status: 'delivered'; attempts: number; statusCode: number }
  | { status: 'dead_lettered'; deadLetterId: number; attempts: number };

/**
 * What one HTTP attempt came to, as a value: the receiver took it
 * (`delivered`), it failed and may be retried (`failed`, with the receiver's
 * Retry-After in seconds), the receiver answered 410 Gone and wants no more
 * (`gone`), or the URL is refused for good (`forbidden`).
 */
export type WebhookSendOutcome = {
  statusCode: number | null;
  /** First KB of the receiver's answer. */
  responseBody: string | null;
  /** Unix milliseconds when the request went out. */
  attemptedAt: number;
  durationMs: number;
} & (
  | { kind: 'delivered'; statusCode: number }
  | { kind: 'failed'; error: string; retryAfterSeconds?: number }
  | { kind: 'forbidden'; error: string }
  | { kind: 'gone'; error: string }
);

/** An attempt's outcome as recorded: `interrupted` when its worker stopped mid-request. */
export type WebhookAttemptOutcome = WebhookSendOutcome | { kind: 'interrupted' };

/** Failure type thrown before the request goes out (Postgres unreachable): not an attempt; safe to send again. */
export const WEBHOOK_NOT_SENT = 'WebhookNotSent';

/** Failure types that end a delivery before its attempts run out: its event or its target is gone. */
export const WEBHOOK_CANNOT_CONTINUE = ['WebhookEventNotFound', 'WebhookTargetUnavailable', 'WebhookNotConfigured'] as const;

/** What one attempt in one task (log, POST, record) came to; `recorded: false` when Postgres failed after the POST. */
export type OneTaskAttemptResult = { outcome: WebhookAttemptOutcome; recorded: boolean } & RecordedAttempt;

// ── Dead-letter bulk retry workflow ─────────────────────────────────────────

export interface DeadLetterBulkRetryInput {
  deliveries: { workflowId: string; webhookUrl: string; input: WebhookDeliveryInput }[];
  perSecond: number;
}

// ── Endpoint test event ─────────────────────────────────────────────────────

/** The `type` of the event `POST /v1/webhook_endpoints/{id}/test` sends. */
export const TEST_EVENT_TYPE = 'webhook.test';

export interface WebhookTestInput {
  eventId: string;
  endpointId: string;
  timeoutSeconds: number;
}

/** `not_sent`: the endpoint was disabled or deleted before the request could go out. */
export type WebhookTestResult = { status: 'delivered' | 'failed' | 'not_sent'; statusCode: number | null; error: string | null };
