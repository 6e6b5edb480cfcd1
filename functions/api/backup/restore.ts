import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Db, Queryable } from '../db/types';
import { applyMigrations, lockMigrations, migrate, migrationChecksum, schemaVersion } from '../migrations/runner';
import { loadMigrations, type Migration } from '../migrations/files';
import { dumpRows, quoteIdent, tableShapes, useCanonicalTextForms } from './dump';
import { BackupError } from './errors';
import { DATA_OBJECT, MANIFEST_OBJECT, parseManifest, parseRowLine, TableDigests, type Manifest, type RowValues } from './format';
import type { BackupStore, StoredBackup } from './store';

export interface RestoreOptions {
  /** A backup id, or `latest` (the newest complete backup). */
  from: string;
  /** Restore into a database that holds tasks (after `safetyBackup`). */
  replace?: boolean;
  /** Called before a database that holds tasks is replaced; its failure stops the restore. */
  safetyBackup?: () => Promise<Manifest>;
  /** Apply this version's newer migrations after the restore (default true). */
  migrate?: boolean;
  migrations?: Migration[];
}

export interface RestoreResult {
  manifest: Manifest;
  /** The database held tasks and was replaced; the safety backup taken first. */
  safetyBackup?: Manifest;
  /** Rows and SHA-256 per table, read back from the restored database (equal to the manifest's). */
  restored: Record<string, { rows: number; sha256: string }>;
  /** Migrations applied after the restore, when `migrate`. */
  migrated: string[];
}

/** Rows per INSERT while loading. */
const BATCH = 1000;

/** The newest complete backup, or the one named; BackupError('not_found') otherwise. */
export async function findBackup(store: BackupStore, from: string): Promise<StoredBackup> {
  const all = await store.list();
  if (from === 'latest') {
    const latest = all.filter((b) => b.complete).at(-1);
    if (!latest) throw new BackupError('not_found', `no complete backup in ${store.location}`);
    return latest;
  }
  const found = all.find((b) => b.id === from);
  if (!found) throw new BackupError('not_found', `no backup ${from} in ${store.location} (npm run restore -- --list shows them)`);
  if (!found.complete) throw new BackupError('not_found', `backup ${from} is incomplete (it has no manifest: it was interrupted) and cannot be restored`);
  return found;
}

export async function readManifest(store: BackupStore, id: string): Promise<Manifest> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.read(id, MANIFEST_OBJECT)) chunks.push(Buffer.from(chunk));
  const manifest = parseManifest(Buffer.concat(chunks).toString('utf8'), `backup ${id}`);
  if (manifest.id !== id) throw new BackupError('corrupt', `backup ${id}: its manifest names another backup (${manifest.id})`);
  return manifest;
}

/** Whether the database holds any task (main_table has a row). */
export async function holdsTasks(db: Queryable): Promise<boolean> {
  if (!(await tableExists(db, 'main_table'))) return false;
  return (await db.query('SELECT 1 FROM public.main_table LIMIT 1')).length > 0;
}

/** Whether public.<name> exists (a statement naming a missing table fails when it is planned). */
async function tableExists(q: Queryable, name: string): Promise<boolean> {
  return (await q.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`public.${name}`]))[0]?.t != null;
}

/**
 * Restores a backup into the database.
 * 1. Downloads the data to a temporary file, checking its size and SHA-256 against the manifest,
 *    then reads it once through, checking every line, row count and table checksum, and that its
 *    migrations are this version's: a truncated, corrupted or tampered backup is refused
 *    (BackupError 'corrupt' or 'incompatible') before anything is written.
 * 2. A database that holds tasks is refused (BackupError 'not_empty', checked before the
 *    download) unless `replace`; then `safetyBackup` runs once the backup has been checked.
 * 3. In one transaction, under the migration lock: the schema is brought to the backup's version
 *    (a newer schema is dropped and rebuilt, the database being the app's own), the tables are
 *    emptied and loaded, each sequence set to its recorded value (so the next id is past every
 *    restored one), and the tables are read back and compared with the manifest: any difference
 *    rolls everything back. Idempotency-Key records are data like any other, so a retried request
 *    is answered from its record after the restore.
 * 4. With `migrate`, this version's newer migrations are applied.
 */
