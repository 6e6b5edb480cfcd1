import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../functions/api/app';
import { loadConfig } from '../functions/api/config';
import type { Db } from '../functions/api/db';
import { createPgliteDb } from '../functions/api/db/pglite';
import { createLogger } from '../functions/api/logger';
import { createMetrics } from '../functions/api/metrics';
import { loadMigrations } from '../functions/api/migrations/files';
import { migrate } from '../functions/api/migrations/runner';
import { ensureBundle, freePort, serverBundle } from './support/api';
import { waitFor200 } from './support/hosts';
import { openNeonTestDb } from './support/neon-bridge';
import { createTestDatabase } from './support/postgres';

// A database the migrations never reached, or reached only in part (an image newer than its
// database): every route answers 503 schema_not_ready with Retry-After, JSON, on every driver,
// whatever SQLSTATE the missing piece raises (42P01 table, 42883 function, 42703 column), and
// writes nothing.

type Send = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Response>;

const json = { 'content-type': 'application/json' };
const keyed = (n: number) => ({ ...json, 'idempotency-key': `"schema-not-ready-${n}"` });

/** Every route that touches the database: reads, writes keyed and unkeyed, toggle-all, restore. */
const REQUESTS: [string, string, unknown?, Record<string, string>?][] = [
  ['GET', '/api/tasks'],
  ['GET', '/api/tasks?order=position'],
  ['GET', '/api/tasks/1'],
  ['POST', '/api/tasks', { task: 'unkeyed' }, json],
  ['POST', '/api/tasks', { task: 'keyed' }, keyed(1)],
  ['PUT', '/api/tasks/1', { task: 'put' }, json],
  ['PUT', '/api/tasks/1', { task: 'put keyed' }, keyed(2)],
  ['PATCH', '/api/tasks/1', { done: true }, json],
  ['PATCH', '/api/tasks/1', { position: 'a5' }, keyed(3)],
  ['PATCH', '/api/tasks', { ids: [1], done: true }, json],
  ['PATCH', '/api/tasks', { ids: [1], done: true }, keyed(4)],
  ['DELETE', '/api/tasks/1', undefined, {}],
  ['DELETE', '/api/tasks/1', undefined, { 'idempotency-key': '"schema-not-ready-5"' }],
  ['POST', '/api/tasks/restore', { tasks: [{ id: 1 }] }, json],
];

const MESSAGE = 'The database schema is missing or not up to date: run `npm run migrate` (or start with MIGRATE_ON_START=true)';

async function expectEveryRouteNotReady(send: Send) {
  for (const [method, path, body, headers] of REQUESTS) {
    const r = await send(method, path, body, headers);
    const label = `${method} ${path} ${JSON.stringify(headers ?? {})}`;
    expect({ label, status: r.status, type: r.headers.get('content-type'), retryAfter: r.headers.get('retry-after') }).toEqual({
      label,
      status: 503,
      type: expect.stringMatching(/^application\/json/),
      retryAfter: '10',
    });
    expect({ label, body: await r.json() }).toEqual({ label, body: { success: false, code: 'schema_not_ready', message: MESSAGE } });
  }
}

/** The first `count` migrations (all of them when undefined) applied with the project's own runner. */
async function migrateFirst(db: Db, count: number) {
  if (count > 0) await migrate(db, loadMigrations().slice(0, count));
}

/** What a partly migrated database holds, to compare before and after the requests. */
async function contents(q: (sql: string) => Promise<unknown[]>) {
  const tables = (await q("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")) as { table_name: string }[];
  const out: Record<string, unknown[]> = {};
  for (const { table_name } of tables) {
    if (table_name === 'schema_migrations') continue;
    out[table_name] = await q(`SELECT * FROM "${table_name}" ORDER BY 1`);
  }
  return { tables: tables.map((t) => t.table_name), rows: out };
}

/**
 * The stages tested: nothing at all; the table without task_create (42883, a function, migration
 * 007); every function but without `position` (42703, a column, migration 012).
 */
const STAGES: [string, number][] = [
  ['an empty database (no migration applied)', 0],
  ['a database migrated up to 006 (no task_create function yet)', 6],
  ['a database migrated up to 011 (no position column yet)', 11],
];

describe('the bundle over HTTP on PostgreSQL without MIGRATE_ON_START', () => {
  beforeAll(() => ensureBundle(), 300_000);

  it.each(STAGES)('%s: every route 503 schema_not_ready, JSON, Retry-After, nothing written', async (_name, count) => {
    const database = await createTestDatabase();
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    const port = await freePort();
    const child = spawn(process.execPath, [serverBundle], { env: { PATH: process.env.PATH ?? '', PORT: String(port), DATABASE_URL: database.url, LOG_LEVEL: 'fatal' }, stdio: 'ignore' });
    const url = `http://127.0.0.1:${port}`;
    const q = async (sql: string) => (await admin.query(sql)).rows;
    try {
      if (count > 0) {
        const { createPgDb } = await import('../functions/api/db/pg');
        const db = createPgDb(loadConfig({ DATABASE_URL: database.url }).db, createLogger('silent'));
        try {
          await migrateFirst(db, count);
        } finally {
          await db.close();
        }
        // One task as an older API wrote it, so the id routes reach the database's functions.
        await admin.query("INSERT INTO main_table (task) VALUES ('kept')");
      }
      const before = await contents(q);
      await waitFor200(`${url}/healthz`, child, () => '');
      expect((await fetch(`${url}/readyz`)).status).toBe(503);
      await expectEveryRouteNotReady((method, path, body, headers) =>
        fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }),
      );
      expect(await contents(q)).toEqual(before);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await admin.end();
      await database.drop();
    }
  }, 120_000);
});

/** The app in-process on one driver's Db, without start-up migrations. */
function inProcess(driver: 'pglite' | 'neon', db: Db): Send {
  const config = loadConfig({ DB_DRIVER: driver, DB_HOST: 'unused' });
  const app = createApp({ config, db: async () => db, log: createLogger('silent'), metrics: createMetrics(() => db.stats()), state: { shuttingDown: false, migrated: false } });
  return async (method, path, body, headers = {}) =>
    app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

describe.each([
  ['pglite', async () => {
    const db = await createPgliteDb('memory://', undefined, { blank: true });
    return { db, cleanup: () => db.close() };
  }],
  ['neon', () => openNeonTestDb()],
] as const)('in-process on %s without migrations', (driver, open) => {
  let opened: { db: Db; cleanup: () => Promise<void> }[] = [];
  afterAll(async () => {
    for (const o of opened) await o.cleanup();
    opened = [];
  });

  it.each(STAGES)('%s: every route 503 schema_not_ready, nothing written', async (_name, count) => {
    const o = await open();
    opened.push(o);
    await migrateFirst(o.db, count);
    if (count > 0) await o.db.query("INSERT INTO main_table (task) VALUES ('kept')");
    const q = (sql: string) => o.db.query(sql);
    const before = await contents(q);
    await expectEveryRouteNotReady(inProcess(driver, o.db));
    expect(await contents(q)).toEqual(before);
  }, 120_000);
});
