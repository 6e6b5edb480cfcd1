-- The id sequence as bigint, up to 2^53 - 1: the largest integer a JSON number keeps exact in
-- JavaScript, so every id a client sees is exact. An insert past it fails with SQLSTATE 2200H,
-- which the API answers 503 ids_exhausted (errors.ts), not a wrong or rounded id.
ALTER SEQUENCE main_table_id_seq AS bigint MAXVALUE 9007199254740991;
