-- Secret rotation with overlap for registered endpoints, as 004 did for batch
-- webhooks: until the expiry, deliveries are signed with the new secret and
-- the one it replaced.
ALTER TABLE webhook_endpoints
  ADD COLUMN IF NOT EXISTS previous_secret text,
  ADD COLUMN IF NOT EXISTS previous_secret_expires_at timestamptz;
