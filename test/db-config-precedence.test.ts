import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, migrateBundle, serverBundle, startApi, ensureBundle } from './support/api';
import { npmStartWithUrl } from './support/hosts';
import { KubeletSecretVolume } from './support/kubelet-secret-volume';
import { createTestDatabase, type TestDatabase } from './support/postgres';
import { startScramCluster, type ScramCluster } from './support/scram-cluster';
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
/** BACKUP_URI for the backup command: it never gets that far. */
const backups = mkdtempSync(join(tmpdir(), 'tasks-precedence-backups-'));

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
  rmSync(backups, { recursive: true, force: true });
  volume?.remove();
  await proxy?.close();
  await database?.drop();
});

/** Runs a host command to its exit (or kills it after 60 s) and returns its exit code and output. */
function runToExit(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true', LOG_LEVEL: 'warn', BACKUP_URI: backups, ...env },
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

/** The hosts that serve (the rest are commands): their fatal line is JSON when piped. */
const SERVERS = ['the bundle', 'npm start', 'npm run dev'];
const HOSTS: Array<[string, string[]]> = [
  ['the bundle', [serverBundle]],
  ['npm start', ['--import', 'tsx', 'scripts/start.ts']],
  ['npm run dev', ['node_modules/vite/bin/vite.js', '--config', 'web/vite.config.ts', '--host', '127.0.0.1']],
  // The commands that open the database as the API does.
  ['the migrate command', [migrateBundle]],
  ['the backup command', [join(dirname(serverBundle), 'backup.mjs')]],
  ['the restore command', [join(dirname(serverBundle), 'restore.mjs'), '--from', 'latest']],
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

describe.each(HOSTS)('a contradiction stops %s with exit 78 naming both sources', (name, args) => {
  it("DATABASE_URL's port against DB_PORT given explicitly", async () => {
    const r = await runToExit(args, { PORT: String(await freePort()), DB_DRIVER: 'pg', DATABASE_URL: 'postgres://u:hunter2@127.0.0.1:55532/postgres', DB_PORT: '5432' });
    expect(r.code, r.out).toBe(78);
    expect(r.out).toContain('the database port is given by DB_PORT and by DATABASE_URL with different values');
    expect(r.out).not.toContain('hunter2');
    expect(r.out).not.toMatch(/\n\s+at /);
  });

  // libpq's failover list: the drivers here connect to one host, so it is refused by name.
  it('a multi-host DATABASE_URL (one host is supported)', async () => {
    const r = await runToExit(args, { PORT: String(await freePort()), DB_DRIVER: 'pg', DATABASE_URL: 'postgres://u:hunter2@127.0.0.1:55532,127.0.0.1:5432/postgres' });
    expect(r.code, r.out).toBe(78);
    expect(r.out).toContain('DATABASE_URL names several hosts (127.0.0.1:55532,127.0.0.1:5432); one host is supported');
    expect(r.out).not.toContain('hunter2');
    expect(r.out).not.toMatch(/\n\s+at /);
  });

  // pg took the query parameter in place of the URL's own part: another server, silently.
  it("DATABASE_URL's ?port= parameter against its own port", async () => {
    const r = await runToExit(args, { PORT: String(await freePort()), DB_DRIVER: 'pg', DATABASE_URL: 'postgres://u:hunter2@127.0.0.1:55532/postgres?port=5432&sslmode=disable' });
    expect(r.code, r.out).toBe(78);
    expect(r.out).toContain("the database port is given by DATABASE_URL and by DATABASE_URL's ?port= parameter with different values");
    expect(r.out).not.toContain('hunter2');
    expect(r.out).not.toMatch(/\n\s+at /);
  });

  it("DATABASE_URL's ?user= parameter against DB_USER", async () => {
    const r = await runToExit(args, { PORT: String(await freePort()), DB_DRIVER: 'pg', DATABASE_URL: 'postgres://127.0.0.1/postgres?user=owner&password=hunter2', DB_USER: 'app' });
    expect(r.code, r.out).toBe(78);
    expect(r.out).toContain("the database user is given by DB_USER and by DATABASE_URL's ?user= parameter with different values");
    expect(r.out).not.toContain('hunter2');
  });

  it("the credentials directory's port against DATABASE_URL's", async () => {
    const dir = KubeletSecretVolume.create({ username: 'postgres', password: 'hunter2', port: '5432' });
    try {
      const r = await runToExit(args, { PORT: String(await freePort()), DATABASE_URL: viaProxy, DB_CREDENTIALS_DIR: dir.dir });
      expect(r.code, r.out).toBe(78);
      // Piped, a server's message is its JSON fatal line's msg (its quotes escaped in the raw
      // output); the commands print plain lines.
      const fatal = r.out.split('\n').find((l) => l.includes('"level":"fatal"'));
      expect(fatal !== undefined, r.out).toBe(SERVERS.includes(name));
      expect(fatal ? (JSON.parse(fatal) as { msg: string }).msg : r.out).toContain('the database port is given by the "port" file in DB_CREDENTIALS_DIR and by DATABASE_URL with different values');
      expect(r.out).not.toContain('hunter2');
    } finally {
      dir.remove();
    }
  });
});

describe('DATABASE_URL with settings as query parameters (the bundle, over HTTP)', () => {
  beforeAll(() => {
    const r = spawnSync(process.execPath, [migrateBundle], { cwd: root, env: { PATH: process.env.PATH ?? '', DATABASE_URL: database.url }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`migrate failed: ${r.stderr}`);
  });

  it('reads the database named by ?dbname= and the port named by ?port=, with sslmode kept', async () => {
    // Neither driver reads ?dbname= (pg would open the database named after the user), and Neon's
    // reads no ?port=: the settings are moved into the URL's own parts, where both read them.
    const url = new URL(database.url);
    const text = `precedence ${Date.now()}`;
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      await admin.query('INSERT INTO main_table (task) VALUES ($1)', [text]);
    } finally {
      await admin.end();
    }
    const before = proxy.accepted;
    const user = decodeURIComponent(url.username) || 'postgres';
    const api = await startApi({
      env: { DB_DRIVER: 'pg', DATABASE_URL: `postgres://${encodeURIComponent(user)}@${url.hostname}/?port=${proxy.port}&dbname=${encodeURIComponent(database.name)}&sslmode=disable`, LOG_LEVEL: 'warn' },
    });
    try {
      const res = await fetch(`${api.url}/api/tasks?limit=100`);
      const body = await res.text();
      expect(res.status, body).toBe(200);
      expect(body).toContain(text);
      expect(proxy.accepted).toBeGreaterThan(before);
    } finally {
      await api.stop();
    }
  });
});

/**
 * libpq's socket form: an empty host, the socket directory as ?host=, and the port, user and
 * password as parameters too (or the user in the URL's own part, `user@/db`). pg reads them all;
 * the port and user were lost on the way (a URL without a host cannot carry a port or a user), so
 * the API reached another server: the default port's socket, the default user.
 */
describe('a socket-form DATABASE_URL (empty host, settings as query parameters)', () => {
  let cluster: ScramCluster;
  /** A database that exists only on the second cluster, which listens on a unix socket and another port. */
  const only = 'tasks_socket_only';

  beforeAll(async () => {
    cluster = await startScramCluster();
    const admin = new pg.Client({ connectionString: cluster.url() });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${only}`);
    } finally {
      await admin.end();
    }
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  /** The task texts in the second cluster's database, read over TCP. */
  async function tasksInCluster(): Promise<string[]> {
    const client = new pg.Client({ connectionString: cluster.url(only) });
    await client.connect();
    try {
      return (await client.query<{ task: string }>('SELECT task FROM main_table')).rows.map((r) => r.task);
    } finally {
      await client.end();
    }
  }

  const socketUrls: Array<[string, () => string]> = [
    ['?host=, ?port=, ?user= and ?password=', () => `postgres:///${only}?host=${encodeURIComponent(cluster.socketDir)}&port=${cluster.port}&user=${cluster.user}&password=${encodeURIComponent(cluster.password)}`],
    ['every setting a parameter, ?dbname= too', () => `postgres://?dbname=${only}&host=${encodeURIComponent(cluster.socketDir)}&port=${cluster.port}&user=${cluster.user}&password=${encodeURIComponent(cluster.password)}`],
    // libpq accepts user info before an empty host; WHATWG URLs do not.
    ['user info before an empty host (user:password@/db)', () => `postgres://${cluster.user}:${encodeURIComponent(cluster.password)}@/${only}?host=${encodeURIComponent(cluster.socketDir)}&port=${cluster.port}`],
  ];
  const starts: Array<[string, (env: Record<string, string>) => Promise<{ url: string; stop(): Promise<unknown> }>]> = [
    ['the bundle', (env) => startApi({ env: { ...env, MIGRATE_ON_START: 'true', LOG_LEVEL: 'warn' } })],
    ['npm start', (env) => npmStartWithUrl(env)],
  ];

  describe.each(starts)('%s', (_host, start) => {
    it.each(socketUrls)('writes to the server the socket URL names: %s', async (_form, socketUrl) => {
      const host = await start({ DB_DRIVER: 'pg', DATABASE_URL: socketUrl() });
      try {
        const text = `over the socket ${Date.now()} ${Math.random()}`;
        const res = await fetch(`${host.url}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ task: text }) });
        expect(res.status, await res.clone().text()).toBe(201);
        expect(await tasksInCluster()).toContain(text);
      } finally {
        await host.stop();
      }
    });
  });

  // Neon's driver connects over a WebSocket to a host name: a socket directory cannot be reached.
  it.each([
    ['the bundle', [serverBundle]],
    ['npm start', ['--import', 'tsx', 'scripts/start.ts']],
  ])('DB_DRIVER=neon refuses a host-less URL at start (%s): exit 78 with one clear line', async (_host, args) => {
    const r = await runToExit(args as string[], { PORT: String(await freePort()), DB_DRIVER: 'neon', DATABASE_URL: `postgres://u:hunter2@/${only}?host=${encodeURIComponent(cluster.socketDir)}&port=${cluster.port}` });
    expect(r.code, r.out).toBe(78);
    expect(r.out).toContain('DB_DRIVER=neon needs a host name');
    expect(r.out).not.toContain('hunter2');
    expect(r.out).not.toMatch(/\n\s+at /);
  });
});
