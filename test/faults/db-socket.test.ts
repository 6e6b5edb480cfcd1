import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { freePort, startApi } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

const root = fileURLToPath(new URL('../..', import.meta.url));
const databases: TestDatabase[] = [];
const servers: Server[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const s of servers) s.close();
  for (const d of databases) await d.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Started { url: string; exitCode(): number | null; logs(): string; stop(): Promise<unknown> }

/** `npm start` (scripts/start.ts) without waiting for /readyz: the database is down at start. */
async function npmStartUnready(env: Record<string, string>): Promise<Started> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.on('exit', r));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}:\n${out}`);
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
    if (i > 600) throw new Error(`npm start never listened:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, exitCode: () => child.exitCode, logs: () => out, stop: () => (child.kill('SIGTERM'), exited) };
}

const hosts: Record<string, (env: Record<string, string>) => Promise<Started>> = {
  bundle: async (env) => {
    const api = await startApi({ waitReady: false, env });
    for (let i = 0; !(await fetch(`${api.url}/healthz`).then((r) => r.ok, () => false)); i++) {
      if (i > 600) throw new Error(`never listened:\n${api.logs()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { url: api.url, exitCode: () => api.child.exitCode, logs: api.logs, stop: () => api.stop() };
  },
  'npm start': npmStartUnready,
};

// PostgreSQL over a unix socket (DATABASE_URL `postgres:///db?host=/dir&port=N`): while the server
// is down there is no socket file and connect() fails with ENOENT. That is the database being
// unavailable (503, unready, start-up migrations retrying), and once a server listens on the
// socket the API recovers without a restart.
for (const [name, start] of Object.entries(hosts)) {
  it(`${name}: database down on a unix socket is 503 database_unavailable, then recovers`, async () => {
    const database = await createTestDatabase();
    databases.push(database);
    const dir = mkdtempSync(join(tmpdir(), 'pg-socket-'));
    dirs.push(dir);
    const port = await freePort();
    const name_ = new URL(database.url).pathname.slice(1);
    const url = `postgres:///${name_}?host=${dir}&port=${port}&user=postgres`;
    const api = await start({ DB_DRIVER: 'pg', DATABASE_URL: url, MIGRATE_ON_START: 'true', DB_CONNECT_TIMEOUT_MS: '1000', LOG_LEVEL: 'warn' });
    try {
      const res = await fetch(`${api.url}/api/tasks`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await res.json()) as { code: string }).code).toBe('database_unavailable');
      expect((await fetch(`${api.url}/readyz`)).status).toBe(503);
      for (let i = 0; !/start-up migrations: database not reachable; retrying/.test(api.logs()); i++) {
        if (i > 300) throw new Error(`no retry logged:\n${api.logs()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(api.exitCode()).toBeNull();
      expect(api.logs()).not.toMatch(/internal_error|unexpected error/);

      // The server comes up on the socket: a pass-through from the socket file to the machine's PostgreSQL.
      const proxy = createServer((client) => {
        const upstream = createConnection(5432, '127.0.0.1');
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
      }).listen(join(dir, `.s.PGSQL.${port}`));
      servers.push(proxy);
      for (let i = 0; (await fetch(`${api.url}/readyz`)).status !== 200; i++) {
        if (i > 600) throw new Error(`never ready:\n${api.logs()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const created = await fetch(`${api.url}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"task":"over the socket"}' });
      expect(created.status).toBe(201);
      expect(api.exitCode()).toBeNull();
    } finally {
      await api.stop();
    }
  }, 120_000);
}
