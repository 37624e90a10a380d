-- OpenAI parity: a batch's `model` and token `usage`, and batches that retry
-- another one's failed requests (`retried_from` / `retries`). Only new
-- columns and an index: existing rows are kept; batches from before this
-- migration have no model and count the usage of requests finished after it.

-- The one model of the input file, known once validation passed.
ALTER TABLE batches ADD COLUMN IF NOT EXISTS model text;

-- Usage summed over the requests' answers, in the transaction that first saves
-- each request's result (so a retried or moved chunk never counts one twice),
-- and recomputed from the rows when the files are written.
ALTER TABLE batches ADD COLUMN IF NOT EXISTS usage_input_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN IF NOT EXISTS usage_output_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN IF NOT EXISTS usage_total_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN IF NOT EXISTS usage_cached_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN IF NOT EXISTS usage_reasoning_tokens bigint NOT NULL DEFAULT 0;

-- Each request's usage, stored with its result; null: no usage reported (or not finished).
ALTER TABLE batch_requests ADD COLUMN IF NOT EXISTS input_tokens integer;
ALTER TABLE batch_requests ADD COLUMN IF NOT EXISTS output_tokens integer;
ALTER TABLE batch_requests ADD COLUMN IF NOT EXISTS total_tokens integer;
ALTER TABLE batch_requests ADD COLUMN IF NOT EXISTS cached_tokens integer;
ALTER TABLE batch_requests ADD COLUMN IF NOT EXISTS reasoning_tokens integer;

-- The batch whose failed requests this batch retries (POST /v1/batches/{id}/retry_failed).
ALTER TABLE batches ADD COLUMN IF NOT EXISTS retried_from text REFERENCES batches (id) ON DELETE SET NULL;
-- A batch's retries, oldest first.
CREATE INDEX IF NOT EXISTS batches_retried_from_idx ON batches (retried_from, created_at, id) WHERE retried_from IS NOT NULL;
