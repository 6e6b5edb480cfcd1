import { createHash, randomBytes } from 'node:crypto';
import { BackupError } from './errors';

/**
 * The backup format, version 1. A backup is two objects under `<BACKUP_URI>/<id>/`:
 * - `data.ndjson.gz`: gzip of one JSON line per row, `[table, [value, …]]`, every value the
 *   column's PostgreSQL text form (or null), tables in name order, rows in primary-key order
 *   (text keys in "C" collation), so the same data always gives the same bytes.
 * - `manifest.json` (the Manifest below), written only after the data object is complete: a backup
 *   without a manifest is incomplete and is never listed as a restorable one or as `latest`.
 * Text forms are taken with TimeZone UTC and DateStyle ISO, so timestamps keep their microseconds
 * and the backup restores into any PostgreSQL or PGlite, whatever their settings.
 */
export const FORMAT = 'tasks-backup/1';
export const DATA_OBJECT = 'data.ndjson.gz';
export const MANIFEST_OBJECT = 'manifest.json';

export interface TableRecord {
  /** Column names in the order each row lists its values. */
  columns: string[];
  primaryKey: string;
  rows: number;
  /** SHA-256 (hex) of the table's row lines, each with its trailing newline. */
  sha256: string;
}

export interface Manifest {
  format: typeof FORMAT;
  id: string;
  /** Why it was taken: `scheduled`/`manual` (npm run backup), `before-migration`, `before-restore`. */
  reason: string;
  /** When the snapshot was taken (the transaction's start, ISO 8601 UTC). */
  snapshotAt: string;
  finishedAt: string;
  durationMs: number;
  /** `pg`, `neon` or `pglite`: where it was taken from. No host, user or database name. */
  driver: string;
  appVersion: string;
  /** The newest migration recorded in the backup's schema_migrations ("004"). */
  schemaVersion: string;
  tables: Record<string, TableRecord>;
  /** Each sequence of the public schema: its last value as text (null before its first use). */
  sequences: Record<string, string | null>;
  data: { object: string; bytes: number; sha256: string };
}

/** `20261207T033012.345Z-1a2b`: sortable by time as text, unique enough for one writer per prefix. */
export function newBackupId(at = new Date()): string {
  return `${at.toISOString().replace(/[-:]/g, '')}-${randomBytes(2).toString('hex')}`;
}

const ID_PATTERN = /^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}$/;
export const isBackupId = (s: string) => ID_PATTERN.test(s);

/** The time a backup id was made, for ages in listings. */
export function backupTime(id: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z/.exec(id);
  if (!m) throw new BackupError('usage', `not a backup id: ${id}`);
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
}

export type RowValues = (string | null)[];

export const rowLine = (table: string, values: RowValues) => `${JSON.stringify([table, values])}\n`;

/** Parses one data line; throws BackupError('corrupt') when it is not a row of the format. */
export function parseRowLine(line: string, lineNumber: number): [string, RowValues] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new BackupError('corrupt', `backup data line ${lineNumber} is not JSON`);
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== 'string' ||
    !Array.isArray(parsed[1]) ||
    !parsed[1].every((v) => v === null || typeof v === 'string')
  ) {
    throw new BackupError('corrupt', `backup data line ${lineNumber} is not a row`);
  }
  return parsed as [string, RowValues];
}

/** Row counts and SHA-256 per table, fed line by line in the data's order. */
export class TableDigests {
  private readonly digests = new Map<string, { rows: number; hash: ReturnType<typeof createHash> }>();

  add(table: string, line: string): void {
    let d = this.digests.get(table);
    if (!d) this.digests.set(table, (d = { rows: 0, hash: createHash('sha256') }));
    d.rows++;
    d.hash.update(line);
  }

  /** Count and hex digest of a table (0 rows: the digest of nothing). */
  result(table: string): { rows: number; sha256: string } {
    const d = this.digests.get(table);
    return d ? { rows: d.rows, sha256: d.hash.copy().digest('hex') } : { rows: 0, sha256: createHash('sha256').digest('hex') };
  }

  tables(): string[] {
    return [...this.digests.keys()];
  }
}

/** Checks a manifest read from storage has the shape this version writes; throws BackupError. */
export function parseManifest(text: string, where: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch {
    throw new BackupError('corrupt', `${where}: the manifest is not JSON`);
  }
  if (m?.format !== FORMAT) {
    throw new BackupError('incompatible', `${where}: unknown backup format ${JSON.stringify(m?.format)} (this version reads ${FORMAT})`);
  }
  const ok =
    typeof m.id === 'string' &&
    typeof m.schemaVersion === 'string' &&
    typeof m.tables === 'object' &&
    m.tables !== null &&
    typeof m.data?.sha256 === 'string' &&
    typeof m.data?.bytes === 'number' &&
    Object.values(m.tables).every((t) => Array.isArray(t.columns) && typeof t.rows === 'number' && typeof t.sha256 === 'string' && typeof t.primaryKey === 'string');
  if (!ok) throw new BackupError('corrupt', `${where}: the manifest is incomplete`);
  return m;
}
