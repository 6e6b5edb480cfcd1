-- Idempotency-Key records (idempotency.ts). A keyed write stores its key, a fingerprint of the
-- request and the response it gave in the same transaction as the write itself, so a retry with
-- the same key is answered from here and writes nothing. Rows older than the retention (24 h) are
-- ignored and removed a batch at a time (004 adds the index that keeps that cheap).
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key         TEXT        PRIMARY KEY,
  fingerprint TEXT        NOT NULL,
  status      SMALLINT    NOT NULL,
  body        TEXT        NOT NULL,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
