-- File expiry (OpenAI's expires_after / output_expires_after) and the
-- retention clean-up (docs/RETENTION.md). Only new nullable columns and
-- indexes: existing rows are kept as they were, and files uploaded before
-- this migration never expire.

-- When the file is gone: hidden from every read at once, deleted by the
-- clean-up. Null: kept until deleted.
ALTER TABLE files ADD COLUMN IF NOT EXISTS expires_at timestamptz;
CREATE INDEX IF NOT EXISTS files_expires_at_idx ON files (expires_at) WHERE expires_at IS NOT NULL;
-- The input files batches may still be reading: the clean-up leaves them until validation ends.
CREATE INDEX IF NOT EXISTS batches_validating_input_idx ON batches (input_file_id) WHERE status IN ('validating', 'cancelling');

-- output_expires_after.seconds of the batch: its output and error files
-- expire this long after they are written. Null: they are kept.
ALTER TABLE batches ADD COLUMN IF NOT EXISTS output_expires_after_seconds integer;

-- When the clean-up removed the last per-request row of a finished batch,
-- so later runs skip the batch instead of looking at it again.
ALTER TABLE batches ADD COLUMN IF NOT EXISTS requests_purged_at timestamptz;
-- Finished batches whose rows may still be there, oldest finish first.
CREATE INDEX IF NOT EXISTS batches_requests_retention_idx
  ON batches ((COALESCE(completed_at, failed_at, expired_at, cancelled_at)))
  WHERE requests_purged_at IS NULL AND status IN ('completed', 'failed', 'expired', 'cancelled');

-- Oldest events and attempts first (a delivery's attempts are found by its unique (delivery_id, attempt)).
CREATE INDEX IF NOT EXISTS webhook_events_retention_idx ON webhook_events (created_at);
CREATE INDEX IF NOT EXISTS webhook_delivery_attempts_retention_idx ON webhook_delivery_attempts (attempted_at);
-- Resolved dead-letter entries, by when their retry was started.
CREATE INDEX IF NOT EXISTS webhook_dead_letter_resolved_idx
  ON webhook_dead_letter ((COALESCE(retried_at, created_at))) WHERE state = 'succeeded';
