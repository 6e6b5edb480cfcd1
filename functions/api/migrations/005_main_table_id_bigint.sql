-- Task ids as bigint: a SERIAL (int4) id fails every insert past 2^31 - 1. Existing ids keep their
-- values. The table is rewritten under an exclusive lock (seconds per million rows), once.
-- (One statement per file: PGlite runs each migration as one prepared statement.)
ALTER TABLE main_table ALTER COLUMN id TYPE bigint;
