-- Completion state and timestamps. ADD COLUMN ... DEFAULT fills existing seed rows in place.
ALTER TABLE main_table
  ADD COLUMN IF NOT EXISTS done       BOOLEAN     NOT NULL DEFAULT false,
  ADD COLUMN IF NOT EXISTS created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  ADD COLUMN IF NOT EXISTS updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
