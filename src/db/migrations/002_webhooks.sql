-- Webhook events, per-attempt delivery log and the dead-letter queue.

-- An event's payload is frozen when the event happens, so every attempt and
-- every manual retry sends byte-identical bodies under the same event id.
CREATE TABLE IF NOT EXISTS webhook_events (
  id          text PRIMARY KEY,
  owner       text NOT NULL,
  batch_id    text NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  type        text NOT NULL,
  seq         integer NOT NULL,
  payload     text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (batch_id, type, seq)
);

CREATE TABLE IF NOT EXISTS webhook_delivery_attempts (
  id             bigserial PRIMARY KEY,
  event_id       text NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
  delivery_id    text NOT NULL,
  attempt        integer NOT NULL,
  url            text NOT NULL,
  attempted_at   timestamptz NOT NULL,
  duration_ms    integer NOT NULL,
  status_code    integer,
  response_body  text,
  error          text,
  success        boolean NOT NULL,
  UNIQUE (delivery_id, attempt)
);
CREATE INDEX IF NOT EXISTS webhook_delivery_attempts_event_idx ON webhook_delivery_attempts (event_id, id);

CREATE TABLE IF NOT EXISTS webhook_dead_letter (
  id                bigserial PRIMARY KEY,
  owner             text NOT NULL,
  batch_id          text NOT NULL,
  event_id          text NOT NULL UNIQUE,
  event_type        text NOT NULL,
  webhook_url       text NOT NULL,
  payload           text NOT NULL,
  error_message     text,
  attempts          integer NOT NULL,
  last_attempt_at   timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  retried_at        timestamptz,
  retry_success     boolean,
  -- pending: never retried; retrying: a manual retry is running;
  -- succeeded / failed: outcome of the latest manual retry.
  state             text NOT NULL DEFAULT 'pending',
  retry_count       integer NOT NULL DEFAULT 0,
  last_delivery_id  text
);
-- Newest-first listing per owner, alone or filtered; ids grow with time.
CREATE INDEX IF NOT EXISTS webhook_dead_letter_owner_idx ON webhook_dead_letter (owner, id DESC);
CREATE INDEX IF NOT EXISTS webhook_dead_letter_owner_batch_idx ON webhook_dead_letter (owner, batch_id, id DESC);
CREATE INDEX IF NOT EXISTS webhook_dead_letter_owner_type_idx ON webhook_dead_letter (owner, event_type, id DESC);
CREATE INDEX IF NOT EXISTS webhook_dead_letter_owner_state_idx ON webhook_dead_letter (owner, state, id DESC);
