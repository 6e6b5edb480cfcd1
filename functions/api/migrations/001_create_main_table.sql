-- The seed's table, unchanged: an existing seed database already has it.
CREATE TABLE IF NOT EXISTS main_table (
  id   SERIAL PRIMARY KEY,
  task VARCHAR(255) NOT NULL
);
