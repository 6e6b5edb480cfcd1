import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/support/postgres';
import { openNeonTestDb } from '../../test/support/neon-bridge';
import { createApp } from './app';
import { loadConfig } from './config';
import type { Db } from './db';
import { createPgDb } from './db/pg';
import { createPgliteDb } from './db/pglite';
import { expiredKeyCleanup, IDEMPOTENCY_RETENTION_HOURS, idempotencyKeyRows, keyedWrite, parseIdempotencyKey, requestFingerprint } from './idempotency';
import { taskRepository, taskWrites } from './tasks';
import { createMetrics } from './metrics';
import { createLogger, errorFields } from './logger';
import { migrate } from './migrations/runner';

/**
 * The Idempotency-Key rules that need the database's side of the story (a stall, a failed write,
 * the clock), on each driver. The rules a client can see alone are rows of the API contract
 * (test/contract/api-contract.ts), which runs on every host.
 */
const log = createLogger('silent');

describe('parseIdempotencyKey and requestFingerprint', () => {
  it('unescapes an RFC 8941 string, takes the same key bare, and refuses anything else', () => {
    expect(parseIdempotencyKey('"abc"')).toBe('abc');
    expect(parseIdempotencyKey(' "a\\"b\\\\c" ')).toBe('a"b\\c');
    // Bare, as Stripe-style clients send it: the same key as its quoted form.
    expect(parseIdempotencyKey('abc')).toBe('abc');
    expect(parseIdempotencyKey(' 8e03978e-40d5-43e8-bc93-6894a57f9324 ')).toBe('8e03978e-40d5-43e8-bc93-6894a57f9324');
    expect(parseIdempotencyKey('a"b')).toBeUndefined();
    expect(parseIdempotencyKey('k'.repeat(255))).toHaveLength(255);
    for (const bad of ['a b', 'a,b', 'a\\b', 'one, two', 'k'.repeat(256), '""', '"a', 'a"', '"a"b"', '"a\\b"', '"\u00e9"', '"a\tb"', '"a", "b"', `"${'k'.repeat(256)}"`]) {
      expect(parseIdempotencyKey(bad), bad).toBeUndefined();
    }
    expect(parseIdempotencyKey(`"${'k'.repeat(255)}"`)).toHaveLength(255);
  });

  it('tells method, path and body apart, byte for byte', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const base = requestFingerprint('POST', '/api/tasks', enc('{"task":"a"}'));
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(requestFingerprint('POST', '/api/tasks', enc('{"task":"a"}'))).toBe(base);
    expect(requestFingerprint('PUT', '/api/tasks', enc('{"task":"a"}'))).not.toBe(base);
    expect(requestFingerprint('POST', '/api/tasks/1', enc('{"task":"a"}'))).not.toBe(base);
    expect(requestFingerprint('POST', '/api/tasks', enc('{"task": "a"}'))).not.toBe(base);
  });

  it('tells If-Match values apart; without one the fingerprint is the one keys stored before conditional writes have', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const body = enc('{"done":true}');
    const plain = requestFingerprint('PATCH', '/api/tasks/1', body);
    // sha256 of "PATCH /api/tasks/1\n{"done":true}", as computed before If-Match was part of it.
    expect(plain).toBe(createHash('sha256').update('PATCH /api/tasks/1\n{"done":true}').digest('hex'));
    expect(requestFingerprint('PATCH', '/api/tasks/1', body, undefined)).toBe(plain);
    const tagged = requestFingerprint('PATCH', '/api/tasks/1', body, '"1"');
    expect(tagged).not.toBe(plain);
    expect(requestFingerprint('PATCH', '/api/tasks/1', body, '"1"')).toBe(tagged);
    for (const other of ['"2"', '*', 'W/"1"', '"1", "2"']) expect(requestFingerprint('PATCH', '/api/tasks/1', body, other), other).not.toBe(tagged);
  });
});

