-- A test event (POST /v1/webhook_endpoints/{id}/test) belongs to no batch,
-- but is frozen and has its attempt logged like every other event.
ALTER TABLE webhook_events ALTER COLUMN batch_id DROP NOT NULL;
