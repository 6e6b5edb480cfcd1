import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from './app';
import { loadConfig } from './config';
import type { Db } from './db';
import { IDEMPOTENCY_RETENTION_HOURS } from './idempotency';
import { createLogger } from './logger';
import { createMetrics } from './metrics';
import { migrate } from './migrations';
import { BODY_LIMIT_BYTES } from './routes/api';

/**
 * The HTTP contract, row by row, run in-process (app.request) against a real database.
 * Each driver's test file calls this with its own Db, so every row holds on every driver.
 */
export function describeContract(driverName: 'pg' | 'neon' | 'pglite', open: () => Promise<{ db: Db; cleanup: () => Promise<void> }>) {
  describe(`API contract on ${driverName}`, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    const log = createLogger('silent');
    const make = (env: Record<string, string> = {}) => {
      const config = loadConfig({ DB_DRIVER: driverName, DB_HOST: 'unused', ...env });
      return createApp({ config, db: async () => db, log, metrics: createMetrics(() => db.stats()), state: { shuttingDown: false, migrated: false } });
    };
    let app: ReturnType<typeof make>;

    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
      }
      const res = await app.request(path, init);
      const text = await res.text();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text, headers: res.headers };
    };
    const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM main_table'))[0]!.n;
    const add = async (task: string) => (await call('POST', '/api/tasks', { task })).json.task;
    const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

    beforeAll(async () => {
      ({ db, cleanup } = await open());
      await migrate(db);
      app = make({ K_REVISION: 'tasks-api-00007', APP_VERSION: '9.9.9' });
    });
    afterAll(async () => cleanup?.());
    beforeEach(async () => {
      await db.query('TRUNCATE main_table RESTART IDENTITY');
    });

    it('GET /api/ answers the connectivity check', async () => {
      const r = await call('GET', '/api/');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ message: 'Task API is running' });
    });

    it('GET /api/tasks on an empty table', async () => {
      const r = await call('GET', '/api/tasks');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ success: true, tasks: [], nextCursor: null });
    });

    it('POST /api/tasks creates a task with the seed shape and timestamps', async () => {
      const r = await call('POST', '/api/tasks', { task: 'Buy milk' });
      expect(r.status).toBe(201);
      expect(r.json).toEqual({
        success: true,
        message: 'Task added successfully',
        task: { id: 1, task: 'Buy milk', done: false, createdAt: expect.stringMatching(ISO), updatedAt: expect.stringMatching(ISO) },
      });
      expect(await count()).toBe(1);
    });

    it('stores text exactly as sent: quotes, SQL, emoji, RTL, spaces, 255 characters', async () => {
      const samples = [
        `It's "quoted" \\ back\\slash`,
        "'); DROP TABLE main_table; --",
        'Emoji 👩🏽‍💻🚀 and ZWJ',
        'مهمة جديدة עם טקסט',
        '  padded with spaces  ',
        '🙂'.repeat(255), // 255 characters, 510 UTF-16 units
        'x'.repeat(255),
        'line\nbreak\ttab',
      ];
      for (const text of samples) {
        const created = await call('POST', '/api/tasks', { task: text });
        expect(created.status, text).toBe(201);
        expect(created.json.task.task).toBe(text);
        const got = await call('GET', `/api/tasks/${created.json.task.id}`);
        expect(got.json.task.task).toBe(text);
      }
      expect(await count()).toBe(samples.length);
    });

    it('GET /api/tasks lists in ascending id order', async () => {
      for (const t of ['a', 'b', 'c']) await add(t);
      const r = await call('GET', '/api/tasks');
      expect(r.json.tasks.map((t: { task: string }) => t.task)).toEqual(['a', 'b', 'c']);
      expect(r.json.tasks.map((t: { id: number }) => t.id)).toEqual([1, 2, 3]);
      expect(r.json.nextCursor).toBeNull();
    });

    it('pages with ?limit and ?cursor (keyset)', async () => {
      for (let i = 1; i <= 5; i++) await add(`t${i}`);
      const p1 = await call('GET', '/api/tasks?limit=2');
      expect(p1.json.tasks.map((t: { task: string }) => t.task)).toEqual(['t1', 't2']);
      expect(typeof p1.json.nextCursor).toBe('string');
      const p2 = await call('GET', `/api/tasks?limit=2&cursor=${p1.json.nextCursor}`);
      expect(p2.json.tasks.map((t: { task: string }) => t.task)).toEqual(['t3', 't4']);
      const p3 = await call('GET', `/api/tasks?limit=2&cursor=${p2.json.nextCursor}`);
      expect(p3.json.tasks.map((t: { task: string }) => t.task)).toEqual(['t5']);
      expect(p3.json.nextCursor).toBeNull();
      const exact = await call('GET', '/api/tasks?limit=5');
      expect(exact.json.tasks).toHaveLength(5);
      expect(exact.json.nextCursor).toBeNull();
    });

    it.each([
      ['limit=0', 'limit must be an integer from 1 to 1000'],
      ['limit=1001', 'limit must be an integer from 1 to 1000'],
      ['limit=abc', 'limit must be an integer from 1 to 1000'],
      ['limit=-1', 'limit must be an integer from 1 to 1000'],
      ['cursor=xyz', 'cursor is not valid; use the nextCursor of a previous page'],
      ['cursor=99999999999', 'cursor is not valid; use the nextCursor of a previous page'],
    ])('GET /api/tasks?%s → 400', async (query, message) => {
      const r = await call('GET', `/api/tasks?${query}`);
      expect(r.status).toBe(400);
      expect(r.json).toEqual({ success: false, message, code: 'validation_error' });
    });

    it('GET /api/tasks/:id returns one task, 404 when missing', async () => {
      const t = await add('one');
      const r = await call('GET', `/api/tasks/${t.id}`);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ success: true, task: t });
      const missing = await call('GET', '/api/tasks/999');
      expect(missing.status).toBe(404);
      expect(missing.json).toEqual({ success: false, message: 'Task not found', code: 'not_found' });
    });

    it.each([
      ['abc', 'id must be a positive integer'],
      ['1.5', 'id must be a positive integer'],
      ['-1', 'id must be a positive integer'],
      ['1e3', 'id must be a positive integer'],
      ['0', 'id must be between 1 and 2147483647'],
      ['2147483648', 'id must be between 1 and 2147483647'],
      ['99999999999999999999999', 'id must be between 1 and 2147483647'],
    ])('non-integer or out-of-range id %s → 400 on every method', async (id, message) => {
      await add('keep me');
      for (const [method, body] of [['GET'], ['PUT', { task: 'x' }], ['PATCH', { done: true }], ['DELETE']] as const) {
        const r = await call(method, `/api/tasks/${id}`, body);
        expect(r.status, `${method} ${id}`).toBe(400);
        expect(r.json).toEqual({ success: false, message, code: 'validation_error' });
      }
      expect(await count()).toBe(1);
    });

    it.each([
      ['missing task', {}, 'task is required'],
      ['empty task', { task: '' }, 'task must not be empty'],
      ['whitespace-only task', { task: ' \t\n ' }, 'task must not be empty'],
      ['256 characters', { task: 'x'.repeat(256) }, 'task must be at most 255 characters'],
      ['256 emoji characters', { task: '🙂'.repeat(256) }, 'task must be at most 255 characters'],
      ['a number', { task: 42 }, 'task must be a string'],
      ['null', { task: null }, 'task must be a string'],
      ['a NUL character', { task: 'a\u0000b' }, 'task must not contain NUL characters'],
      ['a JSON array', [{ task: 'x' }], 'request body must be a JSON object'],
      ['a JSON string', '"just text"', 'request body must be a JSON object'],
    ])('POST with %s → 400 and nothing written', async (_name, body, message) => {
      const r = await call('POST', '/api/tasks', body);
      expect(r.status).toBe(400);
      expect(r.json).toEqual({ success: false, message, code: 'validation_error' });
      expect(await count()).toBe(0);
    });

    it('malformed JSON → 400', async () => {
      for (const raw of ['{"task": "x"', '{task: x}', '']) {
        const r = await call('POST', '/api/tasks', raw);
        expect(r.status, raw).toBe(400);
        expect(r.json).toEqual({ success: false, message: 'The request body is not valid JSON', code: 'malformed_json' });
      }
      expect(await count()).toBe(0);
    });

    it('wrong or missing content type → 415', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
        const headers: Record<string, string> = type ? { 'content-type': type } : {};
        const r = await app.request('/api/tasks', { method: 'POST', body: JSON.stringify({ task: 'x' }), headers });
        expect(r.status, String(type)).toBe(415);
        expect(await r.json()).toEqual({
          success: false,
          message: 'Send the body as JSON with Content-Type: application/json',
          code: 'unsupported_media_type',
        });
      }
      const charset = await call('POST', '/api/tasks', { task: 'ok' }, { 'content-type': 'application/json; charset=utf-8' });
      expect(charset.status).toBe(201);
      expect(await count()).toBe(1);
    });

    it(`body over ${BODY_LIMIT_BYTES} bytes → 413`, async () => {
      const r = await call('POST', '/api/tasks', { task: 'x', padding: 'y'.repeat(BODY_LIMIT_BYTES) });
      expect(r.status).toBe(413);
      expect(r.json).toEqual({ success: false, message: `The request body must be at most ${BODY_LIMIT_BYTES} bytes`, code: 'payload_too_large' });
      expect(await count()).toBe(0);
    });

    it('PUT /api/tasks/:id replaces the text', async () => {
      const t = await add('old');
      const r = await call('PUT', `/api/tasks/${t.id}`, { task: 'new' });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({
        success: true,
        message: 'Task updated successfully',
        task: { ...t, task: 'new', updatedAt: expect.stringMatching(ISO) },
      });
      expect(r.json.task.updatedAt >= t.updatedAt).toBe(true);
      const missing = await call('PUT', '/api/tasks/999', { task: 'x' });
      expect(missing.status).toBe(404);
      expect(missing.json.code).toBe('not_found');
    });

    it('PUT with bad input → 400/415 and the task is unchanged', async () => {
      const t = await add('keep');
      expect((await call('PUT', `/api/tasks/${t.id}`, { task: '   ' })).status).toBe(400);
      expect((await call('PUT', `/api/tasks/${t.id}`, {})).status).toBe(400);
      expect((await call('PUT', `/api/tasks/${t.id}`, { task: 'y'.repeat(256) })).status).toBe(400);
      expect((await call('PUT', `/api/tasks/${t.id}`, '{oops')).status).toBe(400);
      expect((await call('PUT', `/api/tasks/${t.id}`, 'task=x', { 'content-type': 'text/plain' })).status).toBe(415);
      expect((await call('GET', `/api/tasks/${t.id}`)).json.task).toEqual(t);
    });

    it('PATCH /api/tasks/:id marks done, changes text, or both', async () => {
      const t = await add('patch me');
      const done = await call('PATCH', `/api/tasks/${t.id}`, { done: true });
      expect(done.status).toBe(200);
      expect(done.json).toEqual({ success: true, message: 'Task updated successfully', task: { ...t, done: true, updatedAt: expect.stringMatching(ISO) } });
      const both = await call('PATCH', `/api/tasks/${t.id}`, { task: 'patched', done: false });
      expect(both.json.task).toMatchObject({ id: t.id, task: 'patched', done: false });
      const text = await call('PATCH', `/api/tasks/${t.id}`, { task: 'only text' });
      expect(text.json.task).toMatchObject({ task: 'only text', done: false });
      expect((await call('PATCH', '/api/tasks/999', { done: true })).status).toBe(404);
    });

    it('PATCH with nothing to change or wrong types → 400, unchanged', async () => {
      const t = await add('same');
      const empty = await call('PATCH', `/api/tasks/${t.id}`, {});
      expect(empty.status).toBe(400);
      expect(empty.json).toEqual({ success: false, message: 'send task, done or both', code: 'validation_error' });
      const wrong = await call('PATCH', `/api/tasks/${t.id}`, { done: 'yes' });
      expect(wrong.status).toBe(400);
      expect(wrong.json).toEqual({ success: false, message: 'done must be true or false', code: 'validation_error' });
      expect((await call('PATCH', `/api/tasks/${t.id}`, { task: '' })).status).toBe(400);
      expect((await call('GET', `/api/tasks/${t.id}`)).json.task).toEqual(t);
    });

    it('DELETE /api/tasks/:id deletes once, then 404', async () => {
      const t = await add('bye');
      const r = await call('DELETE', `/api/tasks/${t.id}`);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ success: true, message: 'Task deleted successfully', id: t.id });
      expect((await call('GET', `/api/tasks/${t.id}`)).status).toBe(404);
      const again = await call('DELETE', `/api/tasks/${t.id}`);
      expect(again.status).toBe(404);
      expect(again.json).toEqual({ success: false, message: 'Task not found', code: 'not_found' });
    });

    describe('Idempotency-Key on writes', () => {
      const key = () => `"${randomUUID()}"`;
      const keyed = (method: string, path: string, k: string, body?: unknown) => call(method, path, body, { 'idempotency-key': k });
      const keyRows = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM idempotency_keys'))[0]!.n;
      beforeEach(async () => {
        await db.query('DELETE FROM idempotency_keys');
      });

      it('a repeat answers the stored status and body, marked Idempotent-Replayed, and writes nothing', async () => {
        const k = key();
        const first = await keyed('POST', '/api/tasks', k, { task: 'Pay rent' });
        expect(first.status).toBe(201);
        expect(first.headers.get('idempotent-replayed')).toBeNull();
        for (let i = 0; i < 3; i++) {
          const again = await keyed('POST', '/api/tasks', k, { task: 'Pay rent' });
          expect(again.status).toBe(201);
          expect(again.text).toBe(first.text);
          expect(again.headers.get('idempotent-replayed')).toBe('true');
          expect(again.headers.get('content-type')).toMatch(/^application\/json/);
        }
        expect(await count()).toBe(1);
        // PUT, PATCH and DELETE the same way: the second DELETE answers 200 again, not 404.
        const id = first.json.task.id;
        for (const [method, body] of [['PUT', { task: 'Pay the rent' }], ['PATCH', { done: true }], ['DELETE', undefined]] as const) {
          const k2 = key();
          const once = await keyed(method, `/api/tasks/${id}`, k2, body);
          expect(once.status, method).toBe(200);
          const twice = await keyed(method, `/api/tasks/${id}`, k2, body);
          expect([twice.status, twice.text, twice.headers.get('idempotent-replayed')], method).toEqual([200, once.text, 'true']);
        }
        expect(await count()).toBe(0);
      });

      it('without a key every request runs, as before', async () => {
        expect((await call('POST', '/api/tasks', { task: 'twice' })).status).toBe(201);
        expect((await call('POST', '/api/tasks', { task: 'twice' })).status).toBe(201);
        expect(await count()).toBe(2);
        expect(await keyRows()).toBe(0);
      });

      it('the same key with another body, path or method → 422 idempotency_key_reused, nothing written', async () => {
        const k = key();
        const first = await keyed('POST', '/api/tasks', k, { task: 'one' });
        expect(first.status).toBe(201);
        const id = first.json.task.id;
        for (const [method, path, body] of [
          ['POST', '/api/tasks', { task: 'two' }],
          ['POST', '/api/tasks', { task: 'one', done: false }],
          ['PUT', `/api/tasks/${id}`, { task: 'one' }],
          ['DELETE', `/api/tasks/${id}`, undefined],
        ] as const) {
          const r = await keyed(method, path, k, body);
          expect(r.status, `${method} ${path}`).toBe(422);
          expect(r.json).toEqual({
            success: false,
            message: 'This Idempotency-Key was already used for a different request; send a new key with a new request',
            code: 'idempotency_key_reused',
          });
        }
        expect((await call('GET', '/api/tasks')).json.tasks).toEqual([first.json.task]);
      });

      it.each([
        ['unquoted', 'abc-123'],
        ['empty', '""'],
        ['256 characters', `"${'k'.repeat(256)}"`],
        ['non-ASCII', '"clé"'],
        ['an unescaped quote', '"a"b"'],
        ['a lone backslash', '"a\\b"'],
        ['two keys', '"a", "b"'],
      ])('a key that is %s → 400 invalid_idempotency_key, nothing written', async (_name, k) => {
        const r = await keyed('POST', '/api/tasks', k, { task: 'never' });
        expect(r.status).toBe(400);
        expect(r.json).toEqual({
          success: false,
          message: 'Idempotency-Key must be one quoted string of 1 to 255 printable ASCII characters, for example "8e03978e-40d5-43e8-bc93-6894a57f9324"',
          code: 'invalid_idempotency_key',
        });
        expect(await count()).toBe(0);
        expect(await keyRows()).toBe(0);
      });

      it('accepts 255 characters with escapes, and tells keys apart exactly', async () => {
        const long = `"${'k'.repeat(253)}\\"\\\\"`;
        expect((await keyed('POST', '/api/tasks', long, { task: 'long key' })).status).toBe(201);
        expect((await keyed('POST', '/api/tasks', long, { task: 'long key' })).headers.get('idempotent-replayed')).toBe('true');
        expect((await keyed('POST', '/api/tasks', '"Case"', { task: 'a' })).status).toBe(201);
        expect((await keyed('POST', '/api/tasks', '"case"', { task: 'b' })).status).toBe(201);
        expect(await count()).toBe(3);
        const stored = await db.query<{ key: string }>('SELECT key FROM idempotency_keys ORDER BY key');
        expect(stored.map((r) => r.key)).toEqual(['Case', 'case', `${'k'.repeat(253)}"\\`]);
      });

      it('refusals before the database are not stored: the corrected request may reuse the key', async () => {
        const k = key();
        expect((await keyed('POST', '/api/tasks', k, { task: '   ' })).status).toBe(400);
        expect((await keyed('POST', '/api/tasks', k, '{broken')).status).toBe(400);
        expect((await call('POST', '/api/tasks', 'task=x', { 'idempotency-key': k, 'content-type': 'text/plain' })).status).toBe(415);
        expect(await keyRows()).toBe(0);
        const fixed = await keyed('POST', '/api/tasks', k, { task: 'fixed' });
        expect(fixed.status).toBe(201);
        expect(fixed.headers.get('idempotent-replayed')).toBeNull();
        expect(await count()).toBe(1);
      });

      it('answers that reached the database are stored, 404 included', async () => {
        const k = key();
        const missing = await keyed('PATCH', '/api/tasks/999', k, { done: true });
        expect(missing.status).toBe(404);
        const again = await keyed('PATCH', '/api/tasks/999', k, { done: true });
        expect([again.status, again.text, again.headers.get('idempotent-replayed')]).toEqual([404, missing.text, 'true']);
      });

      it('a write that fails with 503 stores nothing: the retry with the same key runs it', async () => {
        let failInsert = true;
        const flaky: Db = {
          ...db,
          driver: db.driver,
          query: (text, params) => db.query(text, params),
          transaction: (fn) =>
            db.transaction((q) =>
              fn({
                query: (text, params) => {
                  if (failInsert && text.startsWith('INSERT INTO main_table')) {
                    failInsert = false;
                    return Promise.reject(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
                  }
                  return q.query(text, params);
                },
              }),
            ),
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
        app = make({ K_REVISION: 'tasks-api-00007', APP_VERSION: '9.9.9' });
        expect((await keyed('POST', '/api/tasks', key(), { task: 'fresh process' })).status).toBe(201);
        await expect.poll(async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM idempotency_keys WHERE key LIKE 'old-%'"))[0]!.n).toBe(0);
        expect(await keyRows()).toBe(2);
      });

      it('the OpenAPI document shows the header, 409 and 422 on every write', async () => {
        const doc = (await call('GET', '/api/openapi.json')).json;
        for (const [path, method] of [['/tasks', 'post'], ['/tasks/{id}', 'put'], ['/tasks/{id}', 'patch'], ['/tasks/{id}', 'delete']] as const) {
          const op = doc.paths[path][method];
          expect(op.parameters, `${method} ${path}`).toContainEqual(
            expect.objectContaining({ name: 'idempotency-key', in: 'header', required: false }),
          );
          expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['409', '422']));
        }
        expect(doc.paths['/tasks'].get.parameters.some((p: { name: string }) => p.name === 'idempotency-key')).toBe(false);
      });
    });

    it('feature flags off → 403 on PUT, PATCH, DELETE and nothing changes', async () => {
      const t = await add('locked');
      app = make({ FEATURE_EDIT_TASK: 'false', FEATURE_DELETE_TASK: 'false' });
      try {
        for (const [method, body, what] of [
          ['PUT', { task: 'x' }, 'Editing'],
          ['PATCH', { done: true }, 'Editing'],
          ['DELETE', undefined, 'Deleting'],
        ] as const) {
          const r = await call(method, `/api/tasks/${t.id}`, body);
          expect(r.status, method).toBe(403);
          expect(r.json).toEqual({ success: false, message: `${what} tasks is turned off on this server`, code: 'feature_disabled' });
        }
        expect((await call('GET', `/api/tasks/${t.id}`)).json.task).toEqual(t);
        expect((await call('GET', '/api/info')).json.features).toEqual({ editTask: false, deleteTask: false });
        expect((await call('POST', '/api/tasks', { task: 'adding still works' })).status).toBe(201);
      } finally {
        app = make({ K_REVISION: 'tasks-api-00007', APP_VERSION: '9.9.9' });
      }
    });

    it('GET /api/info reports version, revision, driver and features', async () => {
      const r = await call('GET', '/api/info');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ version: '9.9.9', revision: 'tasks-api-00007', driver: driverName, features: { editTask: true, deleteTask: true } });
    });

    it('GET /api/openapi.json is an OpenAPI 3.1 document of every route', async () => {
      const r = await call('GET', '/api/openapi.json');
      expect(r.status).toBe(200);
      expect(r.json.openapi).toBe('3.1.0');
      expect(Object.keys(r.json.paths).sort()).toEqual(['/info', '/tasks', '/tasks/{id}']);
      expect(Object.keys(r.json.paths['/tasks/{id}']).sort()).toEqual(['delete', 'get', 'patch', 'put']);
      expect(r.json.paths['/tasks'].post.responses).toHaveProperty('415');
      expect(r.json.components.schemas.Task.required).toEqual(['id', 'task', 'done', 'createdAt', 'updatedAt']);
    });

    it('unknown route → 404, wrong method → 405 with Allow', async () => {
      const unknown = await call('GET', '/api/nope');
      expect(unknown.status).toBe(404);
      expect(unknown.json).toEqual({ success: false, message: 'No route for GET /api/nope', code: 'not_found' });
      const method = await call('DELETE', '/api/tasks');
      expect(method.status).toBe(405);
      expect(method.headers.get('allow')).toBe('GET, POST');
      expect(method.json).toEqual({ success: false, message: 'DELETE is not allowed on /api/tasks; use GET, POST', code: 'method_not_allowed' });
      expect((await call('POST', '/api/tasks/1', { task: 'x' })).status).toBe(405);
      expect(await count()).toBe(0);
    });

    it('health, readiness and metrics', async () => {
      expect((await call('GET', '/healthz')).json).toEqual({ status: 'ok' });
      const ready = await call('GET', '/readyz');
      expect(ready.status).toBe(200);
      await call('GET', '/api/tasks');
      const metrics = await call('GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.text).toMatch(/http_requests_total\{method="GET",route="\/api\/tasks",status="200"\} \d+/);
      expect(metrics.text).toMatch(/http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/api\/tasks",status="200"\}/);
      expect(metrics.text).toMatch(/db_pool_connections\{state="waiting"\} 0/);
      expect(metrics.text).toContain('process_resident_memory_bytes');
    });
  });
}
