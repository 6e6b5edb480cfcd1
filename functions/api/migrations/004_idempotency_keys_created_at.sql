-- Expired idempotency keys are found by age, a bounded batch at a time, without a scan of the table.
-- (One statement per file: PGlite runs each migration as one prepared statement.)
CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON idempotency_keys (created_at);
