import { ConfigError, loadConfig, type Config } from '../config';
import { openDb } from '../db';
import { AUTH_FAILED, sqlState, type Db } from '../db/types';
import { isDatabaseUnavailable } from '../errors';
import { createLogger } from '../logger';
import { BackupError, EXIT_CODES } from './errors';
import type { Manifest } from './format';

/**
 * What `backup` and `restore` share: the database opened exactly as the API opens it (DATABASE_URL,
 * the DB_* variables, DB_CREDENTIALS_DIR, or the PGlite directory when none is set), and one line
 * per failure on stderr with an exit code per kind (errors.ts), never a stack trace or a secret.
 */
export function databaseConfig(env: Record<string, string | undefined> = process.env): Config {
  return loadConfig({ ...env, MIGRATE_ON_START: 'false' });
}

export async function openDatabase(config: Config): Promise<Db> {
  // The driver's own warnings (a dropped idle connection) only; the command prints its own lines.
  return openDb(config, createLogger('error'));
}

/** The exit code and the one line a failure gets. */
export function failure(err: unknown): { exitCode: number; message: string } {
  if (err instanceof BackupError) return { exitCode: EXIT_CODES[err.kind], message: err.message };
  if (err instanceof ConfigError) return { exitCode: EXIT_CODES.config, message: `Invalid configuration:\n  ${err.message}` };
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === 'DirectoryLockedError') return { exitCode: EXIT_CODES.unreachable, message: String(e.message) };
  const state = sqlState(err);
  if (state && AUTH_FAILED.has(state)) {
    return { exitCode: EXIT_CODES.denied, message: `the database refused the credentials (${state}: ${e.message})` };
  }
  if (state === '3D000') return { exitCode: EXIT_CODES.config, message: `the configured database does not exist (${e.message})` };
  if (state === '42501') return { exitCode: EXIT_CODES.denied, message: `the database user lacks a privilege the command needs (${e.message}); use the owner's credentials` };
  if (isDatabaseUnavailable(err)) {
    return { exitCode: EXIT_CODES.unreachable, message: `cannot reach the database (${e.code ?? ''}${e.code ? ': ' : ''}${e.message})` };
  }
  return { exitCode: 1, message: `${e?.code ? `${e.code} ` : ''}${e?.message ?? String(err)}` };
}

/** Runs a command's main: prints the failure line as `<name>: <line>` and exits with its code. */
export function run(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err) => {
      const { exitCode, message } = failure(err);
      console.error(`${name}: ${message}`);
      process.exit(exitCode);
    },
  );
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** The lines a person reads after a backup: id, where, size, time, rows per table. */
export function describeBackup(m: Manifest, location: string): string {
  const width = Math.max(...Object.keys(m.tables).map((t) => t.length));
  return [
    `backup ${m.id} written to ${location}/${m.id}/`,
    `  ${formatBytes(m.data.bytes)} compressed, ${(m.durationMs / 1000).toFixed(2)} s, schema ${m.schemaVersion}, snapshot at ${m.snapshotAt}`,
    ...Object.entries(m.tables).map(([t, r]) => `  ${t.padEnd(width)}  ${String(r.rows).padStart(9)} rows`),
  ].join('\n');
}

