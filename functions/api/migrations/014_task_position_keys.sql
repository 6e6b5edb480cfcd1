-- Position keys at the ends of the key space (012, functions/api/task-position.ts). One DO block
-- because PGlite runs a file as one prepared statement.
-- - task_position_after(key) past the largest integer part (z and 26 z's) made "{000…", which is
--   no key: after it the list's cursors and the page's moves failed. There it now keeps the integer
--   part and takes a fraction after the key's own, as positionBetween(key, null) does; for every
--   other key from a0 up it is, as before, the next integer part (a0 below a0), now exact for the
--   long ones too (task_position_key).
-- - task_position_valid(key) is task-position.ts's positionProblem(key) = null, and a CHECK on
--   main_table holds every position to it, so no write, the database's own included, stores a key
--   the API and the page cannot read; the API answers a refused one 400 (errors.ts). Keys made
--   invalid before this migration (in main_table and in deleted_tasks) are given new ones after the
--   last valid key, in their order.
DO $migration$
DECLARE
  r record;
BEGIN
  CREATE OR REPLACE FUNCTION task_position_valid(p_key text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
  DECLARE
    digits constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    head integer := ascii(p_key);
    len integer; -- the integer part's length, its head letter included
  BEGIN
    IF p_key IS NULL OR length(p_key) > 255 OR ltrim(p_key, digits) <> '' THEN
      RETURN false;
    ELSIF head BETWEEN 97 AND 122 THEN
      len := head - 97 + 2;
    ELSIF head BETWEEN 65 AND 90 THEN
      len := 90 - head + 2;
    ELSE
      RETURN false;
    END IF;
    RETURN length(p_key) >= len AND p_key <> 'A' || repeat('0', 26) AND NOT (length(p_key) > len AND right(p_key, 1) = '0');
  END
  $$;

  -- 012's, with integer division (div): n / 62 is rounded to numeric's scale, which past about
  -- 16 digits rounded up, and floor() then gave the next digit ('z000…' for 'zzz…').
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
      key := substr(digits, mod(n, 62)::integer + 1, 1) || key;
      n := div(n, 62);
    END LOOP;
    RETURN chr(96 + len) || key;
  END
  $$;

  CREATE OR REPLACE FUNCTION task_position_after(p_key text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
  DECLARE
    digits constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    len integer;
    n numeric := 0;
    fraction text;
    i integer := 1;
    d numeric;
  BEGIN
    IF p_key IS NULL OR ascii(p_key) < 97 THEN
      RETURN 'a0';
    END IF;
    len := ascii(p_key) - 96;
    IF substr(p_key, 1, 27) = 'z' || repeat('z', 26) THEN
      -- No integer part is larger: a fraction above the key's own (task-position.ts midpoint(fraction, null)):
      -- its leading z's, then the digit halfway from its next digit (0 past its end) to the top.
      fraction := substr(p_key, 28);
      WHILE i <= length(fraction) AND substr(fraction, i, 1) = 'z' LOOP
        i := i + 1;
      END LOOP;
      d := CASE WHEN i <= length(fraction) THEN strpos(digits, substr(fraction, i, 1)) - 1 ELSE 0 END;
      RETURN substr(p_key, 1, 27) || substr(fraction, 1, i - 1) || substr(digits, round((d + 62) / 2.0)::integer + 1, 1);
    END IF;
    FOR i IN 1..len LOOP
      n := n * 62 + (strpos(digits, substr(p_key, 1 + i, 1)) - 1);
    END LOOP;
    d := 1;
    FOR i IN 1..len - 1 LOOP
      d := d * 62;
      n := n + d;
    END LOOP;
    RETURN task_position_key(n + 1);
  END
  $$;

  FOR r IN SELECT id FROM main_table WHERE NOT task_position_valid(position) ORDER BY position, id LOOP
    UPDATE main_table SET position = task_position_after((SELECT max(position) FROM main_table WHERE task_position_valid(position))),
                          updated_at = now(), version = version + 1
     WHERE id = r.id;
  END LOOP;
  -- A recorded delete (013) with such a key comes back after the last task.
  FOR r IN SELECT id FROM deleted_tasks WHERE NOT task_position_valid(position) ORDER BY position, id LOOP
    UPDATE deleted_tasks SET position = task_position_after((SELECT max(p) FROM (SELECT position AS p FROM main_table UNION ALL
                                                                                  SELECT position FROM deleted_tasks WHERE task_position_valid(position)) k))
     WHERE id = r.id;
  END LOOP;
  IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'main_table_position_valid') THEN
    ALTER TABLE main_table ADD CONSTRAINT main_table_position_valid CHECK (task_position_valid(position));
  END IF;
END
$migration$;
