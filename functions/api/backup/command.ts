import { ConfigError, loadConfig, type Config } from '../config';
import { DirectoryError } from '../directories';
import { openDb } from '../db';
import { AUTH_FAILED, sqlState, type Db } from '../db/types';
import { isDatabaseUnavailable } from '../errors';
import { createLogger } from '../logger';
import { redact, secretsIn } from '../redact';
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

/**
 * The exit code and the one line a failure gets: never more than one line (a configuration
 * error's list is joined with "; "), never a stack trace.
 */
export function failure(err: unknown): { exitCode: number; message: string } {
  const { exitCode, message } = classify(err);
  return { exitCode, message: oneLine(message) };
}

function classify(err: unknown): { exitCode: number; message: string } {
  if (err instanceof BackupError) return { exitCode: EXIT_CODES[err.kind], message: err.message };
  if (err instanceof ConfigError) {
    // "Invalid configuration:\n  A …\n  B …" (the API's start-up shape) → "invalid configuration: A …; B …".
    const lines = err.message.split('\n').map((l) => l.trim()).filter(Boolean);
    const items = /^invalid configuration:?$/i.test(lines[0] ?? '') ? lines.slice(1) : lines;
    return { exitCode: EXIT_CODES.config, message: `invalid configuration: ${items.join('; ')}` };
  }
  if (err instanceof DirectoryError) return { exitCode: err.impossible ? EXIT_CODES.config : EXIT_CODES.denied, message: err.message };
  // pg parses DATABASE_URL with decodeURIComponent: a user or password with a bare "%" lands here.
  if (err instanceof URIError) {
    return { exitCode: EXIT_CODES.config, message: 'invalid configuration: DATABASE_URL has a malformed %-escape (percent-encode the user and password)' };
  }
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

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, '; ').trim();

/**
 * Runs a command's main and exits with its code. A failure is one line on stderr, `<name>: <line>`;
 * a usage error prints the usage text first and that line last (exit 2), so the line a person or a
 * Job's log shows at the end is always the reason.
 */
export function run(name: string, usage: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err) => {
      const { exitCode, message } = failure(err);
      if (exitCode === EXIT_CODES.usage) console.error(usage);
      console.error(redact(`${name}: ${message}`, secretsIn(process.env)));
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

