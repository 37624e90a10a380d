-- What a finished attempt came to, as the delivery workflow saw it. An
-- attempt's steps may run again after a worker lost their result (local
-- activities): the repeat reads the outcome here instead of sending again.
ALTER TABLE webhook_delivery_attempts ADD COLUMN IF NOT EXISTS outcome jsonb;
