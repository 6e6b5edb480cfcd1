import pg from 'pg';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres';
import { loadConfig } from '../config';
import { createLogger, errorFields } from '../logger';
import { createPgDb } from './pg';
import { connectionBreaker, createPoolDb, probeDelay } from './pool';
import { retryingReads } from './read-retry';

/** Writes a Secret volume the way the kubelet does: files are symlinks into ..data, swapped by rename. */
function secretVolume(dir: string) {
  let n = 0;
  const write = (values: Record<string, string>) => {
    const version = `..2026_11_27_00_00_0${n++}`;
    mkdirSync(join(dir, version));
    for (const [k, v] of Object.entries(values)) writeFileSync(join(dir, version, k), v);
    symlinkSync(version, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    for (const k of Object.keys(values)) {
      try {
        symlinkSync(join('..data', k), join(dir, k));
      } catch {
        // already linked to ..data
      }
    }
  };
  return { write };
}

describe('pg pool following a mounted Secret', () => {
  let database: TestDatabase;
  const roles = ['tasks_pool_a', 'tasks_pool_b'];
  beforeAll(async () => {
    database = await createTestDatabase('tasks_pool');
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    for (const r of roles) await admin.query(`DO $$ BEGIN CREATE ROLE ${r} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await admin.end();
  });
  afterAll(async () => database.drop());

  it('swaps to a new user when ..data changes, finishing queries in flight on the old pool', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-creds-'));
    const vol = secretVolume(dir);
    vol.write({ username: 'tasks_pool_a', password: 'unused-with-trust' });
    const url = new URL(database.url);
    const db = createPgDb(loadConfig({ DB_HOST: url.hostname, DB_PORT: url.port, DB_NAME: database.name, DB_CREDENTIALS_DIR: dir }).db, createLogger('silent'));
    try {
      const who = async () => (await db.query<{ u: string }>('SELECT current_user AS u'))[0]!.u;
      expect(await who()).toBe('tasks_pool_a');

      const inFlight = db.query<{ u: string }>('SELECT current_user AS u, pg_sleep(0.5)');
      await new Promise((r) => setTimeout(r, 100));
      vol.write({ username: 'tasks_pool_b', password: 'unused-with-trust' });

      // Picked up through fs.watch (or the poll) without a restart.
      const deadline = Date.now() + 5000;
      while ((await who()) !== 'tasks_pool_b') {
        if (Date.now() > deadline) throw new Error('credentials were not picked up');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await inFlight)[0]!.u).toBe('tasks_pool_a');
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a session terminated under a query', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('tasks_pool_terminated');
  });
  afterAll(async () => database.drop());

  /** Terminates the backend running `marker` as soon as it shows up in pg_stat_activity. */
  async function terminateWhenRunning(marker: string) {
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      for (let i = 0; ; i++) {
        const { rows } = await admin.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND state = 'active' AND pid <> pg_backend_pid()",
          [`%${marker}%`],
        );
        if (rows.length > 0) {
          await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
          return;
        }
        if (i > 400) throw new Error(`${marker} never ran`);
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      await admin.end();
    }
  }

  it('57P01 neither opens the breaker nor leaves the pool in use: a read retried once gets its rows', async () => {
    const db = createPgDb(loadConfig({ DATABASE_URL: database.url, DB_DRIVER: 'pg' }).db, createLogger('silent'));
    try {
      // Fill the pool with idle connections that the termination below does not touch.
      await Promise.all(Array.from({ length: 4 }, () => db.query('SELECT pg_sleep(0.05)')));

      // Without the retry the query fails with the server's 57P01 ...
      const plain = db.query("SELECT 'plain-marker', pg_sleep(5)").then(() => 'answered', (err: unknown) => err);
      await terminateWhenRunning('plain-marker');
      expect(await plain).toMatchObject({ code: '57P01' });
      // ... and the very next query is served: no DB_BACKOFF, the breaker stayed closed.
      expect(await db.query<{ n: number }>('SELECT 1 AS n')).toEqual([{ n: 1 }]);
      expect(db.outage?.()).toBeUndefined();

      // With it, the read runs again on a new connection and answers.
      const reads = retryingReads(db);
      const retried = reads.query<{ m: string }>("SELECT 'retried-marker' AS m, pg_sleep(0.3)::text AS s");
      await terminateWhenRunning('retried-marker');
      expect((await retried)[0]!.m).toBe('retried-marker');
    } finally {
      await db.close();
    }
  });
});

describe('connectionBreaker', () => {
  const schedule = { minMs: 5, fastMs: 20, fastForMs: 60_000, maxMs: 40 };
  const until = async (cond: () => boolean, what: string) => {
    for (const deadline = Date.now() + 10_000; !cond(); ) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  it('while open: every call refused, one probe at a time, and the first answer closes it at once', async () => {
    let up = false;
    let running = 0;
    let most = 0;
    let probes = 0;
    const breaker = connectionBreaker({
      schedule,
      probe: async () => {
        probes++;
        most = Math.max(most, ++running);
        // A slow attempt: longer than the probe interval, so a second probe would overlap it.
        await new Promise((r) => setTimeout(r, 30));
        running--;
        return up;
      },
    });
    breaker.admit(); // closed: every call may try
    expect(breaker.whenClosed()).toBeUndefined();
    breaker.failed();
    const closed = breaker.whenClosed();
    expect(closed).toBeInstanceOf(Promise);
    expect(() => breaker.admit()).toThrow(expect.objectContaining({ code: 'DB_BACKOFF' }));
    breaker.failed(); // late failures of calls already running change nothing
    await until(() => probes >= 4, 'four failed probes');
    expect(breaker.isOpen()).toBe(true);
    expect(() => breaker.admit()).toThrow(expect.objectContaining({ code: 'DB_BACKOFF' }));

    up = true; // the database is back: the next probe closes the breaker, no call needed
    await closed;
    expect(breaker.isOpen()).toBe(false);
    expect(most).toBe(1);
    breaker.admit();
    const after = probes;
    await new Promise((r) => setTimeout(r, 100));
    expect(probes).toBe(after); // no probing while closed
    breaker.stop();
  });

  it('a call that succeeds closes it too; stop() releases waiters and ends probing', async () => {
    let probes = 0;
    const breaker = connectionBreaker({ schedule, probe: async () => (probes++, false) });
    breaker.failed();
    await until(() => probes >= 1, 'a probe');
    breaker.succeeded();
    expect(breaker.isOpen()).toBe(false);

    breaker.failed();
    const waiting = breaker.whenClosed()!;
    breaker.stop();
    await waiting;
    const stoppedAt = probes;
    await new Promise((r) => setTimeout(r, 100));
    expect(probes).toBe(stoppedAt);
  });

  it('probes every 250 ms at most for the first 30 s of an outage, then less often, down to every second', () => {
    expect([0, 1, 2, 3, 4, 10].map((n) => probeDelay(n, 0))).toEqual([50, 100, 200, 250, 250, 250]);
    expect(probeDelay(1, 29_999)).toBe(100);
    expect([0, 3, 4, 5, 20].map((n) => probeDelay(n, 30_000))).toEqual([250, 400, 800, 1000, 1000]);
  });
});

describe("the pool's log lines about errors", () => {
  class DriverError extends Error {
    override name = 'DriverError';
    code = '57P01';
    // What a driver's error can hold: never to be logged.
    client = { connectionParameters: { password: 'hunter2' } };
  }

  /** A pool that never connects: only its 'error' listener matters here. */
  function fakePool() {
    const listeners: ((err: Error) => void)[] = [];
    const pool = {
      query: () => Promise.reject(new Error('not used')),
      connect: () => Promise.reject(new Error('not used')),
      end: () => Promise.resolve(),
      on: (_event: 'error', listener: (err: Error) => void) => void listeners.push(listener),
      totalCount: 0,
      idleCount: 0,
      waitingCount: 0,
    };
    return { pool, fail: (err: Error) => listeners.forEach((l) => l(err)) };
  }

  function capture() {
    const lines: Record<string, unknown>[] = [];
    return { log: createLogger('debug', { write: (line) => void lines.push(JSON.parse(line)) }), lines };
  }

  it("go through the logger's err serializer: type, code and message, no driver property", async () => {
    const { log, lines } = capture();
    const fake = fakePool();
    const db = createPoolDb('pg', loadConfig({ DB_HOST: 'db.internal', DB_PASSWORD: 'hunter2' }).db, () => fake.pool, log);
    try {
      const err = new DriverError('terminating connection due to administrator command');
      fake.fail(err);
      const line = lines.find((l) => l.msg === 'idle database connection failed');
      expect(line?.err).toEqual(errorFields(err));
      expect(line?.err).toEqual({ type: 'DriverError', code: '57P01', message: 'terminating connection due to administrator command' });
      expect(JSON.stringify(lines)).not.toContain('hunter2');
    } finally {
      await db.close();
    }
  });

  it('at error level with the stack: rotated files that contradict the configuration', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-creds-'));
    const vol = secretVolume(dir);
    vol.write({ username: 'app', password: 'hunter2' });
    const { log, lines } = capture();
    const fake = fakePool();
    const db = createPoolDb('pg', loadConfig({ DATABASE_URL: 'postgres://db.internal:6000/tasks', DB_CREDENTIALS_DIR: dir }).db, () => fake.pool, log);
    try {
      vol.write({ username: 'app', password: 'rotated-hunter3', port: '7000' });
      await expect.poll(() => lines.find((l) => String(l.msg).includes('contradict the configuration')), { timeout: 10_000 }).toBeDefined();
      const line = lines.find((l) => String(l.msg).includes('contradict the configuration'))!;
      expect(line.level).toBe('error');
      expect(line.err).toMatchObject({ type: 'ConfigError', message: expect.stringContaining('the database port is given by the "port" file in DB_CREDENTIALS_DIR and by DATABASE_URL') });
      expect((line.err as { stack?: string }).stack).toMatch(/^ConfigError: /);
      expect(JSON.stringify(lines)).not.toMatch(/hunter[23]|7000/);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
