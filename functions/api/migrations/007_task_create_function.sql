-- The task writes as functions (007–009). A statement locks every table it names when it is
-- parsed, before any of it runs; through a function, main_table is locked only when the call runs.
-- So a keyed write (idempotency.ts) takes its key's advisory lock first, and a repeat that comes
-- while the first waits on main_table (a long transaction, a migration) is answered 409 at once
-- instead of queueing behind it. PL/pgSQL keeps each function's plan per connection.
-- (One statement per file: PGlite runs each migration as one prepared statement.)
CREATE OR REPLACE FUNCTION task_create(p_task varchar) RETURNS SETOF main_table LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY INSERT INTO main_table (task) VALUES (p_task) RETURNING *;
END
$$;
