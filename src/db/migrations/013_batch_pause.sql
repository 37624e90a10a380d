-- A batch whose upstream is down pauses instead of failing its requests:
-- since when, and why (null while it runs).
ALTER TABLE batches ADD COLUMN IF NOT EXISTS paused_at timestamptz;
ALTER TABLE batches ADD COLUMN IF NOT EXISTS pause_reason text;
