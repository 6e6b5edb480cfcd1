-- Conditional writes (RFC 9110 §13.1.1 If-Match): every task carries a version, 1 when created and
-- one more on every change; the API's ETag is this number. One DO block because PGlite runs a file as
-- one prepared statement; the functions are those of 007–009 with the version (see 007 for why writes
-- are functions).
-- - task_update(id, task, done) keeps its signature and bumps the version, for a revision still
--   serving while this one rolls out.
-- - task_update(id, task, done, if_match) and task_delete(id, if_match) write only when if_match is
--   NULL (no condition) or holds the row's version: the condition is in the write's own WHERE, so
--   nothing can change the row between check and write (a waiting UPDATE re-checks it on the row
--   version it finally locks). `written` says which happened; when the condition failed, `t` is the
--   task as it is now (its answer is 412). No row: no such task.
DO $migration$
BEGIN
  ALTER TABLE main_table ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 1;

  CREATE OR REPLACE FUNCTION task_update(p_id bigint, p_task varchar, p_done boolean) RETURNS SETOF main_table LANGUAGE plpgsql AS $$
  BEGIN
    RETURN QUERY UPDATE main_table SET task = COALESCE(p_task, task), done = COALESCE(p_done, done), updated_at = now(), version = version + 1
                  WHERE id = p_id RETURNING *;
  END
  $$;

  CREATE OR REPLACE FUNCTION task_update(p_id bigint, p_task varchar, p_done boolean, p_if_match integer[])
    RETURNS TABLE (written boolean, t main_table) LANGUAGE plpgsql AS $$
  BEGIN
    RETURN QUERY UPDATE main_table m SET task = COALESCE(p_task, m.task), done = COALESCE(p_done, m.done), updated_at = now(), version = m.version + 1
                  WHERE m.id = p_id AND (p_if_match IS NULL OR m.version = ANY (p_if_match)) RETURNING true, m;
    IF NOT FOUND AND p_if_match IS NOT NULL THEN
      RETURN QUERY SELECT false, m FROM main_table m WHERE m.id = p_id;
    END IF;
  END
  $$;

  CREATE OR REPLACE FUNCTION task_delete(p_id bigint, p_if_match integer[])
    RETURNS TABLE (written boolean, t main_table) LANGUAGE plpgsql AS $$
  BEGIN
    RETURN QUERY DELETE FROM main_table m WHERE m.id = p_id AND (p_if_match IS NULL OR m.version = ANY (p_if_match)) RETURNING true, m;
    IF NOT FOUND AND p_if_match IS NOT NULL THEN
      RETURN QUERY SELECT false, m FROM main_table m WHERE m.id = p_id;
    END IF;
  END
  $$;
END
$migration$;
