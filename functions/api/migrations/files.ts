import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Migration {
  version: string; // "001"
  name: string; // "001_create_main_table.sql"
  sql: string;
}

/** The migrations in `dir`: its files named `NNN_name.sql`, in order of NNN. */
export function readMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((name) => ({ version: name.slice(0, 3), name, sql: readFileSync(join(dir, name), 'utf8') }));
}

/**
 * The SQL files in this folder, in order. The production bundle replaces this module with
 * the same list embedded at build time (scripts/build-functions.ts, through readMigrations),
 * so it needs no files.
 */
export function loadMigrations(): Migration[] {
  return readMigrations(fileURLToPath(new URL('.', import.meta.url)));
}
