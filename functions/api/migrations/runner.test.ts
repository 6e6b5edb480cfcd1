import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres';
import { loadConfig } from '../config';
import { createPgDb } from '../db/pg';
import { createPgliteDb } from '../db/pglite';
import type { Db } from '../db';
import { createLogger } from '../logger';
import { loadMigrations } from './files';
import { MigrationChangedError, migrate, migrationsApplied } from './runner';
import { integerPosition, positionBetween, positionProblem } from '../task-position';

const log = createLogger('silent');
const ALL = ['001_create_main_table.sql', '002_done_and_timestamps.sql', '003_idempotency_keys.sql', '004_idempotency_keys_created_at.sql', '005_main_table_id_bigint.sql', '006_main_table_id_seq_bigint.sql', '007_task_create_function.sql', '008_task_update_function.sql', '009_task_delete_function.sql', '010_task_version.sql', '011_task_set_done_function.sql', '012_task_position.sql', '013_deleted_tasks.sql', '014_task_position_keys.sql'];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function freshPg(): Promise<{ database: TestDatabase; db: Db; open: () => Db }> {
  const database = await createTestDatabase('tasks_mig');
  const open = () => {
    const d = createPgDb(loadConfig({ DATABASE_URL: database.url }).db, log);
    cleanups.unshift(() => d.close());
    return d;
  };
  cleanups.push(() => database.drop());
  return { database, db: open(), open };
}

