import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

// The time budgets and the database's failure modes, on the bundle against a real PostgreSQL:
// a statement stuck on a lock ends as 503 database_timeout with nothing written, a full pool as
// 503 database_busy, and an outage costs a few connection attempts a second, not one per request.

let database: TestDatabase;
let admin: pg.Client;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  database = await createTestDatabase('tasks_faults');
  admin = new pg.Client({ connectionString: database.url });
  admin.on('error', () => undefined);
  await admin.connect();
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await admin.end();
  await database.drop();
});

async function api(env: Record<string, string>): Promise<RunningApi> {
  const running = await startApi({ env: { DB_DRIVER: 'pg', DATABASE_URL: database.url, MIGRATE_ON_START: 'true', LOG_LEVEL: 'warn', ...env } });
  cleanups.push(() => running.stop());
  return running;
}

const post = (url: string, task: string) =>
  fetch(`${url}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ task }) });
const rows = async (task: string) => Number((await admin.query('SELECT count(*) AS n FROM main_table WHERE task = $1', [task])).rows[0].n);

describe('a stalled database', () => {
  it('a statement stuck on a lock is cancelled: 503 database_timeout, no row; a waiting request gets database_busy', async () => {
    const running = await api({ DB_POOL_MAX: '1', DB_CONNECT_TIMEOUT_MS: '500', DB_STATEMENT_TIMEOUT_MS: '1500', REQUEST_TIMEOUT_MS: '4000' });
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE main_table IN ACCESS EXCLUSIVE MODE');
      const started = performance.now();
      const stalled = post(running.url, 'written during a stall');
      await new Promise((r) => setTimeout(r, 200));
      // The one pool client is held by the stalled insert: a second request waits for the pool.
      const waiting = await fetch(`${running.url}/api/tasks`);
      const busyMs = performance.now() - started;
      expect(waiting.status).toBe(503);
      expect(waiting.headers.get('retry-after')).toBe('1');
      expect(await waiting.json()).toMatchObject({ success: false, code: 'database_busy' });

      const timedOut = await stalled;
      const timeoutMs = performance.now() - started;
      expect(timedOut.status).toBe(503);
      expect(timedOut.headers.get('retry-after')).toBe('2');
      // The statement timeout ended it, before the request budget (that would be request_budget_exceeded).
      expect(await timedOut.json()).toMatchObject({ success: false, code: 'database_timeout' });
      console.log(`statement timeout: 503 database_timeout after ${Math.round(timeoutMs)} ms (budget 1500 ms); pool wait: 503 database_busy after ${Math.round(busyMs)} ms (budget 500 ms)`);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    expect(await rows('written during a stall')).toBe(0);
    // The pool and the database are fine afterwards.
    const after = await post(running.url, 'after the stall');
    expect(after.status).toBe(201);
    expect(await rows('after the stall')).toBe(1);
    expect(running.logs()).not.toMatch(/unhandled|internal_error/i);
  });
});

describe('a database outage', () => {
  let proxy: TcpProxy;
  beforeAll(async () => {
    const url = new URL(database.url);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    cleanups.push(() => proxy.close());
  });

  it('backs off: a few connection attempts a second, every answer a 503, back to 2xx within seconds', async () => {
    const url = new URL(database.url);
    url.host = `127.0.0.1:${proxy.port}`;
    const running = await api({ DATABASE_URL: url.toString() });
    expect((await fetch(`${running.url}/api/tasks`)).status).toBe(200);

    const outageMs = 8000;
    const statuses = new Map<string, number>();
    let stop = false;
    let firstOkAfterUp: number | undefined;
    let upAt = 0;
    const client = async () => {
      while (!stop) {
        const res = await fetch(`${running.url}/api/tasks?limit=1`).catch(() => undefined);
        const body = res ? ((await res.json().catch(() => ({}))) as { code?: string }) : {};
        const key = res ? `${res.status}${body.code ? ` ${body.code}` : ''}` : 'no answer';
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        if (upAt && res?.status === 200) firstOkAfterUp ??= performance.now() - upAt;
      }
    };
    const clients = Array.from({ length: 16 }, client);
    await new Promise((r) => setTimeout(r, 300));
    proxy.down();
    const before = proxy.accepted;
    await new Promise((r) => setTimeout(r, outageMs));
    const attempts = proxy.accepted - before;
    // Answers from the outage only: reset the tally just before the database returns.
    const during = new Map(statuses);
    proxy.up();
    upAt = performance.now();
    const deadline = Date.now() + 10_000;
    while (firstOkAfterUp === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    stop = true;
    await Promise.all(clients);

    const perSecond = attempts / (outageMs / 1000);
    console.log(`outage ${outageMs / 1000} s, 16 clients: ${attempts} connection attempts (${perSecond.toFixed(1)}/s); answers ${JSON.stringify(Object.fromEntries(during))}; first 200 ${Math.round(firstOkAfterUp ?? -1)} ms after the database returned`);
    expect(perSecond).toBeLessThan(5);
    for (const key of during.keys()) expect(key).toMatch(/^(200|503 database_unavailable)$/);
    expect(firstOkAfterUp).toBeDefined();
    expect(firstOkAfterUp!).toBeLessThan(3000);
    expect(running.child.exitCode).toBeNull();
  });
});
