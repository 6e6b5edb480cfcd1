import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBundle, migrateBundle } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

// The migration Job's connection is terminated (pg_terminate_backend, as in a failover or an
// admin's cleanup) while it waits for the migration lock: it must retry, exit 0 and keep every row.

const LOCK_KEY = 7_315_240_001; // functions/api/migrations/runner.ts

let database: TestDatabase;
let admin: pg.Client;
beforeAll(async () => {
  await ensureBundle();
  database = await createTestDatabase('tasks_migdrop');
  admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
});
afterAll(async () => {
  await admin.end();
  await database.drop();
});

function runMigrate(env: Record<string, string>) {
  const child = spawn(process.execPath, [migrateBundle], {
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: database.url, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { exit, output: () => output };
}

/** The backend of a migrate run waiting on the advisory lock, if one is. */
async function waitingMigrator(): Promise<number | undefined> {
  const { rows } = await admin.query(
    `SELECT pid FROM pg_stat_activity
      WHERE datname = $1 AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%'`,
    [database.name],
  );
  return rows[0]?.pid;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('migrate with a dropped connection', () => {
  it('is retried after pg_terminate_backend while waiting on the lock: exit 0, rows kept, one line per attempt', async () => {
    const first = runMigrate({});
    expect(await first.exit).toBe(0);
    await admin.query("INSERT INTO main_table (task) VALUES ('kept one'), ('kept two')");

    // Another migrator holds the lock, so the run waits on it with an open transaction.
    await admin.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    const run = runMigrate({ MIGRATE_WAIT_SECONDS: '30' });
    const victim = await until('migrate to wait on the lock', waitingMigrator);
    await admin.query('SELECT pg_terminate_backend($1)', [victim]);
    // It comes back on a new connection and waits again.
    const retried = await until('a retry to wait on the lock', async () => {
      const pid = await waitingMigrator();
      return pid !== undefined && pid !== victim ? pid : undefined;
    });
    expect(retried).not.toBe(victim);
    await admin.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);

    const code = await run.exit;
    const output = run.output();
    console.log(`migrate after pg_terminate_backend: exit ${code}\n${output.trim()}`);
    expect(code).toBe(0);
    expect(output).not.toMatch(/Unhandled 'error' event|Connection terminated unexpectedly\n\s+at/);
    const progress = output.split('\n').filter((l) => l.startsWith('migrate: attempt'));
    expect(progress).toHaveLength(1);
    expect(progress[0]).toMatch(/^migrate: attempt 1 failed \(57P01 terminating connection due to administrator command\); retrying in 2 s, \d+ s left$/);
    expect(output).toContain('schema is current');
    const { rows } = await admin.query('SELECT task FROM main_table ORDER BY id');
    expect(rows.map((r) => r.task)).toEqual(['kept one', 'kept two']);
  });

  it('against an unreachable database prints one progress line per attempt, then fails with exit 1', async () => {
    const run = runMigrate({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', MIGRATE_WAIT_SECONDS: '3' });
    const code = await run.exit;
    const lines = run.output().trim().split('\n');
    console.log(`migrate against a closed port:\n${lines.join('\n')}`);
    expect(code).toBe(1);
    expect(lines.slice(0, -1).every((l) => /^migrate: attempt \d+ failed \(.+\); retrying in 2 s, \d+ s left$/.test(l))).toBe(true);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.at(-1)).toMatch(/^migrate failed: /);
  });
});
