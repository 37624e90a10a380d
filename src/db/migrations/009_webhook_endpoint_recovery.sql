-- Endpoints that keep failing are disabled without losing events, and the
-- service tells owners about it through operational events.

-- An owner's own key/value pairs on an endpoint, like a batch's metadata.
ALTER TABLE webhook_endpoints
  ADD COLUMN IF NOT EXISTS metadata jsonb,
  -- When the endpoint's current run of failed attempts began; null after a success.
  -- An endpoint failing for WEBHOOK_ENDPOINT_DISABLE_AFTER is disabled.
  ADD COLUMN IF NOT EXISTS failing_since timestamptz;

-- Why an entry is in the queue:
--   delivery_failed:   its attempts ran out (or its URL was refused, or its endpoint deleted)
--   endpoint_disabled: its endpoint was disabled, so the event is kept, unsent or partly
--                      sent, until POST /v1/webhook_endpoints/{id}/recover delivers it.
ALTER TABLE webhook_dead_letter
  ADD COLUMN IF NOT EXISTS reason text NOT NULL DEFAULT 'delivery_failed'
    CHECK (reason IN ('delivery_failed', 'endpoint_disabled'));

-- Operational events (webhook.dead_lettered, webhook_endpoint.*) belong to no batch,
-- and their deliveries can be dead-lettered too.
ALTER TABLE webhook_dead_letter ALTER COLUMN batch_id DROP NOT NULL;

-- Recovery replays an endpoint's entries in the order their events happened.
CREATE INDEX IF NOT EXISTS webhook_events_created_idx ON webhook_events (owner, created_at, id);
