import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteDb } from '../db/pglite';
import { loadMigrations } from '../migrations/files';
import { migrate } from '../migrations/runner';
import { takeBackup } from './backup';
import type { Db } from '../db/types';
import { BackupError, EXIT_CODES, EXIT_MEANINGS, type BackupErrorKind } from './errors';
import { DATA_OBJECT, MANIFEST_OBJECT } from './format';
import { findBackup, restoreBackup } from './restore';
import { DirectoryStore } from './store';

/** A directory store whose data uploads fail after the first chunk, as a dropped connection would. */
class FailingStore extends DirectoryStore {
  failNext = false;
  override async write(id: string, object: string, body: Readable | Buffer, type: string) {
    if (this.failNext && object === DATA_OBJECT) {
      this.failNext = false;
      for await (const _ of body as Readable) throw new Error('connection reset while uploading');
    }
    return super.write(id, object, body, type);
  }
}

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('backups', () => {
  it('an interrupted backup is never listed as complete nor restored as latest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-backup-unit-'));
    dirs.push(dir);
    const store = new FailingStore(dir);
    const db = await createPgliteDb('memory://', undefined, { blank: true });
    await migrate(db);
    await db.query("INSERT INTO main_table (task) VALUES ('first')");
    const good = await takeBackup(db, store, { reason: 'manual', appVersion: 'test' });
    await db.query("INSERT INTO main_table (task) VALUES ('second')");
    store.failNext = true;
    await expect(takeBackup(db, store, { reason: 'manual', appVersion: 'test' })).rejects.toThrow('connection reset');
    const listed = await store.list();
    expect(listed.filter((b) => b.complete).map((b) => b.id)).toEqual([good.id]);
    expect((await findBackup(store, 'latest')).id).toBe(good.id);
    await db.close();

    const target = await createPgliteDb('memory://', undefined, { blank: true });
    const result = await restoreBackup(target, store, { from: 'latest' });
    expect(result.restored.main_table!.rows).toBe(1);
    expect(await target.query('SELECT task FROM main_table')).toEqual([{ task: 'first' }]);
    await target.close();
  });

  it('carries each task\'s version (migration 010); a backup from before 010 restores with version 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-backup-unit-'));
    dirs.push(dir);
    const store = new DirectoryStore(dir);
    const older = await createPgliteDb('memory://', undefined, { blank: true });
    await migrate(older, loadMigrations().filter((m) => m.version < '010'));
    await older.query("INSERT INTO main_table (task) VALUES ('from before versions')");
    const before = await takeBackup(older, store, { reason: 'manual', appVersion: 'test' });
    await older.close();
    expect([before.schemaVersion, before.tables.main_table!.columns.includes('version')]).toEqual(['009', false]);

    const current = await createPgliteDb('memory://', undefined, { blank: true });
    await migrate(current);
    await current.query("INSERT INTO main_table (task) VALUES ('changed twice')");
    await current.query("SELECT task_update(1::bigint, 'changed'::varchar, NULL::boolean, NULL::integer[])");
    await current.query("SELECT task_update(1::bigint, NULL::varchar, true, '{2}'::integer[])");
    const after = await takeBackup(current, store, { reason: 'manual', appVersion: 'test' });
    await current.close();
    expect(after.tables.main_table!.columns).toContain('version');

    for (const [backup, expected] of [
      [before, [{ task: 'from before versions', done: false, version: 1 }]],
      [after, [{ task: 'changed', done: true, version: 3 }]],
    ] as const) {
      const target = await createPgliteDb('memory://', undefined, { blank: true });
      await restoreBackup(target, store, { from: backup.id });
      expect(await target.query('SELECT task, done, version FROM main_table'), backup.schemaVersion).toEqual(expected);
      await target.close();
    }
  });

  it('refuses a database that was never migrated as a configuration error, leaving no folder behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-backup-unit-'));
    dirs.push(dir);
    const db = await createPgliteDb('memory://', undefined, { blank: true });
    const err = await takeBackup(db, new DirectoryStore(dir), { reason: 'manual', appVersion: 'test' }).catch((e) => e);
    expect(err).toBeInstanceOf(BackupError);
    expect((err as BackupError).kind).toBe('config');
    expect(readdirSync(dir)).toEqual([]);
    await db.close();
  });

  it('a backup that fails while reading rows leaves nothing, so --list shows nothing incomplete', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-backup-unit-'));
    dirs.push(dir);
    const db = await createPgliteDb('memory://', undefined, { blank: true });
    await migrate(db);
    await db.query("INSERT INTO main_table (task) VALUES ('kept')");
    // The connection drops once the dump reaches main_table, as a restarted database would.
    const dropping: Db = {
      ...db,
      transaction: (fn) =>
        db.transaction((q) =>
          fn({
            query: (text, params) => (/FROM "?main_table"? (ORDER|WHERE)/.test(text) ? Promise.reject(new Error('connection terminated')) : q.query(text, params)),
          } as typeof q),
        ),
    };
    const store = new DirectoryStore(dir);
    await expect(takeBackup(dropping, store, { reason: 'manual', appVersion: 'test' })).rejects.toThrow('connection terminated');
    expect(readdirSync(dir)).toEqual([]);
    expect(await store.list()).toEqual([]);
    await db.close();
  });

  it('a BACKUP_URI that cannot be a directory is a configuration error naming the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-backup-unit-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'file'), '');
    const err = await new DirectoryStore(join(dir, 'file', 'backups')).write('20261207T000000.000Z-abcd', DATA_OBJECT, Buffer.from('x'), 'application/gzip').catch((e) => e);
    expect(err).toBeInstanceOf(BackupError);
    expect((err as BackupError).kind).toBe('config');
    expect((err as Error).message).toMatch(/^BACKUP_URI: cannot create the directory .*: .*\/file is not a directory \(ENOTDIR\)$/);
  });
});

