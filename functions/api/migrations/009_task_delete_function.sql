-- Deletes a task; its id, or no row when the id does not exist. See 007.
CREATE OR REPLACE FUNCTION task_delete(p_id bigint) RETURNS SETOF bigint LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY DELETE FROM main_table WHERE id = p_id RETURNING id;
END
$$;
