-- An attempt is written as `started` before its request goes out and finished
-- afterwards, so an attempt cut short by a dying worker still shows in the log.
--   started:     the request is out (or its worker died and nobody has noticed yet)
--   finished:    the receiver answered, or the request failed or was refused
--   interrupted: its worker died or stopped mid-request; the outcome is unknown
ALTER TABLE webhook_delivery_attempts
  ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT 'finished'
    CHECK (state IN ('started', 'finished', 'interrupted')),
  ADD COLUMN IF NOT EXISTS finished_at timestamptz,
  -- Unknown until the attempt finishes, and for an interrupted one.
  ALTER COLUMN duration_ms DROP NOT NULL;
