-- Registered webhook endpoints: an owner's standing subscriptions, each of
-- which receives every subscribed lifecycle event of every batch of that
-- owner, beside the batch's own webhook.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
  id           text PRIMARY KEY,
  owner        text NOT NULL,
  url          text NOT NULL,
  -- Read only by the activity that signs; shown once, in the creation answer.
  secret       text NOT NULL,
  events       text[] NOT NULL,
  description  text,
  enabled      boolean NOT NULL DEFAULT true,
  max_retries  integer NOT NULL,
  timeout      integer NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Newest-first listing per owner, and the fan-out lookup of an owner's enabled endpoints.
CREATE INDEX IF NOT EXISTS webhook_endpoints_owner_idx ON webhook_endpoints (owner, created_at DESC, id DESC);

-- A dead-letter entry belongs to one target of its event: the batch's own
-- webhook or one endpoint. Entries written before endpoints existed were all
-- for the batch webhook. One event now has one entry per target.
ALTER TABLE webhook_dead_letter ADD COLUMN IF NOT EXISTS target text NOT NULL DEFAULT 'batch_webhook';
ALTER TABLE webhook_dead_letter DROP CONSTRAINT IF EXISTS webhook_dead_letter_event_id_key;
CREATE UNIQUE INDEX IF NOT EXISTS webhook_dead_letter_event_target_key ON webhook_dead_letter (event_id, target);
CREATE INDEX IF NOT EXISTS webhook_dead_letter_owner_target_idx ON webhook_dead_letter (owner, target, id DESC);