export async function restoreBackup(db: Db, store: BackupStore, options: RestoreOptions): Promise<RestoreResult> {
  const migrations = options.migrations ?? loadMigrations();
  const { id } = await findBackup(store, options.from);
  const manifest = await readManifest(store, id);
  // The target first: a wrong login or a database that holds tasks is said before any download.
  const replacing = await holdsTasks(db);
  if (replacing && !options.replace) {
    throw new BackupError('not_empty', 'the database already holds tasks: restore into an empty database, or give --replace (a safety backup is taken first)');
  }
  if (replacing && !options.safetyBackup) throw new BackupError('usage', 'replacing a database that holds tasks needs a safety backup');
  const dir = mkdtempSync(join(tmpdir(), 'tasks-restore-'));
  try {
    const file = join(dir, DATA_OBJECT);
    await download(store, manifest, file);
    const recordedMigrations = await verifyData(file, manifest);
    const upTo = compatibleMigrations(manifest, recordedMigrations, migrations);
    const safety = replacing ? await options.safetyBackup!() : undefined;

    const restored = await db.transaction(async (q) => {
      await q.query('SET LOCAL statement_timeout = 0');
      await useCanonicalTextForms(q);
      await lockMigrations(q);
      await prepareSchema(q, manifest, upTo);
      const shapes = await tableShapes(q);
      for (const [name, t] of Object.entries(manifest.tables)) {
        const shape = shapes.find((s) => s.name === name);
        if (!shape || shape.columns.join() !== t.columns.join()) {
          throw new BackupError('incompatible', `table ${name} at schema ${manifest.schemaVersion} does not have the backup's columns (${t.columns.join(', ')})`);
        }
      }
      await q.query(`TRUNCATE ${shapes.map((s) => quoteIdent(s.name)).join(', ')}`);
      await load(q, file, manifest);
      await checkSequences(q, manifest);
      for (const [name, value] of Object.entries(manifest.sequences)) {
        const seq = `public.${quoteIdent(name)}`;
        if (value === null) await q.query(`ALTER SEQUENCE ${seq} RESTART`);
        else await q.query('SELECT setval($1::regclass, $2::bigint, true)', [seq, value]);
      }
      const back = new TableDigests();
      await dumpRows(q, shapes, (table, line) => back.add(table, line));
      const result: RestoreResult['restored'] = {};
      for (const [name, t] of Object.entries(manifest.tables)) {
        result[name] = back.result(name);
        if (result[name].rows !== t.rows || result[name].sha256 !== t.sha256) {
          throw new BackupError('corrupt', `table ${name} read back after loading differs from the backup (${result[name].rows} rows, ${t.rows} recorded); nothing was restored`);
        }
      }
      return result;
    });
    const migrated = options.migrate === false ? [] : (await migrate(db, migrations)).applied;
    return { manifest, safetyBackup: safety, restored, migrated };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Copies the data object to `file`, refusing it (BackupError 'corrupt') when it is missing or its
 * size or SHA-256 differ from the manifest's.
 */
async function download(store: BackupStore, manifest: Manifest, file: string): Promise<void> {
  const hash = createHash('sha256');
  let bytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  let data: Readable;
  try {
    data = await store.read(manifest.id, DATA_OBJECT);
  } catch (err) {
    // The manifest is there, so the backup completed: its data object gone is damage, not absence.
    if (err instanceof BackupError && err.kind === 'not_found') {
      throw new BackupError('corrupt', `backup ${manifest.id} is damaged: its data object ${DATA_OBJECT} is missing; nothing was written`, { cause: err });
    }
    throw err;
  }
  await pipeline(data, measure, createWriteStream(file, { mode: 0o600 }));
  const sha256 = hash.digest('hex');
  if (bytes !== manifest.data.bytes || sha256 !== manifest.data.sha256) {
    throw new BackupError(
      'corrupt',
      `backup ${manifest.id} is damaged: its data is ${bytes} bytes with SHA-256 ${sha256.slice(0, 12)}…, the manifest recorded ${manifest.data.bytes} bytes and ${manifest.data.sha256.slice(0, 12)}… (truncated or altered); nothing was written`,
    );
  }
}

/** The data file's rows, line by line; a gzip error (truncation) is BackupError('corrupt'). */
async function* rows(file: string): AsyncGenerator<{ table: string; values: RowValues; line: string }> {
  const gunzip = createGunzip();
  const lines = createInterface({ input: createReadStream(file).pipe(gunzip), crlfDelay: Infinity });
  let failed: unknown;
  gunzip.on('error', (err) => {
    failed = err;
    lines.close();
  });
  let n = 0;
  for await (const line of lines) {
    n++;
    const [table, values] = parseRowLine(line, n);
    yield { table, values, line: `${line}\n` };
  }
  if (failed) throw new BackupError('corrupt', `the backup's data is not valid gzip after line ${n} (${(failed as Error).message}); nothing was written`);
}

/**
 * Reads the whole data file, checking it against the manifest (rows, columns, per-table SHA-256,
 * and the schema version against schema_migrations' newest row); returns schema_migrations' rows.
 */
async function verifyData(file: string, manifest: Manifest): Promise<{ version: string; checksum: string }[]> {
  const digests = new TableDigests();
  const recorded: { version: string; checksum: string }[] = [];
  const sm = manifest.tables.schema_migrations;
  if (!sm) throw new BackupError('corrupt', `backup ${manifest.id} has no schema_migrations table`);
  for await (const { table, values, line } of rows(file)) {
    const t = manifest.tables[table];
    if (!t) throw new BackupError('corrupt', `backup ${manifest.id} holds rows of ${table}, a table its manifest does not list`);
    if (values.length !== t.columns.length) throw new BackupError('corrupt', `backup ${manifest.id}: a row of ${table} has ${values.length} values for ${t.columns.length} columns`);
    digests.add(table, line);
    if (table === 'schema_migrations') {
      recorded.push({ version: values[sm.columns.indexOf('version')] ?? '', checksum: values[sm.columns.indexOf('checksum')] ?? '' });
    }
  }
  for (const [name, t] of Object.entries(manifest.tables)) {
    const got = digests.result(name);
    if (got.rows !== t.rows || got.sha256 !== t.sha256) {
      throw new BackupError('corrupt', `backup ${manifest.id} is damaged: table ${name} has ${got.rows} rows (${t.rows} recorded) and another checksum; nothing was written`);
    }
  }
  // The manifest's schemaVersion chooses the migrations the schema is rebuilt with: it must be
  // the data's own, or a tampered manifest would load rows into another schema.
  const newest = recorded.reduce<string | undefined>((max, r) => (max === undefined || r.version > max ? r.version : max), undefined);
  if (newest !== manifest.schemaVersion) {
    throw new BackupError(
      'corrupt',
      `backup ${manifest.id} is damaged: its manifest says schema ${manifest.schemaVersion}, its schema_migrations rows end at ${newest ?? 'none'}; nothing was written`,
    );
  }
  return recorded;
}

/** The migrations up to the backup's schema; refuses a backup whose migrations this version does not have. */
function compatibleMigrations(manifest: Manifest, recorded: { version: string; checksum: string }[], migrations: Migration[]): Migration[] {
  const known = new Map(migrations.map((m) => [m.version, m]));
  for (const r of recorded) {
    const m = known.get(r.version);
    if (!m) {
      throw new BackupError('incompatible', `backup ${manifest.id} is at schema ${manifest.schemaVersion}, newer than this version knows (${migrations.at(-1)?.version}): restore it with the release that took it`);
    }
    if (migrationChecksum(m.sql) !== r.checksum) {
      throw new BackupError('incompatible', `backup ${manifest.id}: migration ${m.name} differs from the one it was taken with`);
    }
  }
  return migrations.filter((m) => m.version <= manifest.schemaVersion);
}

/**
 * The manifest's sequences against the schema it is restored into and the rows just loaded: the
 * same sequences, and each at or past the highest value of the column it feeds (a lower one would
 * hand out ids already taken). BackupError('corrupt') otherwise; the transaction rolls back.
 */
async function checkSequences(q: Queryable, manifest: Manifest): Promise<void> {
  const owned = await q.query<{ seq: string; tbl: string; col: string }>(
    `SELECT s.relname AS seq, t.relname AS tbl, a.attname AS col
       FROM pg_class s
       JOIN pg_namespace n ON n.oid = s.relnamespace AND n.nspname = 'public'
       LEFT JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
       LEFT JOIN pg_class t ON t.oid = d.refobjid
       LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
      WHERE s.relkind = 'S'`,
  );
  const inSchema = owned.map((o) => o.seq).sort();
  const inManifest = Object.keys(manifest.sequences).sort();
  if (inSchema.join() !== inManifest.join()) {
    throw new BackupError(
      'corrupt',
      `backup ${manifest.id} is damaged: its manifest lists the sequences ${inManifest.join(', ') || 'none'}, schema ${manifest.schemaVersion} has ${inSchema.join(', ') || 'none'}; nothing was restored`,
    );
  }
  for (const { seq, tbl, col } of owned) {
    if (!tbl || !col) continue;
    const [{ max }] = (await q.query<{ max: string | null }>(`SELECT max(${quoteIdent(col)})::text AS max FROM public.${quoteIdent(tbl)}`)) as [{ max: string | null }];
    const value = manifest.sequences[seq];
    if (max !== null && (value === null || value === undefined || BigInt(value) < BigInt(max))) {
      throw new BackupError(
        'corrupt',
        `backup ${manifest.id} is damaged: its manifest puts sequence ${seq} at ${value ?? 'unused'}, below ${tbl}.${col}'s highest value ${max}; nothing was restored`,
      );
    }
  }
}

/** Brings the schema to exactly the backup's migrations: applies what is missing, rebuilds a newer one. */
async function prepareSchema(q: Queryable, manifest: Manifest, upTo: Migration[]): Promise<void> {
  const version = await schemaVersion(q);
  if (version !== null && version > manifest.schemaVersion) {
    // The database is the app's own: its public tables are exactly what the migrations made.
    const tables = await q.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`);
    if (tables.length) await q.query(`DROP TABLE ${tables.map((t) => quoteIdent(t.name)).join(', ')} CASCADE`);
  }
  await applyMigrations(q, upTo);
}

/** Loads every row, a batch per statement: json_populate_recordset turns each text form back into its column's type. */
async function load(q: Queryable, file: string, manifest: Manifest): Promise<void> {
  let table = '';
  let batch: Record<string, string | null>[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const cols = manifest.tables[table]!.columns.map(quoteIdent).join(', ');
    const t = quoteIdent(table);
    await q.query(`INSERT INTO ${t} (${cols}) SELECT ${cols} FROM json_populate_recordset(NULL::${t}, $1::json)`, [JSON.stringify(batch)]);
    batch = [];
  };
  for await (const row of rows(file)) {
    if (row.table !== table || batch.length >= BATCH) await flush();
    table = row.table;
    const columns = manifest.tables[table]!.columns;
    batch.push(Object.fromEntries(columns.map((c, i) => [c, row.values[i] ?? null])));
  }
  await flush();
}
