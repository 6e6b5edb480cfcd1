import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openNeonTestDb } from '../../test/support/neon-bridge';
import { createTestDatabase } from '../../test/support/postgres';
import { createApp } from './app';
import { loadConfig } from './config';
import type { Db } from './db';
import { createPgDb } from './db/pg';
import { createPgliteDb } from './db/pglite';
import { createLogger } from './logger';
import { migrate } from './migrations/runner';

/**
 * Task ids past 32 bits (migrations 005 and 006) and write answers built by PostgreSQL (tasks.ts),
 * on each driver, through the app.
 */
const log = createLogger('silent');

function describeTasks(driverName: 'pg' | 'neon' | 'pglite', open: () => Promise<{ db: Db; cleanup: () => Promise<void> }>) {
  describe(`task ids and write answers on ${driverName}`, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    let app: ReturnType<typeof createApp>;
    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await app.request(path, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, text, json: JSON.parse(text), replayed: res.headers.get('idempotent-replayed'), etag: res.headers.get('etag'), retryAfter: res.headers.get('retry-after') };
    };
    const key = () => ({ 'idempotency-key': `"${randomUUID()}"` });
    const count = async (table: string) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n;

    beforeAll(async () => {
      ({ db, cleanup } = await open());
      await migrate(db);
      app = createApp({ config: loadConfig({ DB_DRIVER: driverName, DB_HOST: 'unused' }), db: async () => db, log, state: { shuttingDown: false, migrated: true } });
    });
    afterAll(async () => cleanup?.());
    beforeEach(async () => {
      await db.query('TRUNCATE main_table, idempotency_keys RESTART IDENTITY');
    });

    it('ids past 2^31: 201 with the id exact, and every :id route and the cursor take it', async () => {
      await db.query("SELECT setval('main_table_id_seq', 2147483646)");
      const plain = await call('POST', '/api/tasks', { task: 'the last int4 id' });
      const keyed = await call('POST', '/api/tasks', { task: 'the first bigint id' }, key());
      expect([plain.status, plain.json.task.id, keyed.status, keyed.json.task.id]).toEqual([201, 2147483647, 201, 2147483648]);
      expect(keyed.text).toContain('"id":2147483648,');

      const got = await call('GET', '/api/tasks/2147483648');
      expect([got.status, got.json.task]).toEqual([200, keyed.json.task]);
      const page = await call('GET', '/api/tasks?limit=1');
      expect([page.json.tasks[0].id, page.json.nextCursor]).toEqual([2147483647, '2147483647']);
      expect((await call('GET', '/api/tasks?cursor=2147483647')).json.tasks).toEqual([keyed.json.task]);
      const patched = await call('PATCH', '/api/tasks/2147483648', { done: true }, key());
      expect([patched.status, patched.json.task.id, patched.json.task.done]).toEqual([200, 2147483648, true]);
      const deleted = await call('DELETE', '/api/tasks/2147483648');
      expect([deleted.status, deleted.text]).toEqual([200, '{"success":true,"message":"Task deleted successfully","id":2147483648}']);
      expect((await call('GET', '/api/tasks/2147483648')).status).toBe(404);
    });

    it('the last id is 2^53 - 1, exact; past it 507 ids_exhausted (no Retry-After), nothing written or stored', async () => {
      await db.query("SELECT setval('main_table_id_seq', 9007199254740990)");
      const last = await call('POST', '/api/tasks', { task: 'the last id' });
      expect(last.status).toBe(201);
      expect(last.text).toContain('"id":9007199254740991,');
      expect(last.json.task.id).toBe(Number.MAX_SAFE_INTEGER);
      expect((await call('GET', `/api/tasks/${Number.MAX_SAFE_INTEGER}`)).json.task).toEqual(last.json.task);
      for (const headers of [{}, key()]) {
        const past = await call('POST', '/api/tasks', { task: 'one too many' }, headers);
        // 507, not a 503: a retry cannot help, so neither the page nor nginx tries it again.
        expect(past.retryAfter).toBeNull();
        expect([past.status, past.json]).toEqual([
          507,
          { success: false, message: 'No new task ids are left on this server; nothing was changed', code: 'ids_exhausted' },
        ]);
      }
      expect([await count('main_table'), await count('idempotency_keys')]).toEqual([1, 0]);
    });

    it("a write's answer is byte for byte what JSON.stringify sends, with or without a key", async () => {
      const texts = ['ends like a body: ,"version":9}}', 'quote " backslash \\ slash /', 'tab\tnew\nline\r\u0001\u001f\u007f', '🙂 emoji, שלום, مرحبا, 日本語', 'line\u2028separator\u2029', "'; DROP TABLE main_table; --"];
      for (const text of texts) {
        for (const headers of [{}, key()]) {
          const created = await call('POST', '/api/tasks', { task: text }, headers);
          expect(created.status).toBe(201);
          expect(created.text).toBe(JSON.stringify({ success: true, message: 'Task added successfully', task: created.json.task }));
          expect(created.json.task.task).toBe(text);
          expect(Object.keys(created.json.task)).toEqual(['id', 'task', 'done', 'createdAt', 'updatedAt', 'position', 'version']);
          expect(created.etag).toBe('"1"');
          const id = created.json.task.id;
          expect((await call('GET', `/api/tasks/${id}`)).json.task).toEqual(created.json.task);
          const updated = await call('PUT', `/api/tasks/${id}`, { task: `${text}!` }, 'idempotency-key' in headers ? key() : {});
          expect(updated.text).toBe(JSON.stringify({ success: true, message: 'Task updated successfully', task: updated.json.task }));
          const stale = await call('PATCH', `/api/tasks/${id}`, { done: true }, { 'if-match': '"1"', ...('idempotency-key' in headers ? key() : {}) });
          expect(stale.status).toBe(412);
          expect(updated.etag).toBe('"2"');
          expect(stale.text).toBe(JSON.stringify({ success: false, message: stale.json.message, code: 'precondition_failed', task: updated.json.task }));
          expect(stale.etag).toBe('"2"');
        }
      }
      // Undo's answer too, for a task whose text ends like a body.
      const last = (await call('POST', '/api/tasks', { task: texts[0] })).json.task;
      await call('DELETE', `/api/tasks/${last.id}`);
      const restored = await call('POST', '/api/tasks/restore', { tasks: [{ id: last.id }] }, key());
      expect(restored.text).toBe(JSON.stringify({ success: true, message: 'Tasks restored successfully', tasks: [{ ...last, updatedAt: restored.json.tasks[0].updatedAt, version: 2 }] }));
      const missing = await call('PATCH', '/api/tasks/123456789', { done: true });
      expect([missing.status, missing.text]).toEqual([404, JSON.stringify({ success: false, message: 'Task not found', code: 'not_found' })]);
    });
  });
}

describeTasks('pglite', async () => {
  const db = await createPgliteDb('memory://');
  return { db, cleanup: () => db.close() };
});

describeTasks('pg', async () => {
  const database = await createTestDatabase('tasks_ids');
  const db = createPgDb(loadConfig({ DATABASE_URL: database.url }).db, log);
  return {
    db,
    cleanup: async () => {
      await db.close();
      await database.drop();
    },
  };
});

describeTasks('neon', () => openNeonTestDb(log));
