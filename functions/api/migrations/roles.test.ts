import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/support/postgres';
import { loadConfig } from '../config';
import { createPgDb } from '../db/pg';
import { createLogger } from '../logger';
import { ensureAppRole } from './roles';
import { migrate } from './runner';

const log = createLogger('silent');
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('ensureAppRole', () => {
  it('ensureAppRole creates a login role with DML only and never resets its password', async () => {
    const database = await createTestDatabase('tasks_role');
    cleanups.push(() => database.drop());
    const pgDb = createPgDb(loadConfig({ DATABASE_URL: database.url }).db, log);
    cleanups.unshift(() => pgDb.close());
    await migrate(pgDb);
    // Every statement ensureAppRole sends, to check that no password travels in plain text.
    const sent: string[] = [];
    const db = new Proxy(pgDb, {
      get: (target, key) => (key === 'query' ? (sql: string, params?: unknown[]) => (sent.push(sql), target.query(sql, params)) : Reflect.get(target, key)),
    });
    const suffix = database.name.slice(-8);
    const user = `tasks_app_${suffix}`;
    cleanups.push(async () => {
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      await admin.query(`DROP OWNED BY ${user}, ${user}_clone CASCADE`).catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS ${user}_clone`);
      await admin.query(`DROP ROLE IF EXISTS ${user}`);
      await admin.end();
    });
    expect(await ensureAppRole(db, { username: user, password: 'first' })).toContain(`created role ${user}`);
    const [role] = await db.query<{ rolcanlogin: boolean; rolsuper: boolean; rolcreaterole: boolean; pw: string }>(
      'SELECT rolcanlogin, rolsuper, rolcreaterole, (SELECT passwd FROM pg_shadow WHERE usename = $1) AS pw FROM pg_roles WHERE rolname = $1',
      [user],
    );
    expect(role).toMatchObject({ rolcanlogin: true, rolsuper: false, rolcreaterole: false });
    expect(role!.pw).toMatch(/^SCRAM-SHA-256\$/);
    expect(sent.filter((sql) => sql.includes('first'))).toEqual([]);
    // A second run (a later deploy, after rotation changed the password) keeps the password.
    expect(await ensureAppRole(db, { username: user, password: 'second' })).not.toContain(`created role ${user}`);
    const [again] = await db.query<{ pw: string }>('SELECT passwd AS pw FROM pg_shadow WHERE usename = $1', [user]);
    expect(again!.pw).toBe(role!.pw);

    // As the app role (trust auth here): DML works, DDL does not.
    const url = new URL(database.url);
    url.username = user;
    const app = new pg.Client({ connectionString: url.toString() });
    await app.connect();
    try {
      await app.query("INSERT INTO main_table (task) VALUES ('as app')");
      await app.query('UPDATE main_table SET done = true');
      expect((await app.query('SELECT count(*)::int AS n FROM main_table')).rows[0].n).toBe(1);
      await app.query('DELETE FROM main_table');
      // Keyed writes record their answer in idempotency_keys, as the app role.
      await app.query("INSERT INTO idempotency_keys (key, fingerprint, status, body) VALUES ('k', 'f', 201, '{}')");
      await app.query("DELETE FROM idempotency_keys WHERE created_at < now() + interval '1 hour'");
      await expect(app.query('CREATE TABLE sneaky (id int)')).rejects.toMatchObject({ code: '42501' });
      await expect(app.query('DROP TABLE main_table')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await app.end();
    }

    // With alternating users the current secret may name the clone: it inherits the base role's rights.
    expect(await ensureAppRole(db, { username: `${user}_clone`, password: 'clone-password' })).toContain(`created role ${user}_clone (member of ${user})`);
    expect(sent.filter((sql) => sql.includes('clone-password'))).toEqual([]);
    url.username = `${user}_clone`;
    const clone = new pg.Client({ connectionString: url.toString() });
    await clone.connect();
    try {
      await clone.query("INSERT INTO main_table (task) VALUES ('as clone')");
    } finally {
      await clone.end();
    }
  });
});
