-- Undo of a delete (POST /api/tasks/restore) puts back what the database recorded, never a client's
-- copy of the task. One DO block because PGlite runs a file as one prepared statement.
-- - deleted_tasks holds every task as it was when deleted. A trigger on main_table writes it, so
--   every way a row leaves the table records it: task_delete (009, 010), hence the DELETE of every
--   client and revision, and any bulk delete. TRUNCATE fires no row trigger: a backup's restore
--   empties and loads this table like the others (functions/api/backup/), so it stays consistent.
-- - A record is kept 24 h, as long as an Idempotency-Key record: task_restore ignores older ones, and
--   each delete removes up to 100 expired records as it writes (SKIP LOCKED: concurrent deletes never
--   wait on each other's clean-up; the index finds them without a scan).
-- - task_restore(ids) puts back each recorded task that no task holds the id of now, with the
--   recorded text, done, position and created_at, at the recorded version + 1: higher than any version
--   the id ever had, so an old If-Match never matches the restored task. It removes the records it
--   used, so a delete is undone at most once; an id without a record (never deleted, expired, already
--   restored) is left out of its answer.
-- - 012's task_restore(jsonb), for a revision still serving while this one rolls out, now takes only
--   the ids of its argument and does the same.
DO $migration$
BEGIN
  CREATE TABLE IF NOT EXISTS deleted_tasks (
    id         bigint       PRIMARY KEY,
    task       varchar(255) NOT NULL,
    done       boolean      NOT NULL,
    created_at timestamptz  NOT NULL,
    updated_at timestamptz  NOT NULL,
    position   text         COLLATE "C" NOT NULL,
    version    integer      NOT NULL,
    deleted_at timestamptz  NOT NULL DEFAULT now()
  );
  CREATE INDEX IF NOT EXISTS deleted_tasks_deleted_at ON deleted_tasks (deleted_at);

  CREATE OR REPLACE FUNCTION task_record_delete() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO deleted_tasks (id, task, done, created_at, updated_at, position, version)
      VALUES (OLD.id, OLD.task, OLD.done, OLD.created_at, OLD.updated_at, OLD.position, OLD.version)
      ON CONFLICT (id) DO UPDATE SET task = EXCLUDED.task, done = EXCLUDED.done, created_at = EXCLUDED.created_at,
        updated_at = EXCLUDED.updated_at, position = EXCLUDED.position, version = EXCLUDED.version, deleted_at = now();
    DELETE FROM deleted_tasks WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM deleted_tasks WHERE deleted_at <= now() - interval '24 hours' ORDER BY deleted_at LIMIT 100 FOR UPDATE SKIP LOCKED));
    RETURN NULL;
  END
  $$;
  DROP TRIGGER IF EXISTS main_table_record_delete ON main_table;
  CREATE TRIGGER main_table_record_delete AFTER DELETE ON main_table
    FOR EACH ROW EXECUTE FUNCTION task_record_delete();

  CREATE OR REPLACE FUNCTION task_restore(p_ids bigint[]) RETURNS SETOF main_table LANGUAGE plpgsql AS $$
  BEGIN
    RETURN QUERY WITH taken AS (
        DELETE FROM deleted_tasks d
         WHERE d.id = ANY (p_ids) AND d.deleted_at > now() - interval '24 hours'
           AND NOT EXISTS (SELECT FROM main_table m WHERE m.id = d.id)
        RETURNING d.*)
      INSERT INTO main_table (id, task, done, created_at, updated_at, position, version)
      SELECT r.id, r.task, r.done, r.created_at, now(), r.position, r.version + 1 FROM taken r
      ON CONFLICT (id) DO NOTHING
      RETURNING *;
  END
  $$;

  CREATE OR REPLACE FUNCTION task_restore(p_tasks jsonb) RETURNS SETOF main_table LANGUAGE plpgsql AS $$
  BEGIN
    RETURN QUERY SELECT * FROM task_restore(ARRAY(SELECT (e ->> 'id')::bigint FROM jsonb_array_elements(p_tasks) e));
  END
  $$;
END
$migration$;
