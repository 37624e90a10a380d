-- Secret rotation with overlap: after a rotation, deliveries are signed with
-- the new secret and, until the expiry, also with the previous one, so a
-- receiver can switch secrets without rejecting a delivery.
ALTER TABLE batches
  ADD COLUMN IF NOT EXISTS webhook_previous_secret text,
  ADD COLUMN IF NOT EXISTS webhook_previous_secret_expires_at timestamptz;
