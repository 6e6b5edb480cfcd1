import type { Queryable } from '../db/types';
import { BackupError } from './errors';
import { rowLine, type RowValues } from './format';

/** A table of the public schema as the backup sees it. */
export interface TableShape {
  name: string;
  columns: string[];
  primaryKey: string;
  /** The primary key is text-like: ordered and compared in the "C" collation (same on every server). */
  textKey: boolean;
}

/** Rows read per statement while dumping: bounded memory at any table size. */
const PAGE = 5000;

export const quoteIdent = (s: string) => `"${s.replaceAll('"', '""')}"`;

/**
 * Makes the session's text forms independent of the server's settings, for the rest of the
 * transaction: timestamps in UTC with microseconds, ISO dates.
 */
export async function useCanonicalTextForms(q: Queryable): Promise<void> {
  await q.query("SET LOCAL TimeZone = 'UTC'");
  await q.query("SET LOCAL DateStyle = 'ISO, YMD'");
  await q.query('SET LOCAL IntervalStyle = postgres');
  await q.query('SET LOCAL extra_float_digits = 3');
}

/** The tables of the public schema, by name, with columns in order and their single-column primary key. */
export async function tableShapes(q: Queryable): Promise<TableShape[]> {
  const cols = await q.query<{ table: string; column: string }>(
    `SELECT c.relname AS table, a.attname AS column
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid
      WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY c.relname COLLATE "C", a.attnum`,
  );
  const keys = await q.query<{ table: string; column: string; type: string }>(
    `SELECT c.relname AS table, a.attname AS column, t.typcategory AS type
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
       JOIN pg_type t ON t.oid = a.atttypid
      WHERE n.nspname = 'public' AND i.indisprimary`,
  );
  const shapes = new Map<string, TableShape>();
  for (const { table, column } of cols) {
    const shape = shapes.get(table) ?? { name: table, columns: [], primaryKey: '', textKey: false };
    shape.columns.push(column);
    shapes.set(table, shape);
  }
  for (const [name, shape] of shapes) {
    const pk = keys.filter((k) => k.table === name);
    if (pk.length !== 1) throw new BackupError('incompatible', `table ${name} has no single-column primary key; the backup orders rows by it`);
    shape.primaryKey = pk[0]!.column;
    shape.textKey = pk[0]!.type === 'S';
  }
  return [...shapes.values()];
}

/**
 * Calls onLine for every row of every table, in the format's order (tables by name, rows by
 * primary key), each value in its text form. Run it in one transaction with
 * useCanonicalTextForms (and REPEATABLE READ for a consistent snapshot). onLine may return a
 * promise (back-pressure): it is awaited.
 */
export async function dumpRows(
  q: Queryable,
  shapes: TableShape[],
  onLine: (table: string, line: string) => void | Promise<void>,
): Promise<void> {
  for (const shape of shapes) {
    const key = quoteIdent(shape.primaryKey) + (shape.textKey ? ' COLLATE "C"' : '');
    // Aliased by position, so each value is read by index whatever the column is called.
    const select = `SELECT ${shape.columns.map((c, i) => `${quoteIdent(c)}::text AS c${i}`).join(', ')} FROM ${quoteIdent(shape.name)}`;
    const keyIndex = shape.columns.indexOf(shape.primaryKey);
    let after: string | null = null;
    for (;;) {
      const rows: Record<string, string | null>[] = after === null
        ? await q.query(`${select} ORDER BY ${key} LIMIT ${PAGE}`)
        : await q.query(`${select} WHERE ${key} > $1 ORDER BY ${key} LIMIT ${PAGE}`, [after]);
      for (const row of rows) {
        const values: RowValues = shape.columns.map((_, i) => row[`c${i}`] ?? null);
        await onLine(shape.name, rowLine(shape.name, values));
      }
      if (rows.length < PAGE) break;
      after = rows.at(-1)![`c${keyIndex}`] as string;
    }
  }
}

/** Each sequence of the public schema and its last value (text; null before first use). */
export async function sequenceValues(q: Queryable): Promise<Record<string, string | null>> {
  const rows = await q.query<{ name: string; value: string | null }>(
    `SELECT sequencename AS name, last_value::text AS value FROM pg_sequences WHERE schemaname = 'public' ORDER BY sequencename COLLATE "C"`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.value]));
}
