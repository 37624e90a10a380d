-- Files, batches and per-request results. Everything lives in Postgres so
-- that API and workers can run on different machines.

CREATE TABLE IF NOT EXISTS files (
  id          text PRIMARY KEY,
  owner       text NOT NULL,
  purpose     text NOT NULL,
  filename    text NOT NULL,
  bytes       bigint NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS files_owner_created_idx ON files (owner, created_at DESC, id DESC);

-- File content in ordered chunks, so uploads and downloads stream.
CREATE TABLE IF NOT EXISTS file_chunks (
  file_id  text NOT NULL REFERENCES files (id) ON DELETE CASCADE,
  seq      integer NOT NULL,
  data     bytea NOT NULL,
  PRIMARY KEY (file_id, seq)
);

CREATE TABLE IF NOT EXISTS batches (
  id                   text PRIMARY KEY,
  owner                text NOT NULL,
  endpoint             text NOT NULL,
  input_file_id        text NOT NULL,
  completion_window    text NOT NULL,
  status               text NOT NULL,
  output_file_id       text,
  error_file_id        text,
  errors               jsonb,
  metadata             jsonb,
  total_count          integer NOT NULL DEFAULT 0,
  completed_count      integer NOT NULL DEFAULT 0,
  failed_count         integer NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now(),
  in_progress_at       timestamptz,
  expires_at           timestamptz NOT NULL,
  finalizing_at        timestamptz,
  completed_at         timestamptz,
  failed_at            timestamptz,
  expired_at           timestamptz,
  cancelling_at        timestamptz,
  cancelled_at         timestamptz,
  idempotency_key      text,
  request_fingerprint  text,
  -- Webhook settings, mirroring the reference system's BatchJob model.
  webhook_url          text,
  webhook_secret       text,
  webhook_max_retries  integer,
  webhook_timeout      integer,
  webhook_events       text[]
);
CREATE INDEX IF NOT EXISTS batches_owner_created_idx ON batches (owner, created_at DESC, id DESC);
CREATE UNIQUE INDEX IF NOT EXISTS batches_owner_idempotency_key_idx
  ON batches (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- One row per input line. `result_line` is the finished JSONL line for the
-- output file (state 'completed') or the error file (state 'failed').
CREATE TABLE IF NOT EXISTS batch_requests (
  batch_id     text NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  line         integer NOT NULL,
  custom_id    text NOT NULL,
  body         text NOT NULL,
  state        text NOT NULL DEFAULT 'pending',
  result_line  text,
  finished_at  timestamptz,
  PRIMARY KEY (batch_id, line)
);
