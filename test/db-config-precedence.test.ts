import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, serverBundle, startApi, ensureBundle } from './support/api';
import { KubeletSecretVolume } from './support/kubelet-secret-volume';
import { createTestDatabase, type TestDatabase } from './support/postgres';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';

/**
 * One precedence for the database settings (functions/api/config.ts dbConnection), over real
 * processes: the port in DATABASE_URL is the port used when a credentials directory is mounted
 * (it was replaced by DB_PORT's default, 5432: another server), and two sources that disagree stop
 * every host with exit 78 naming both, at start-up and on a re-read of the rotated directory.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
let database: TestDatabase;
let proxy: TcpProxy;
let volume: KubeletSecretVolume;
/** DATABASE_URL through the proxy: a port that is not 5432, so a connection to 5432 would not be counted. */
let viaProxy: string;

beforeAll(async () => {
  await ensureBundle();
  database = await createTestDatabase('tasks_precedence');
  const url = new URL(database.url);
  proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  viaProxy = `postgres://${url.hostname}:${proxy.port}/${database.name}`;
  // Trust auth: any password is accepted, the user must exist.
  volume = KubeletSecretVolume.create({ username: decodeURIComponent(url.username) || 'postgres', password: 'unused-with-trust' });
});
afterAll(async () => {
  volume?.remove();
  await proxy?.close();
  await database?.drop();
});

/** Runs a host command to its exit (or kills it after 60 s) and returns its exit code and output. */
function runToExit(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const HOSTS: Array<[string, string[]]> = [
  ['the bundle', [serverBundle]],
  ['npm start', ['--import', 'tsx', 'scripts/start.ts']],
  ['npm run dev', ['node_modules/vite/bin/vite.js', '--config', 'web/vite.config.ts', '--host', '127.0.0.1']],
];

describe('DATABASE_URL with a credentials directory', () => {
  it("connects to the URL's port, not DB_PORT's default (the bundle, over HTTP)", async () => {
    const before = proxy.accepted;
    const api = await startApi({ env: { DB_DRIVER: 'pg', DATABASE_URL: viaProxy, DB_CREDENTIALS_DIR: volume.dir, MIGRATE_ON_START: 'true', LOG_LEVEL: 'warn' } });
    try {
      const res = await fetch(`${api.url}/api/tasks`);
      expect(res.status).toBe(200);
      expect(proxy.accepted).toBeGreaterThan(before);
    } finally {
      await api.stop();
    }
  });

  it('keeps its connection settings when the rotated directory contradicts them, and says which sources disagree', async () => {
    const api = await startApi({ env: { DB_DRIVER: 'pg', DATABASE_URL: viaProxy, DB_CREDENTIALS_DIR: volume.dir, MIGRATE_ON_START: 'true', LOG_LEVEL: 'info' } });
    try {
      expect((await fetch(`${api.url}/api/tasks`)).status).toBe(200);
      // A rotation that brings a port of its own, unlike DATABASE_URL's, where nothing listens:
      // following it would fail every request that needs a new connection.
      volume.update({ username: 'postgres', password: 'rotated-password', port: String(await freePort()) });
      const deadline = Date.now() + 20_000;
      while (!api.logs().includes('contradict the configuration')) {
        if (Date.now() > deadline) throw new Error(`the re-read was not reported:\n${api.logs()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(api.logs()).toContain('the database port is given by the \\"port\\" file in DB_CREDENTIALS_DIR and by DATABASE_URL');
      expect(api.logs()).not.toContain('rotated-password');
      // Still served through the configured port, with more requests at once than connections are idle.
      const answers = await Promise.all(Array.from({ length: 12 }, () => fetch(`${api.url}/api/tasks`).then((r) => r.status)));
      expect(answers).toEqual(Array(12).fill(200));
    } finally {
      await api.stop();
      volume.update({ username: 'postgres', password: 'unused-with-trust' });
    }
  });
});

describe.each(HOSTS)('a contradiction stops %s with exit 78 naming both sources', (_name, args) => {
  it("DATABASE_URL's port against DB_PORT given explicitly", async () => {
    const r = await runToExit(args, { PORT: String(await freePort()), DB_DRIVER: 'pg', DATABASE_URL: 'postgres://u:hunter2@127.0.0.1:55532/postgres', DB_PORT: '5432' });
    expect(r.code, r.out).toBe(78);
    expect(r.out).toContain('the database port is given by DB_PORT and by DATABASE_URL with different values');
    expect(r.out).not.toContain('hunter2');
    expect(r.out).not.toMatch(/\n\s+at /);
  });

  it("the credentials directory's port against DATABASE_URL's", async () => {
    const dir = KubeletSecretVolume.create({ username: 'postgres', password: 'hunter2', port: '5432' });
    try {
      const r = await runToExit(args, { PORT: String(await freePort()), DATABASE_URL: viaProxy, DB_CREDENTIALS_DIR: dir.dir });
      expect(r.code, r.out).toBe(78);
      expect(r.out).toContain('the database port is given by the "port" file in DB_CREDENTIALS_DIR and by DATABASE_URL with different values');
      expect(r.out).not.toContain('hunter2');
    } finally {
      dir.remove();
    }
  });
});
