import pg from 'pg';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { createPgDb } from './pg';

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

describe('connectionBreaker', () => {
  it('lets one attempt through per backoff period during an outage, doubling up to the cap', async () => {
    const { connectionBreaker } = await import('./pool');
    let now = 0;
    const breaker = connectionBreaker({ minMs: 100, maxMs: 400, now: () => now });
    breaker.admit(); // closed: every call may try
    breaker.failed();
    expect(() => breaker.admit()).toThrow(expect.objectContaining({ code: 'DB_BACKOFF' }));
    now = 100;
    breaker.admit(); // the trial
    expect(() => breaker.admit()).toThrow(expect.objectContaining({ code: 'DB_BACKOFF' })); // one trial at a time
    breaker.failed();
    now = 299;
    expect(() => breaker.admit()).toThrow(expect.objectContaining({ code: 'DB_BACKOFF' }));
    now = 300;
    breaker.admit();
    breaker.failed(); // 400
    breaker.failed(); // capped at 400, not 800
    now = 700;
    breaker.admit();
    breaker.succeeded();
    breaker.admit();
    breaker.admit(); // closed again: no limit
    expect(breaker.isOpen()).toBe(false);
  });
});
