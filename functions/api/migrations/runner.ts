// Applying the SQL files in this folder: in order, once each, under an advisory lock, recorded with
// their checksums in schema_migrations.
import { createHash } from 'node:crypto';
import type { Db, Queryable } from '../db';
import { loadMigrations, type Migration } from './files';

/** Any constant works; it only has to be the same in every process that migrates. */
const LOCK_KEY = 7_315_240_001;

export interface MigrationResult {
  applied: string[];
  current: string;
}

/** The SHA-256 (hex) schema_migrations records for a migration's SQL. */
export const migrationChecksum = (sql: string) => createHash('sha256').update(sql).digest('hex');

/**
 * An applied migration's file no longer matches what was applied: the database and the code
 * disagree about the schema, so nothing is migrated until a person decides.
 */
export class MigrationChangedError extends Error {
  constructor(readonly file: string) {
    super(
      `migration ${file} was changed after it was applied (its SHA-256 differs from the one in schema_migrations); ` +
        'restore the file as it was and put the change in a new migration',
    );
    this.name = 'MigrationChangedError';
  }
}

/**
 * Applies pending migrations in one transaction under an advisory lock, so many pods
 * starting at once apply each file exactly once and the others wait, then see it done.
 * Throws MigrationChangedError, applying nothing, when an applied file's checksum differs
 * from the one recorded when it was applied.
 */
export async function migrate(db: Db, migrations: Migration[] = loadMigrations()): Promise<MigrationResult> {
  return db.transaction(async (q) => {
    // Waiting for another migrator and long DDL are normal here: the request-sized
    // statement_timeout does not apply (the Job's activeDeadlineSeconds bounds a stuck run).
    await q.query('SET LOCAL statement_timeout = 0');
    return applyMigrations(q, migrations);
  });
}

/** Holds the migration lock until the caller's transaction ends (re-entrant within it). */
export async function lockMigrations(q: Queryable): Promise<void> {
  await q.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
}

/**
 * The body of migrate() on a transaction the caller holds (a restore brings an empty database to
 * a backup's schema this way, in the same transaction as the data): takes the migration lock,
 * checks the recorded checksums, applies what is pending of `migrations`.
 */
export async function applyMigrations(q: Queryable, migrations: Migration[]): Promise<MigrationResult> {
  await lockMigrations(q);
  await q.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
  )`);
  const recorded = await q.query<{ version: string; checksum: string }>('SELECT version, checksum FROM schema_migrations');
  const done = new Map(recorded.map((r) => [r.version, r.checksum]));
  for (const m of migrations) {
    const was = done.get(m.version);
    if (was !== undefined && was !== migrationChecksum(m.sql)) throw new MigrationChangedError(m.name);
  }
  const applied: string[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    await q.query(m.sql);
    await q.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
      m.version,
      m.name,
      migrationChecksum(m.sql),
    ]);
    applied.push(m.name);
  }
  return { applied, current: migrations.at(-1)?.version ?? '' };
}

/** The newest recorded migration ("004"), or null when the database was never migrated. */
export async function schemaVersion(q: Queryable): Promise<string | null> {
  const [{ table }] = (await q.query<{ table: string | null }>("SELECT to_regclass('public.schema_migrations')::text AS table")) as [{ table: string | null }];
  if (table === null) return null;
  return (await q.query<{ version: string | null }>('SELECT max(version) AS version FROM schema_migrations'))[0]?.version ?? null;
}

/** True when every known migration is recorded; false when the schema is missing or behind. */
export async function migrationsApplied(db: Queryable, migrations: Migration[] = loadMigrations()): Promise<boolean> {
  try {
    const rows = await db.query<{ version: string | null }>('SELECT max(version) AS version FROM schema_migrations');
    return (rows[0]?.version ?? '') >= (migrations.at(-1)?.version ?? '');
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return false; // no schema_migrations yet
    throw err;
  }
}
