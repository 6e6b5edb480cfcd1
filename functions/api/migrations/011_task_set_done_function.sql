-- Toggle all (PATCH /api/tasks): one call marks every task in p_ids done or not done. Only the rows
-- not already so change (updated_at now, version + 1 as in 010), so a repeat changes nothing; then it
-- returns every named task that exists as it is now, in id order (ids that do not exist are left
-- out). The SELECT is a statement of its own, so it sees the UPDATE's rows and whatever committed
-- meanwhile. A function for the reason given in 007.
CREATE OR REPLACE FUNCTION task_set_done(p_ids bigint[], p_done boolean) RETURNS SETOF main_table LANGUAGE plpgsql AS $$
BEGIN
  UPDATE main_table m SET done = p_done, updated_at = now(), version = m.version + 1
   WHERE m.id = ANY (p_ids) AND m.done <> p_done;
  RETURN QUERY SELECT * FROM main_table m WHERE m.id = ANY (p_ids) ORDER BY m.id;
END
$$;
