-- Why an endpoint was disabled when the service disabled it (a 410 Gone
-- answer); null when its owner did, or while it is enabled.
ALTER TABLE webhook_endpoints ADD COLUMN IF NOT EXISTS disabled_reason text;
