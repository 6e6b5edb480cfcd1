-- Changes a task's text and/or done (NULL keeps the value); no row when the id does not exist. See 007.
CREATE OR REPLACE FUNCTION task_update(p_id bigint, p_task varchar, p_done boolean) RETURNS SETOF main_table LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY UPDATE main_table SET task = COALESCE(p_task, task), done = COALESCE(p_done, done), updated_at = now()
                WHERE id = p_id RETURNING *;
END
$$;