describe('restoring a damaged backup', () => {
  let source: Db;
  let target: Db;
  let dir: string;
  let good: string;
  let n = 0;

  /** A copy of the good backup under a new id, with its manifest (and data) changed. */
  function variant(change: (manifest: Record<string, unknown>) => unknown, data = true): string {
    const id = good.replace(/-[0-9a-f]{4}$/, `-${(0xa000 + n++).toString(16)}`);
    const manifest = JSON.parse(readFileSync(join(dir, good, MANIFEST_OBJECT), 'utf8'));
    const folder = join(dir, id);
    mkdirSync(folder);
    if (data) writeFileSync(join(folder, DATA_OBJECT), readFileSync(join(dir, good, DATA_OBJECT)));
    const changed = change({ ...manifest, id });
    writeFileSync(join(folder, MANIFEST_OBJECT), typeof changed === 'string' ? changed : JSON.stringify(changed));
    return id;
  }

  async function refused(id: string): Promise<BackupError> {
    const err = await restoreBackup(target, new DirectoryStore(dir), { from: id }).catch((e) => e);
    expect(err, String(err)).toBeInstanceOf(BackupError);
    // Nothing was written: the target still has no table at all.
    expect(await target.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual([]);
    return err as BackupError;
  }

  // One good backup to damage; its directory outlives each test (afterEach clears only `dirs`).
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tasks-backup-unit-'));
    source = await createPgliteDb('memory://', undefined, { blank: true });
    await migrate(source);
    await source.query("INSERT INTO main_table (task) VALUES ('one'), ('two'), ('three')");
    good = (await takeBackup(source, new DirectoryStore(dir), { reason: 'manual', appVersion: 'test' })).id;
    await source.close();
    target = await createPgliteDb('memory://', undefined, { blank: true });
  });
  afterAll(async () => {
    await target?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a manifest whose schemaVersion disagrees with its schema_migrations rows (exit 4)', async () => {
    const id = variant((m) => ({ ...m, schemaVersion: '001' }));
    const err = await refused(id);
    expect(err.kind).toBe('corrupt');
    expect(EXIT_CODES[err.kind]).toBe(4);
    expect(err.message).toMatch(/manifest says schema 001, its schema_migrations rows end at \d{3}/);
  });

  it('refuses a backup whose data object is missing (exit 4, naming it)', async () => {
    const err = await refused(variant((m) => m, false));
    expect(err.kind).toBe('corrupt');
    expect(err.message).toMatch(/is damaged: its data object data\.ndjson\.gz is missing/);
  });

  it('refuses an empty or incomplete manifest (exit 4, naming the field)', async () => {
    const empty = await refused(variant(() => ({})));
    expect([empty.kind, empty.message]).toEqual(['corrupt', expect.stringMatching(/is damaged: its manifest's format is missing$/)]);
    const noSequences = await refused(variant(({ sequences: _, ...m }) => m));
    expect([noSequences.kind, noSequences.message]).toEqual(['corrupt', expect.stringMatching(/its manifest's sequences is missing$/)]);
    const notJson = await refused(variant(() => '{"format": "tasks-backup/1", '));
    expect([notJson.kind, notJson.message]).toEqual(['corrupt', expect.stringMatching(/its manifest is not JSON$/)]);
    // Another format's name is a later version's backup: incompatible (6), not damage.
    const later = await refused(variant((m) => ({ ...m, format: 'tasks-backup/2' })));
    expect(later.kind).toBe('incompatible');
  });

  it('refuses sequences that would hand out ids already restored, or name another schema', async () => {
    const low = await refused(variant((m) => ({ ...m, sequences: Object.fromEntries(Object.keys(m.sequences as object).map((k) => [k, '1'])) })));
    expect([low.kind, low.message]).toEqual(['corrupt', expect.stringMatching(/sequence main_table_id_seq at 1, below main_table\.id's highest value 3/)]);
    const other = await refused(variant((m) => ({ ...m, sequences: { ...(m.sequences as object), not_a_sequence: '5' } })));
    expect([other.kind, other.message]).toEqual(['corrupt', expect.stringMatching(/lists the sequences .*not_a_sequence/)]);
  });

  it('still restores the good backup into the same database', async () => {
    const result = await restoreBackup(target, new DirectoryStore(dir), { from: good });
    expect(result.restored.main_table!.rows).toBe(3);
  });
});

describe('exit codes', () => {
  it('the README\'s table is errors.ts\' table', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    const rows = [...readme.matchAll(/^\| (\d+) \| ([^|]+?) \|/gm)].map((m) => [Number(m[1]), m[2]!.trim()]);
    const expected = (Object.keys(EXIT_CODES) as BackupErrorKind[]).map((k) => [EXIT_CODES[k], EXIT_MEANINGS[k]]);
    expect(rows.filter(([code]) => code !== 0 && code !== 1).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(
      expected.sort((a, b) => Number(a[0]) - Number(b[0])),
    );
  });
});
