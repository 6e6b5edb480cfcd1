-- The person's order (functions/api/task-position.ts): every task has a position, a fractional-index
-- key compared byte by byte (COLLATE "C"), so moving a task writes only its own row. The list in
-- this order is ORDER BY position, id (two tasks may share a position: two moves into one gap at
-- once). One DO block because PGlite runs a file as one prepared statement.
-- - Existing tasks keep today's order: the nth by id gets the nth integer key (a0, a1, … az, b00, …).
-- - A task inserted without a position (task_create, and the create of a revision still serving
--   while this one rolls out) goes after the last one: a trigger gives it the integer key after the
--   largest position's integer part (a0 when every position is below a0).
-- - task_update(id, task, done, position, if_match) is 010's with the position; 010's stay for the
--   revision rolling out.
-- - task_restore(tasks) puts deleted tasks back with their ids (Undo, POST /api/tasks/restore):
--   only ids the sequence has handed out and no task has now, so a restore never takes an id a
--   later create would be given, nor overwrites a task; version one more than the one deleted.
DO $migration$
BEGIN
  ALTER TABLE main_table ADD COLUMN IF NOT EXISTS position text COLLATE "C";

  -- The nth integer key from a0: a head letter for the length, then that many base-62 digits.
  CREATE OR REPLACE FUNCTION task_position_key(p_n numeric) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
  DECLARE
    digits constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    n numeric := p_n;
    len integer := 1;
    span numeric := 62;
    key text := '';
  BEGIN
    WHILE n >= span LOOP
      n := n - span;
      len := len + 1;
      span := span * 62;
    END LOOP;
    FOR i IN 1..len LOOP
      key := substr(digits, (n % 62)::integer + 1, 1) || key;
      n := floor(n / 62);
    END LOOP;
    RETURN chr(96 + len) || key;
  END
  $$;

  -- The integer key after p_key's integer part; a0 for none or one below a0 (head A–Z).
  CREATE OR REPLACE FUNCTION task_position_after(p_key text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
  DECLARE
    digits constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    len integer;
    n numeric := 0;
  BEGIN
    IF p_key IS NULL OR ascii(p_key) < 97 THEN
      RETURN 'a0';
    END IF;
    len := ascii(p_key) - 96;
    FOR i IN 1..len LOOP
      n := n * 62 + (strpos(digits, substr(p_key, 1 + i, 1)) - 1);
    END LOOP;
    FOR i IN 1..len - 1 LOOP
      n := n + 62::numeric ^ i;
    END LOOP;
    RETURN task_position_key(n + 1);
  END
  $$;

  UPDATE main_table m SET position = task_position_key(o.n)
    FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM main_table) o
   WHERE m.id = o.id AND m.position IS NULL;
  ALTER TABLE main_table ALTER COLUMN position SET NOT NULL;
  CREATE INDEX IF NOT EXISTS main_table_position_id ON main_table (position, id);

  CREATE OR REPLACE FUNCTION task_position_last() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    NEW.position := task_position_after((SELECT max(position) FROM main_table));
    RETURN NEW;
  END
  $$;
  DROP TRIGGER IF EXISTS main_table_position_last ON main_table;
  CREATE TRIGGER main_table_position_last BEFORE INSERT ON main_table
    FOR EACH ROW WHEN (NEW.position IS NULL) EXECUTE FUNCTION task_position_last();

  CREATE OR REPLACE FUNCTION task_update(p_id bigint, p_task varchar, p_done boolean, p_position text, p_if_match integer[])
    RETURNS TABLE (written boolean, t main_table) LANGUAGE plpgsql AS $$
  BEGIN
    RETURN QUERY UPDATE main_table m SET task = COALESCE(p_task, m.task), done = COALESCE(p_done, m.done), position = COALESCE(p_position, m.position),
                                         updated_at = now(), version = m.version + 1
                  WHERE m.id = p_id AND (p_if_match IS NULL OR m.version = ANY (p_if_match)) RETURNING true, m;
    IF NOT FOUND AND p_if_match IS NOT NULL THEN
      RETURN QUERY SELECT false, m FROM main_table m WHERE m.id = p_id;
    END IF;
  END
  $$;

  CREATE OR REPLACE FUNCTION task_restore(p_tasks jsonb) RETURNS SETOF main_table LANGUAGE plpgsql AS $$
  BEGIN
    RETURN QUERY INSERT INTO main_table AS m (id, task, done, position, version)
      SELECT r.id, r.task, r.done, r.position, r.version + 1
        FROM jsonb_to_recordset(p_tasks) AS r (id bigint, task varchar, done boolean, position text, version integer)
       WHERE r.id <= (SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END FROM main_table_id_seq s)
      ON CONFLICT (id) DO NOTHING
      RETURNING *;
  END
  $$;
END
$migration$;