describe('migrations', () => {
  it("upgrades the previous system's database in place, keeping every row", async () => {
    const { db } = await freshPg();
    // The previous system's schema and data, exactly as its service left them.
    await db.query('CREATE TABLE main_table (id SERIAL PRIMARY KEY, task VARCHAR(255) NOT NULL)');
    await db.query("INSERT INTO main_table (task) VALUES ('seed one'), ('seed ''two'''), ('🙂 three')");
    expect(await migrationsApplied(db)).toBe(false);

    const result = await migrate(db);
    expect(result.applied).toEqual(ALL);
    // ids are bigint since 005, which node-postgres hands over as strings.
    const rows = await db.query<{ id: string; task: string; done: boolean; created_at: Date }>('SELECT id, task, done, created_at FROM main_table ORDER BY id');
    expect(rows.map((r) => [Number(r.id), r.task, r.done])).toEqual([
      [1, 'seed one', false],
      [2, "seed 'two'", false],
      [3, '🙂 three', false],
    ]);
    expect(rows.every((r) => r.created_at instanceof Date)).toBe(true);
    expect(await migrationsApplied(db)).toBe(true);
    // New rows continue the previous sequence.
    const [next] = await db.query<{ id: string }>("INSERT INTO main_table (task) VALUES ('four') RETURNING id");
    expect(next!.id).toBe('4');
  });

  it('010 gives every existing task version 1, and the older revision\'s task_update(id, task, done) bumps it too', async () => {
    const { db } = await freshPg();
    const files = loadMigrations();
    await migrate(db, files.filter((m) => m.version < '010'));
    await db.query("INSERT INTO main_table (task) VALUES ('before 010')");
    expect((await migrate(db, files.filter((m) => m.version <= '010'))).applied).toEqual(['010_task_version.sql']);
    expect(await db.query('SELECT task, version FROM main_table')).toEqual([{ task: 'before 010', version: 1 }]);
    // A revision still serving during the rollout calls the three-argument function of 008.
    await db.query("SELECT task_update(1::bigint, 'by the older revision'::varchar, NULL::boolean)");
    expect(await db.query('SELECT task, version FROM main_table')).toEqual([{ task: 'by the older revision', version: 2 }]);
    // The conditional form: a stale version writes nothing and hands back the current row.
    const [stale] = await db.query<{ written: boolean; version: number }>("SELECT (u).written, ((u).t).version FROM (SELECT task_update(1::bigint, 'x'::varchar, NULL::boolean, '{1}'::integer[]) AS u) s");
    expect(stale).toEqual({ written: false, version: 2 });
    const [gone] = await db.query<{ written: boolean }>("SELECT (u).written FROM (SELECT task_delete(1::bigint, '{2}'::integer[]) AS u) s");
    expect(gone).toEqual({ written: true });
    expect(await db.query('SELECT count(*)::int AS n FROM main_table')).toEqual([{ n: 0 }]);
  });

  it('012 keeps today\'s order as positions, puts new tasks last, and restores only ids handed out and free', async () => {
    const { db } = await freshPg();
    const files = loadMigrations();
    await migrate(db, files.filter((m) => m.version < '012'));
    // 70 tasks: past the one-digit keys (a0 … az), so the next length (b00) is crossed too.
    await db.query("INSERT INTO main_table (task) SELECT 'before 012 #' || g FROM generate_series(1, 70) g");
    await db.query('DELETE FROM main_table WHERE id = 3');
    expect((await migrate(db, files.filter((m) => m.version <= '012'))).applied).toEqual(['012_task_position.sql']);
    const rows = await db.query<{ id: string; position: string }>('SELECT id, position FROM main_table ORDER BY id');
    expect(rows.map((r) => r.position)).toEqual(Array.from({ length: 69 }, (_, n) => integerPosition(n)));
    // The list by position is today's list by id.
    const byPosition = await db.query<{ id: string }>('SELECT id FROM main_table ORDER BY position, id');
    expect(byPosition.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    // A create (and the older revision's, which names no position) goes after the largest position.
    await db.query("UPDATE main_table SET position = 'b0AV' WHERE id = 1");
    const [made] = await db.query<{ position: string }>("SELECT position FROM task_create('new'::varchar)");
    expect(made!.position).toBe(positionBetween('b0AV', null));
    const [older] = await db.query<{ position: string }>("INSERT INTO main_table (task) VALUES ('by the older revision') RETURNING position");
    expect(older!.position).toBe(positionBetween(made!.position, null));
    // Every position below a0: the next is a0.
    await db.query("UPDATE main_table SET position = 'Zz'");
    expect(await db.query("SELECT position FROM task_create('after negatives'::varchar)")).toEqual([{ position: 'a0' }]);
    // Restore: id 3 was handed out and is free; 1 exists; 1000 was never handed out.
    const restored = await db.query<{ id: string; task: string; done: boolean; position: string; version: number }>(
      `SELECT id, task, done, position, version FROM task_restore($1::jsonb)`,
      [JSON.stringify([3, 1, 1000].map((id) => ({ id, task: `back ${id}`, done: true, position: 'a0V', version: 4 })))],
    );
    expect(restored).toEqual([{ id: '3', task: 'back 3', done: true, position: 'a0V', version: 5 }]);
    const [next] = await db.query<{ id: string }>("SELECT id FROM task_create('next'::varchar)");
    expect(Number(next!.id)).toBe(74);
  });

  it('013 records every delete for 24 h and restores the recorded task at its version + 1, once', async () => {
    const { db } = await freshPg();
    const files = loadMigrations();
    await migrate(db, files.filter((m) => m.version < '013'));
    await db.query("INSERT INTO main_table (task) VALUES ('one'), ('two'), ('three'), ('four')");
    await db.query('DELETE FROM main_table WHERE id = 1');
    expect((await migrate(db, files.filter((m) => m.version <= '013'))).applied).toEqual(['013_deleted_tasks.sql']);
    const restore = async (ids: number[]) =>
      (await db.query<{ id: string; task: string; done: boolean; version: number }>('SELECT id, task, done, version FROM task_restore($1::bigint[]) ORDER BY id', [ids]))
        .map((r) => ({ ...r, id: Number(r.id) }));
    // Deleted before 013: nothing recorded, nothing to restore.
    expect(await restore([1])).toEqual([]);
    // Every way a row leaves main_table records it as it was then: both task_delete functions, a plain DELETE.
    await db.query("SELECT * FROM task_update(2, 'two, edited', true, NULL, NULL)");
    await db.query('SELECT * FROM task_delete(2, NULL)');
    await db.query('SELECT * FROM task_delete(3)');
    await db.query('DELETE FROM main_table WHERE id = 4');
    expect(await db.query('SELECT id::int, task, version FROM deleted_tasks ORDER BY id')).toEqual([
      { id: 2, task: 'two, edited', version: 2 },
      { id: 3, task: 'three', version: 1 },
      { id: 4, task: 'four', version: 1 },
    ]);
    // The recorded state comes back, one version past it; the record goes with it, so only once.
    expect(await restore([2, 3, 99])).toEqual([
      { id: 2, task: 'two, edited', done: true, version: 3 },
      { id: 3, task: 'three', done: false, version: 2 },
    ]);
    expect(await restore([2, 3])).toEqual([]);
    // 012's function, for a revision still rolling out: only the ids count, never the text sent.
    const older = await db.query<{ task: string; version: number }>('SELECT task, version FROM task_restore($1::jsonb)', [
      JSON.stringify([{ id: 4, task: 'a stale copy', done: true, position: 'a0V', version: 1 }]),
    ]);
    expect(older).toEqual([{ task: 'four', version: 2 }]);
    // Past 24 h a record is not restored, and the next delete removes it.
    await db.query('DELETE FROM main_table WHERE id = 2');
    await db.query("UPDATE deleted_tasks SET deleted_at = now() - interval '24 hours 1 second'");
    expect(await restore([2])).toEqual([]);
    await db.query('DELETE FROM main_table WHERE id = 3');
    expect(await db.query('SELECT id::int FROM deleted_tasks')).toEqual([{ id: 3 }]);
  });

  it('014 gives keys past the largest integer part a fraction, repairs the keys made before, and refuses invalid ones', async () => {
    const { db } = await freshPg();
    const files = loadMigrations();
    await migrate(db, files.filter((m) => m.version < '014'));
    const largest = `z${'z'.repeat(26)}`;
    await db.query("INSERT INTO main_table (task) VALUES ('one'), ('two'), ('three')");
    await db.query('UPDATE main_table SET position = $1 WHERE id = 1', [largest]);
    // Before 014: the key after the largest integer part is no key.
    const [broken] = await db.query<{ position: string }>("INSERT INTO main_table (task) VALUES ('after the largest') RETURNING position");
    expect(positionProblem(broken!.position)).not.toBeNull();
    await db.query("INSERT INTO main_table (task) VALUES ('after that')");
    await db.query('DELETE FROM main_table WHERE id = 3');
    await db.query("UPDATE deleted_tasks SET position = '{0'");
    expect((await migrate(db, files)).applied).toEqual(['014_task_position_keys.sql']);
    const rows = await db.query<{ task: string; position: string; version: number }>('SELECT task, position, version FROM main_table ORDER BY position, id');
    expect(rows.map((r) => r.task)).toEqual(['two', 'one', 'after the largest', 'after that']);
    for (const r of rows) expect(positionProblem(r.position)).toBeNull();
    const second = positionBetween(`${largest}V`, null);
    expect(rows.slice(2).map((r) => [r.position, r.version])).toEqual([[`${largest}V`, 2], [second, 2]]);
    const [restored] = await db.query<{ position: string }>('SELECT position FROM task_restore(ARRAY[3]::bigint[])');
    expect(restored!.position).toBe(positionBetween(second, null));
    // Past the largest integer part a create takes the fraction after the last key, as positionBetween does.
    const [made] = await db.query<{ position: string }>("SELECT position FROM task_create('next'::varchar)");
    expect(made!.position).toBe(positionBetween(restored!.position, null));
    // The database refuses what is no key, whoever writes it.
    for (const key of ['{0', 'a00', `A${'0'.repeat(26)}`, `a0${'V'.repeat(254)}`]) {
      await expect(db.query('UPDATE main_table SET position = $1 WHERE id = 2', [key])).rejects.toMatchObject({ code: '23514', constraint: 'main_table_position_valid' });
    }
  });

  it('is idempotent: a second run applies nothing', async () => {
    const { db } = await freshPg();
    expect((await migrate(db)).applied).toHaveLength(ALL.length);
    expect((await migrate(db)).applied).toEqual([]);
    const recorded = await db.query<{ version: string; checksum: string }>('SELECT version, checksum FROM schema_migrations ORDER BY version');
    expect(recorded.map((r) => r.version)).toEqual(ALL.map((name) => name.slice(0, 3)));
    expect(recorded.every((r) => /^[0-9a-f]{64}$/.test(r.checksum))).toBe(true);
  });

  it('refuses to run when an applied migration file changed, naming the file and applying nothing', async () => {
    const { db } = await freshPg();
    const files = loadMigrations();
    await migrate(db, files.slice(0, 1));
    const edited = [
      { ...files[0]!, sql: `${files[0]!.sql}\n-- edited after it was applied\n` },
      ...files.slice(1),
    ];
    const refused = migrate(db, edited);
    await expect(refused).rejects.toBeInstanceOf(MigrationChangedError);
    await expect(migrate(db, edited)).rejects.toThrow(
      'migration 001_create_main_table.sql was changed after it was applied',
    );
    const recorded = await db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(recorded.map((r) => r.version)).toEqual(['001']);
    // The unchanged files still migrate.
    expect((await migrate(db, files)).applied).toEqual(ALL.slice(1));
  });

  it('serializes concurrent runners: each migration is applied exactly once', async () => {
    const { open } = await freshPg();
    const runners = Array.from({ length: 6 }, () => open());
    const results = await Promise.all(runners.map((d) => migrate(d)));
    const applied = results.flatMap((r) => r.applied);
    expect(applied.sort()).toEqual(ALL);
    expect(results.filter((r) => r.applied.length > 0)).toHaveLength(1);
  });

  it('works the same on PGlite', async () => {
    const db = await createPgliteDb('memory://', undefined, { blank: true });
    cleanups.push(() => db.close());
    expect((await migrate(db)).applied).toHaveLength(ALL.length);
    expect(await migrationsApplied(db)).toBe(true);
    expect((await migrate(db)).applied).toEqual([]);
  });
});
