import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createPgliteDb } from '../db/pglite';
import { migrate } from '../migrations/runner';
import { takeBackup } from './backup';
import { BackupError } from './errors';
import { DATA_OBJECT } from './format';
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
    const db = await createPgliteDb('memory://');
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

    const target = await createPgliteDb('memory://');
    const result = await restoreBackup(target, store, { from: 'latest' });
    expect(result.restored.main_table!.rows).toBe(1);
    expect(await target.query('SELECT task FROM main_table')).toEqual([{ task: 'first' }]);
    await target.close();
  });

  it('refuses a database that was never migrated: there is nothing to back up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-backup-unit-'));
    dirs.push(dir);
    const db = await createPgliteDb('memory://');
    const err = await takeBackup(db, new DirectoryStore(dir), { reason: 'manual', appVersion: 'test' }).catch((e) => e);
    expect(err).toBeInstanceOf(BackupError);
    expect((err as BackupError).kind).toBe('incompatible');
    await db.close();
  });
});
