import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { Db } from '../db/types';
import { BackupError } from './errors';
import { DATA_OBJECT, FORMAT, MANIFEST_OBJECT, newBackupId, TableDigests, type Manifest } from './format';
import { dumpRows, sequenceValues, tableShapes, useCanonicalTextForms } from './dump';
import type { BackupStore } from './store';

export interface BackupOptions {
  reason: string;
  appVersion: string;
}

/**
 * Takes a backup of the database's public schema into the store and returns its manifest.
 *
 * Consistency: everything is read in one REPEATABLE READ, READ ONLY transaction, so the backup is
 * the database exactly as of one moment: a write committed before it is wholly in, one committed
 * after is wholly out, and no write is half in (PostgreSQL's snapshot isolation). Sequences are
 * not transactional: their values are read in the same transaction, after the rows, so each is at
 * least the highest id in the backup.
 * The data streams through gzip into the store while it is read (bounded memory); the manifest
 * is written only when the data object is complete, so an interrupted backup is never restorable;
 * a failed one is discarded from a store that can delete (a directory), so it leaves nothing.
 * Throws BackupError('config') for a database with no schema_migrations (never migrated, or
 * DATABASE_URL names another database): sysexits' EX_CONFIG, "found in an unconfigured state".
 */
export async function takeBackup(db: Db, store: BackupStore, options: BackupOptions): Promise<Manifest> {
  const started = Date.now();
  const id = newBackupId(new Date(started));
  const digests = new TableDigests();
  const hash = createHash('sha256');
  let bytes = 0;
  const gzip = createGzip({ level: 6 });
  const measured = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const body = gzip.pipe(measured).pipe(new PassThrough());
  const written = store.write(id, DATA_OBJECT, body, 'application/gzip');
  // Surfaces a storage failure while rows are still being read, instead of at the end.
  let storeFailed: unknown;
  written.catch((err) => {
    storeFailed = err;
    gzip.destroy();
  });

  let snapshot: { snapshotAt: string; schemaVersion: string; tables: Manifest['tables']; sequences: Manifest['sequences'] };
  try {
    snapshot = await db.transaction(async (q) => {
      await q.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      await useCanonicalTextForms(q);
      const [{ at }] = (await q.query<{ at: string }>(
        `SELECT to_char(transaction_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`,
      )) as [{ at: string }];
      const shapes = await tableShapes(q);
      if (!shapes.some((s) => s.name === 'schema_migrations')) {
        throw new BackupError(
          'config',
          'the configured database has no schema_migrations table: it was never migrated (npm run migrate) or it is not the task database, so there is nothing to back up',
        );
      }
      await dumpRows(q, shapes, async (table, line) => {
        if (storeFailed) throw storeFailed;
        digests.add(table, line);
        if (!gzip.write(line)) await Promise.race([once(gzip, 'drain'), written]);
      });
      const [{ version }] = (await q.query<{ version: string | null }>('SELECT max(version) AS version FROM schema_migrations')) as [
        { version: string | null },
      ];
      const tables: Manifest['tables'] = {};
      for (const s of shapes) tables[s.name] = { columns: s.columns, primaryKey: s.primaryKey, ...digests.result(s.name) };
      return { snapshotAt: at, schemaVersion: version ?? '', tables, sequences: await sequenceValues(q) };
    });
    gzip.end();
    await written;
  } catch (err) {
    // The first failure is the one to report: stopping the upload below makes the store fail too.
    const cause = storeFailed ?? err;
    gzip.destroy();
    body.destroy();
    await written.catch(() => undefined);
    await store.discard?.(id);
    throw cause;
  }

  const manifest: Manifest = {
    format: FORMAT,
    id,
    reason: options.reason,
    snapshotAt: snapshot.snapshotAt,
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
    driver: db.driver,
    appVersion: options.appVersion,
    schemaVersion: snapshot.schemaVersion,
    tables: snapshot.tables,
    sequences: snapshot.sequences,
    data: { object: DATA_OBJECT, bytes, sha256: hash.digest('hex') },
  };
  try {
    await store.write(id, MANIFEST_OBJECT, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), 'application/json');
  } catch (err) {
    await store.discard?.(id);
    throw err;
  }
  return manifest;
}
