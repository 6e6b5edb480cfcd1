import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
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

const digits = z.string().regex(/^\d+$/);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const manifestSchema = z.object({
  format: z.literal(FORMAT),
  id: z.string().regex(ID_PATTERN),
  reason: z.string(),
  snapshotAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number().nonnegative(),
  driver: z.string(),
  appVersion: z.string(),
  schemaVersion: digits,
  tables: z
    .record(
      z.string().min(1),
      z.object({ columns: z.array(z.string().min(1)).min(1), primaryKey: z.string(), rows: z.number().int().nonnegative(), sha256 }),
    )
    .refine((t) => 'schema_migrations' in t, 'it lists no schema_migrations table'),
  sequences: z.record(z.string().min(1), z.string().regex(/^-?\d+$/).nullable()),
  data: z.object({ object: z.literal(DATA_OBJECT), bytes: z.number().int().nonnegative(), sha256 }),
});

/**
 * Checks a manifest read from storage has the shape this version writes. Throws BackupError:
 * 'incompatible' for another format's name (a later version wrote it), 'corrupt' for anything
 * else (not JSON, no format, a field missing or of the wrong type), naming the first field wrong.
 */
export function parseManifest(text: string, where: string): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new BackupError('corrupt', `${where} is damaged: its manifest is not JSON`);
  }
  const format = (m as { format?: unknown } | null)?.format;
  if (typeof format === 'string' && format !== FORMAT) {
    throw new BackupError('incompatible', `${where}: unknown backup format ${JSON.stringify(format)} (this version reads ${FORMAT})`);
  }
  const parsed = manifestSchema.safeParse(m);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (!issue.path.length) throw new BackupError('corrupt', `${where} is damaged: its manifest is not an object`);
    const value = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], m);
    const what = value === undefined ? 'is missing' : `is not valid (${issue.message})`;
    throw new BackupError('corrupt', `${where} is damaged: its manifest's ${issue.path.map(String).join('.')} ${what}`);
  }
  return parsed.data as Manifest;
}
