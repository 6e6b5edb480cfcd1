import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBundle, migrateBundle, serverBundle, startApi } from '../../test/support/api';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres';

/** The production bundle, started as a real process. */
describe('bundled server (dist/api/server.mjs)', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    await ensureBundle();
    database = await createTestDatabase('tasks_server');
  });
  afterAll(async () => database?.drop());

  it('the migrate bundle applies the schema and exits 0', () => {
    const r = spawnSync(process.execPath, [migrateBundle], { env: { PATH: process.env.PATH, DATABASE_URL: database.url }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('migrations applied');
    expect(r.stdout).not.toContain(database.url);
  });

  it('runs from a folder without node_modules on PORT, marks its cold start, and drains on SIGTERM', async () => {
    // A copy with nothing beside it proves the bundle needs no node_modules for pg.
    const dir = mkdtempSync(join(tmpdir(), 'tasks-bundle-'));
    copyFileSync(serverBundle, join(dir, 'server.mjs'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn(process.execPath, [join(dir, 'server.mjs')], {
      cwd: dir,
      env: { PATH: process.env.PATH, PORT: String(port), DATABASE_URL: database.url, MIGRATE_ON_START: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    child.stdout.on('data', (d) => (logs += d));
    child.stderr.on('data', (d) => (logs += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = `http://127.0.0.1:${port}`;
    const admin = new pg.Client({ connectionString: database.url });
    try {
      for (let i = 0; ; i++) {
        const ok = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
        if (ok) break;
        if (i > 300) throw new Error(`not ready:\n${logs}`);
        await new Promise((r) => setTimeout(r, 100));
      }

      // Cold start: the first request says so in its Server-Timing header, its log line and /metrics.
      const first = await fetch(`${url}/api/tasks`);
      expect(first.status).toBe(200);
      expect(first.headers.get('server-timing')).toMatch(/^app;dur=[\d.]+, cold-start;dur=\d+;desc="since process start"$/);
      const second = await fetch(`${url}/api/tasks`);
      expect(second.headers.get('server-timing')).toBeNull();
      const coldLines = logs.split('\n').filter((l) => l.includes('"coldStart":true'));
      expect(coldLines).toHaveLength(1);
      expect(JSON.parse(coldLines[0]!)).toMatchObject({ method: 'GET', route: '/api/tasks', status: 200 });
      const metrics = await (await fetch(`${url}/metrics`)).text();
      for (const phase of ['listening', 'ready', 'first_request']) {
        expect(metrics).toMatch(new RegExp(`tasks_api_startup_seconds\\{phase="${phase}"\\} [0-9.e-]+`));
      }
      expect(metrics).toMatch(/tasks_api_cold_start_first_request_duration_seconds [0-9.e-]+/);

      const created = await (await fetch(`${url}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"task":"hold me"}' })).json();

      // Hold the row so the next PUT stays in flight, then ask the server to stop.
      await admin.connect();
      await admin.query('BEGIN');
      await admin.query('SELECT * FROM main_table WHERE id = $1 FOR UPDATE', [created.task.id]);
      const inFlight = fetch(`${url}/api/tasks/${created.task.id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"task":"finished during shutdown"}' });
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));

      // New connections are refused while the old request is still running.
      const refused = await new Promise<string>((resolve) => {
        const req = request(`${url}/healthz`, { agent: false }, (res) => resolve(`answered ${res.statusCode}`));
        req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
        req.end();
      });
      expect(refused).toBe('ECONNREFUSED');
      expect(child.exitCode).toBeNull();

      await admin.query('COMMIT');
      const done = await inFlight;
      expect(done.status).toBe(200);
      expect((await done.json()).task.task).toBe('finished during shutdown');
      expect(await exited).toBe(0);
      expect(logs).toContain('"msg":"stopped"');
    } finally {
      await admin.end().catch(() => undefined);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps PGlite tasks in its data directory across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-pglite-'));
    try {
      const one = await startApi({ env: { PGLITE_DIR: join(dir, 'pglite') } });
      const res = await fetch(`${one.url}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"task":"survives a restart"}' });
      expect(res.status).toBe(201);
      expect(await one.stop()).toBe(0);

      const two = await startApi({ env: { PGLITE_DIR: join(dir, 'pglite') } });
      try {
        const list = await (await fetch(`${two.url}/api/tasks`)).json();
        expect(list.tasks.map((t: { task: string }) => t.task)).toEqual(['survives a restart']);
      } finally {
        expect(await two.stop()).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad configuration with exit code 78, naming the variable and hiding secrets', () => {
    const r = spawnSync(process.execPath, [serverBundle], {
      env: { PATH: process.env.PATH, DATABASE_URL: 'postgres://u:hunter2@db/x', PORT: 'eighty', FEATURE_DELETE_TASK: 'nope' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('PORT must be an integer from 0 to 65535');
    expect(r.stderr).toContain('FEATURE_DELETE_TASK must be one of true, false, 1, 0, yes, no, on, off (any case)');
    expect(r.stderr + r.stdout).not.toContain('hunter2');
  });
});