describe('expiredKeyCleanup when the database fails', () => {
  it("logs through the logger's err serializer: type, code and message, no driver property", async () => {
    class DriverError extends Error {
      override name = 'DriverError';
      code = '57014';
      client = { connectionParameters: { password: 'hunter2' } };
    }
    const lines: Record<string, unknown>[] = [];
    const captured = createLogger('debug', { write: (line) => void lines.push(JSON.parse(line)) });
    const err = new DriverError('canceling statement due to statement timeout');
    const failing = { query: () => Promise.reject(err) } as unknown as Db;
    expect(await expiredKeyCleanup(captured)(failing)).toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', msg: 'removing expired idempotency keys failed' });
    expect(lines[0]!.err).toEqual(errorFields(err));
    expect(lines[0]!.err).toEqual({ type: 'DriverError', code: '57014', message: 'canceling statement due to statement timeout' });
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  });
});

function describeIdempotency(driverName: 'pg' | 'neon' | 'pglite', open: () => Promise<{ db: Db; cleanup: () => Promise<void> }>) {
  describe(`Idempotency-Key on ${driverName}`, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    const make = () =>
      createApp({ config: loadConfig({ DB_DRIVER: driverName, DB_HOST: 'unused' }), db: async () => db, log, state: { shuttingDown: false, migrated: true } });
    let app: ReturnType<typeof make>;
    const key = () => `"${randomUUID()}"`;
    const keyed = async (method: string, path: string, k: string, body?: unknown) => {
      const res = await app.request(path, {
        method,
        headers: { 'content-type': 'application/json', 'idempotency-key': k },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, text, json: JSON.parse(text), headers: res.headers };
    };
    const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM main_table'))[0]!.n;
    const keyRows = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM idempotency_keys'))[0]!.n;

    beforeAll(async () => {
      ({ db, cleanup } = await open());
      await migrate(db);
      app = make();
    });
    afterAll(async () => cleanup?.());
    beforeEach(async () => {
      await db.query('TRUNCATE main_table, idempotency_keys RESTART IDENTITY');
    });

    it('a write that fails with 503 stores nothing: the retry with the same key runs it', async () => {
      let failInsert = true;
      // The keyed write is one statement: the connection drops under the first one that creates a task.
      const flaky: Db = {
        ...db,
        driver: db.driver,
        query: (text, params, options) => {
          if (failInsert && text.includes('task_create(')) {
            failInsert = false;
            return Promise.reject(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
          }
          return db.query(text, params, options);
        },
        transaction: (fn) => db.transaction(fn),
      };
      const config = loadConfig({ DB_DRIVER: driverName, DB_HOST: 'unused' });
      const flakyApp = createApp({ config, db: async () => flaky, log, state: { shuttingDown: false, migrated: true } });
      const k = key();
      const send = () =>
        flakyApp.request('/api/tasks', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': k }, body: '{"task":"after a restart"}' });
      const failed = await send();
      expect(failed.status).toBe(503);
      expect((await failed.json()).code).toBe('database_unavailable');
      expect(await count()).toBe(0);
      expect(await keyRows()).toBe(0);
      const retried = await send();
      expect(retried.status).toBe(201);
      expect(retried.headers.get('idempotent-replayed')).toBeNull();
      expect((await send()).headers.get('idempotent-replayed')).toBe('true');
      expect(await count()).toBe(1);
    });

    it(driverName === 'pglite'
      ? 'a repeat while the first is running waits for it (PGlite runs one transaction at a time) and is replayed'
      : 'a repeat while the first is running → 409 idempotency_key_in_use with Retry-After; replayed once it is done', async () => {
      const k = key();
      if (driverName === 'pglite') {
        const [a, b] = await Promise.all([keyed('POST', '/api/tasks', k, { task: 'once' }), keyed('POST', '/api/tasks', k, { task: 'once' })]);
        expect([a.status, b.status]).toEqual([201, 201]);
        expect(b.text).toBe(a.text);
        expect([a.headers.get('idempotent-replayed'), b.headers.get('idempotent-replayed')].sort()).toEqual(['true', null].sort());
        expect(await count()).toBe(1);
        return;
      }
      // Another session holds the table, so the first request stalls inside its transaction.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => (locked = r));
      const holder = db.transaction(async (q) => {
        await q.query('LOCK TABLE main_table IN EXCLUSIVE MODE');
        locked();
        await held;
      });
      await isLocked;
      const first = keyed('POST', '/api/tasks', k, { task: 'once' });
      // Wait until the first request holds its key's advisory lock.
      for (let i = 0; ; i++) {
        const [row] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = 7315 AND objsubid = 2");
        if (row!.n > 0) break;
        if (i > 200) throw new Error('the first request never took its key lock');
        await new Promise((r) => setTimeout(r, 10));
      }
      const busy = await keyed('POST', '/api/tasks', k, { task: 'once' });
      expect(busy.status).toBe(409);
      expect(busy.headers.get('retry-after')).toBe('1');
      expect(busy.json).toEqual({
        success: false,
        message: 'A request with this Idempotency-Key is still being processed; retry shortly',
        code: 'idempotency_key_in_use',
      });
      release();
      await holder;
      const done = await first;
      expect(done.status).toBe(201);
      const replay = await keyed('POST', '/api/tasks', k, { task: 'once' });
      expect([replay.status, replay.text, replay.headers.get('idempotent-replayed')]).toEqual([201, done.text, 'true']);
      expect(await count()).toBe(1);
    });

    it('the same key from 20 clients at once: one row; each answer is the first one replayed or a 409', async () => {
      const k = key();
      const answers = await Promise.all(Array.from({ length: 20 }, () => keyed('POST', '/api/tasks', k, { task: 'twenty at once' })));
      const fresh = answers.filter((a) => a.status === 201 && a.headers.get('idempotent-replayed') === null);
      expect(fresh).toHaveLength(1);
      for (const a of answers) {
        if (a.status === 201) expect(a.text).toBe(fresh[0]!.text);
        else expect([a.status, a.json.code]).toEqual([409, 'idempotency_key_in_use']);
      }
      expect(await count()).toBe(1);
      expect(await keyRows()).toBe(1);
    });

    if (driverName !== 'pglite') {
      it("a key stored after the statement's snapshot was taken: the write is undone, the stored answer replayed", async () => {
        // The window between a repeat's snapshot and its lock attempt, held open: the repeat runs in a
        // REPEATABLE READ transaction whose snapshot predates the first request's commit.
        const k = key();
        const first = await keyed('POST', '/api/tasks', k, { task: 'first' });
        const stored = await db.query<{ fingerprint: string; status: number; body: string }>('SELECT fingerprint, status, body FROM idempotency_keys');
        await db.query('TRUNCATE main_table, idempotency_keys RESTART IDENTITY');
        const late: Db = {
          ...db,
          driver: db.driver,
          query: (text, params, options) =>
            text.includes('pg_try_advisory_xact_lock')
              ? db.transaction(async (q) => {
                  await q.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
                  await q.query('SELECT 1');
                  await db.query('INSERT INTO idempotency_keys (key, fingerprint, status, body) VALUES ($1, $2, $3, $4)', [
                    JSON.parse(k),
                    stored[0]!.fingerprint,
                    stored[0]!.status,
                    stored[0]!.body,
                  ]);
                  return q.query(text, params, options);
                })
              : db.query(text, params, options),
          transaction: (fn) => db.transaction(fn),
        };
        const lateApp = createApp({ config: loadConfig({ DB_DRIVER: driverName, DB_HOST: 'unused' }), db: async () => late, log, state: { shuttingDown: false, migrated: true } });
        const res = await lateApp.request('/api/tasks', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': k }, body: '{"task":"first"}' });
        expect([res.status, await res.text(), res.headers.get('idempotent-replayed')]).toEqual([201, first.text, 'true']);
        expect(await count()).toBe(0);
        expect(await keyRows()).toBe(1);
      });
    }

    if (driverName !== 'pglite') {
      it('every write statement is prepared once per connection and planned once: one statement per kind, however many requests', async () => {
        // A keyed write's statement costs PostgreSQL more to parse and plan than to run (bench/README.md):
        // it must be a named statement that the connection keeps, with its plan cached, and the
        // key, body and ids must be parameters, never part of its text.
        const statements = await db.transaction(async (q) => {
          const store = taskRepository(q);
          for (let i = 0; i < 8; i++) {
            const done = await keyedWrite(q, `prepared-${i}`, `f${i}`, taskWrites.create(`task ${i}`, 'Task added successfully'));
            expect(done.outcome).toBe('done');
            expect((await store.write(taskWrites.create(`plain ${i}`, 'Task added successfully'))).status).toBe(201);
            await keyedWrite(q, `prepared-patch-${i}`, `f${i}`, taskWrites.update(1 + i, { done: i % 2 === 0 }, 'Task updated successfully', '{}'));
            await store.get(i + 1);
            await store.list(10, i);
          }
          expect((await keyedWrite(q, 'prepared-0', 'f0', taskWrites.create('task 0', 'Task added successfully'))).outcome).toBe('replay');
          return q.query<{ statement: string; generic_plans: number; custom_plans: number }>(
            'SELECT statement, generic_plans::int, custom_plans::int FROM pg_prepared_statements WHERE NOT from_sql',
          );
        });
        // Keyed create, keyed update, plain create, get, list: five texts, each prepared once.
        // One statement per kind (the connection may hold others from earlier tests), each executed
        // every time: keyed create, keyed update, plain create, get, list.
        const kinds = {
          keyedCreate: (t: string) => t.includes('pg_try_advisory_xact_lock') && t.includes('task_create('),
          keyedUpdate: (t: string) => t.includes('pg_try_advisory_xact_lock') && t.includes('task_update('),
          plainCreate: (t: string) => !t.includes('pg_try_advisory_xact_lock') && t.includes('task_create('),
          get: (t: string) => t.includes('FROM main_table WHERE id = $1'),
          list: (t: string) => t.includes('FROM main_table WHERE id > $1'),
        };
        for (const [kind, is] of Object.entries(kinds)) {
          const found = statements.filter((s) => is(s.statement));
          expect(found, kind).toHaveLength(1);
          expect(found[0]!.generic_plans + found[0]!.custom_plans, kind).toBeGreaterThanOrEqual(8);
        }
        // PostgreSQL's plan cache switches to the generic plan after five custom ones: planned no more.
        expect(statements.find((s) => kinds.keyedCreate(s.statement))!.generic_plans).toBeGreaterThan(0);
        for (const s of statements) expect(s.statement).not.toMatch(/prepared-|task \d|plain \d/);
      });
    }

    it('one clean-up tick deletes every expired key, batch after batch, and counts them; the next tick waits for its interval', async () => {
      await db.query(
        `INSERT INTO idempotency_keys (key, fingerprint, status, body, created_at)
         SELECT 'old-' || i, 'f', 201, '{}', now() - interval '${IDEMPOTENCY_RETENTION_HOURS + 1} hours' FROM generate_series(1, 2500) i`,
      );
      expect((await keyed('POST', '/api/tasks', key(), { task: 'kept' })).status).toBe(201);
      const tick = expiredKeyCleanup(log, { batch: 1000 });
      expect(await tick(db)).toBe(2500);
      expect(await keyRows()).toBe(1);
      await db.query(`UPDATE idempotency_keys SET created_at = now() - interval '${IDEMPOTENCY_RETENTION_HOURS + 1} hours'`);
      expect(await tick(db)).toBe(0);
      expect(await keyRows()).toBe(1);
    });

    it('the idempotency_keys metric on a fresh database, before any ANALYZE: the rows, never -1 or NaN', async () => {
      // PostgreSQL 14+ (and PGlite) keep reltuples at -1 for a table never vacuumed or analysed.
      const fresh = await open();
      try {
        await migrate(fresh.db);
        const metrics = createMetrics(() => undefined, () => 0, () => idempotencyKeyRows(fresh.db));
        const gauge = async () => /^idempotency_keys (\S+)$/m.exec((await metrics.render()).body)?.[1];
        const reltuples = async () => (await fresh.db.query<{ n: number }>("SELECT reltuples::float8 AS n FROM pg_class WHERE oid = 'idempotency_keys'::regclass"))[0]!.n;
        expect(await reltuples()).toBe(-1);
        expect(await gauge()).toBe('0');
        await fresh.db.query(`INSERT INTO idempotency_keys (key, fingerprint, status, body) SELECT 'f-' || i, 'f', 201, '{}' FROM generate_series(1, 12) i`);
        expect(await reltuples()).toBe(-1);
        expect(await gauge()).toBe('12');
      } finally {
        await fresh.cleanup();
      }
    });

    it('the table size is the idempotency_keys metric: a count until the table is analysed, then its estimate', async () => {
      await db.query(
        `INSERT INTO idempotency_keys (key, fingerprint, status, body) SELECT 'm-' || i, 'f', 201, '{}' FROM generate_series(1, 30) i`,
      );
      const metrics = createMetrics(() => undefined, () => 0, () => idempotencyKeyRows(db));
      const gauge = async () => /^idempotency_keys (\S+)$/m.exec((await metrics.render()).body)?.[1];
      // TRUNCATE (beforeEach) leaves the table unanalysed (reltuples -1): counted.
      expect(await gauge()).toBe('30');
      await db.query("DELETE FROM idempotency_keys WHERE key = 'm-30'");
      await db.query('ANALYZE idempotency_keys');
      expect(await gauge()).toBe('29');
      await db.query("DELETE FROM idempotency_keys WHERE key IN ('m-1', 'm-2')");
      await db.query('ANALYZE idempotency_keys');
      expect(await gauge()).toBe('27');
      // Unreadable (no database): NaN (prom-client writes "Nan"), not a made-up 0, and the scrape still answers.
      const broken = createMetrics(() => undefined, () => 0, () => Promise.reject(new Error('no database')));
      expect((await broken.render()).body).toMatch(/^idempotency_keys Nan$/m);
    });

    it(`keys expire after ${IDEMPOTENCY_RETENTION_HOURS} h and expired ones are removed`, async () => {
      const k = key();
      expect((await keyed('POST', '/api/tasks', k, { task: 'yesterday' })).status).toBe(201);
      await db.query(`UPDATE idempotency_keys SET created_at = now() - interval '${IDEMPOTENCY_RETENTION_HOURS} hours 1 minute'`);
      // An expired key is a new key: any request may use it again.
      const reused = await keyed('POST', '/api/tasks', k, { task: 'today' });
      expect(reused.status).toBe(201);
      expect(reused.headers.get('idempotent-replayed')).toBeNull();
      expect(await count()).toBe(2);
      // A process removes expired keys after its first stored write (then at most once a minute).
      await db.query(
        `INSERT INTO idempotency_keys (key, fingerprint, status, body, created_at)
         SELECT 'old-' || i, 'f', 201, '{}', now() - interval '${IDEMPOTENCY_RETENTION_HOURS + 1} hours' FROM generate_series(1, 5) i`,
      );
      app = make();
      expect((await keyed('POST', '/api/tasks', key(), { task: 'fresh process' })).status).toBe(201);
      await expect.poll(async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM idempotency_keys WHERE key LIKE 'old-%'"))[0]!.n).toBe(0);
      expect(await keyRows()).toBe(2);
    });
  });
}

describeIdempotency('pglite', async () => {
  const db = await createPgliteDb('memory://');
  return { db, cleanup: () => db.close() };
});

describeIdempotency('pg', async () => {
  const database = await createTestDatabase('tasks_idem');
  const db = createPgDb(loadConfig({ DATABASE_URL: database.url }).db, log);
  return {
    db,
    cleanup: async () => {
      await db.close();
      await database.drop();
    },
  };
});

describeIdempotency('neon', () => openNeonTestDb(log));
