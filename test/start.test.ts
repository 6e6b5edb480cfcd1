import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { webDist } from '../scripts/web-dist';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ensureBundle, freePort, serverBundle } from './support/api';
import { waitFor200 } from './support/hosts';
import { createTestDatabase } from './support/postgres';

const root = fileURLToPath(new URL('..', import.meta.url));
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

/** `npm start` as the npm script runs it, with a user's environment. */
function npmStart(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    /** Resolves once the output matches `re`; fails with the output when the process exits first. */
    async waitForOutput(re: RegExp, timeoutMs = 90_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(out)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}) before printing ${re}:\n${out}`);
        if (Date.now() > deadline) throw new Error(`no ${re} within ${timeoutMs} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

const BANNER = /Task app running at http:\/\/localhost:\d+/;

/** The JSON log lines at level fatal in `out`. */
const fatalLines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes('"level":"fatal"'))
    .map((l) => JSON.parse(l) as { code?: string; exitCode?: number; msg: string });

// The first start on a new directory: one progress line, then the banner only once tasks are
// served (before, the banner came at "listening" and the database was created after it: a request
// sent at the banner got 503).
it('npm start on a new PGlite directory: a progress line, then the banner only when tasks can be served', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tasks-first-start-'));
  const port = await freePort();
  const app = npmStart({ PORT: String(port), PGLITE_DIR: join(dir, 'pglite') });
  try {
    await app.waitForOutput(BANNER);
    const atBanner = await fetch(`http://127.0.0.1:${port}/api/tasks`);
    expect(atBanner.status, app.output()).toBe(200);
    expect(await atBanner.json()).toEqual({ success: true, tasks: [], nextCursor: null });
    const out = app.output();
    const progress = out.indexOf(`Creating the local database in ${join(dir, 'pglite')} (first start only)…`);
    expect(progress, out).toBeGreaterThanOrEqual(0);
    expect(progress).toBeLessThan(out.search(BANNER));
    // Made whole and under its own name: no assembly directory left beside it.
    expect(readdirSync(dir).sort()).toEqual(['pglite', 'pglite.lock']);
  } finally {
    expect(await app.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }
});

// Ctrl+C during the first start: before, it waited for initdb (11–12 s at load) with only a JSON
// "shutting down", and a second Ctrl+C did nothing.
describe('Ctrl+C during the first start', () => {
  const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.includes('creating'));

  it('says what it does, stops, and leaves nothing the next start cannot use', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-ctrl-c-'));
    const env = { PGLITE_DIR: join(dir, 'pglite') };
    try {
      const first = npmStart({ PORT: String(await freePort()), ...env });
      await first.waitForOutput(/Creating the local database/);
      first.child.kill('SIGINT');
      expect(await first.exited, first.output()).toBe(0);
      // Whether the signal came during the creation or just after it finished, the process says which.
      expect(first.output()).toMatch(BANNER.test(first.output()) ? /Stopping: finishing the requests in flight/ : /Stopping before the start finished: nothing half-made is kept/);
      expect(leftovers(dir)).toEqual([]);

      const port = await freePort();
      const second = npmStart({ PORT: String(port), ...env });
      await second.waitForOutput(BANNER);
      expect((await fetch(`http://127.0.0.1:${port}/api/tasks`)).status).toBe(200);
      expect(await second.stop()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a second Ctrl+C exits at once (130), even while a request holds the drain open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-ctrl-c-twice-'));
    const port = await freePort();
    const app = npmStart({ PORT: String(port), PGLITE_DIR: join(dir, 'pglite') });
    const socket = new Socket();
    try {
      await app.waitForOutput(BANNER);
      // A request whose body never finishes: the drain waits for it (up to SHUTDOWN_TIMEOUT_MS).
      await new Promise<void>((resolve, reject) => socket.connect(port, '127.0.0.1', resolve).once('error', reject));
      socket.on('error', () => undefined);
      socket.write('POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"task":');
      await new Promise((r) => setTimeout(r, 200));
      app.child.kill('SIGINT');
      await app.waitForOutput(/Stopping: finishing the requests in flight/);
      expect(app.child.exitCode).toBeNull();
      app.child.kill('SIGINT');
      expect(await app.exited).toBe(130);
    } finally {
      socket.destroy();
      if (app.child.exitCode === null) app.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Before, the seed was unpacked on the event loop's thread: for seconds (9.6 s for one /healthz
  // at load) nothing was answered, and Ctrl+C, once or twice, waited for the unpacking to end.
  it('answers while the directory is being created; Ctrl+C then stops at once, a second one exits 130; the next start works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-ctrl-c-creating-'));
    const final = join(dir, 'pglite');
    const creating = join(dir, '.pglite.creating');
    const port = await freePort();
    const app = npmStart({ PORT: String(port), PGLITE_DIR: final });
    const socket = new Socket();
    try {
      await app.waitForOutput(/Creating the local database/);
      // Three /healthz answers in a row, each arriving while the unpacking is under way.
      let answeredWhileCreating = 0;
      while (answeredWhileCreating < 3 && !existsSync(final)) {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        if (res?.ok && existsSync(join(creating, 'PG_VERSION')) && !existsSync(final)) answeredWhileCreating++;
        else if (!res) await new Promise((r) => setTimeout(r, 10));
      }
      expect(answeredWhileCreating, app.output()).toBe(3);
      // A request whose body never finishes holds the drain open, so the second Ctrl+C is what ends it.
      await new Promise<void>((resolve, reject) => socket.connect(port, '127.0.0.1', resolve).once('error', reject));
      socket.on('error', () => undefined);
      socket.write('POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"task":');
      app.child.kill('SIGINT');
      await app.waitForOutput(/Stopping before the start finished/);
      // The creation stops at once (or had just finished): no half-made directory, while the drain still waits.
      while (leftovers(dir).length > 0 && app.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      expect(app.child.exitCode, app.output()).toBeNull();
      app.child.kill('SIGINT');
      expect(await app.exited, app.output()).toBe(130);
      expect(app.output()).not.toMatch(BANNER);
      expect(leftovers(dir)).toEqual([]);

      const next = npmStart({ PORT: String(await freePort()), PGLITE_DIR: final });
      await next.waitForOutput(BANNER);
      expect(await next.stop()).toBe(0);
    } finally {
      socket.destroy();
      if (app.child.exitCode === null) app.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Before, the process exited without waiting for the stopped worker, and `.pglite.creating` stayed
  // behind while the line said "nothing half-made is kept".
  it('one Ctrl+C while the directory is being unpacked: exit 0, the half-made directory deleted, the next start works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-ctrl-c-unpacking-'));
    const final = join(dir, 'pglite');
    const app = npmStart({ PORT: String(await freePort()), PGLITE_DIR: final });
    try {
      await app.waitForOutput(/Creating the local database/);
      while (!existsSync(join(dir, '.pglite.creating', 'PG_VERSION'))) {
        expect(existsSync(final), 'the creation ended before it was seen under way').toBe(false);
        await new Promise((r) => setTimeout(r, 5));
      }
      app.child.kill('SIGINT');
      expect(await app.exited, app.output()).toBe(0);
      expect(app.output()).toMatch(/Stopping before the start finished: nothing half-made is kept/);
      expect(app.output()).not.toMatch(BANNER);
      expect(leftovers(dir)).toEqual([]);
      expect(existsSync(final)).toBe(false);

      const port = await freePort();
      const next = npmStart({ PORT: String(port), PGLITE_DIR: final });
      await next.waitForOutput(BANNER);
      expect((await fetch(`http://127.0.0.1:${port}/api/tasks`)).status).toBe(200);
      expect(await next.stop()).toBe(0);
    } finally {
      if (app.child.exitCode === null) app.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a start takes over what a stopped one left half-made beside the directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-leftover-'));
    mkdirSync(join(dir, '.pglite.creating', 'base'), { recursive: true });
    writeFileSync(join(dir, '.pglite.creating', 'PG_VERSION'), '17\n');
    const port = await freePort();
    const app = npmStart({ PORT: String(port), PGLITE_DIR: join(dir, 'pglite') });
    try {
      await app.waitForOutput(BANNER);
      const created = await fetch(`http://127.0.0.1:${port}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"task":"after a hard stop"}' });
      expect(created.status).toBe(201);
      expect(leftovers(dir)).toEqual([]);
    } finally {
      expect(await app.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Ctrl+C while an existing data directory opens: before, the stop waited for PGlite to finish
// opening it (0.7-1.9 s on a busy machine). Now the open is abandoned, as a kill would leave it:
// the next start takes the directory over and serves what it held.
it('Ctrl+C while an existing data directory opens: it exits, and the next start serves its tasks', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'tasks-ctrl-c-open-'));
  const env = { PGLITE_DIR: join(parent, 'pglite') };
  try {
    let port = await freePort();
    const first = npmStart({ PORT: String(port), ...env });
    await first.waitForOutput(BANNER);
    expect((await fetch(`http://127.0.0.1:${port}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"task":"kept"}' })).status).toBe(201);
    expect(await first.stop()).toBe(0);

    for (let i = 0; i < 2; i++) {
      const stopped = npmStart({ PORT: String(await freePort()), ...env });
      await stopped.waitForOutput(/Starting \(PGlite in [^)]+\)…/);
      stopped.child.kill('SIGINT');
      expect(await stopped.exited, stopped.output()).toBe(0);
      expect(stopped.output()).toMatch(/Stopping/);
    }

    port = await freePort();
    const next = npmStart({ PORT: String(port), ...env });
    await next.waitForOutput(BANNER);
    const list = (await (await fetch(`http://127.0.0.1:${port}/api/tasks`)).json()) as { tasks: { task: string }[] };
    expect(list.tasks.map((t) => t.task)).toEqual(['kept']);
    expect(await next.stop()).toBe(0);
    expect(readdirSync(parent).sort()).toEqual(['pglite']);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

// A damaged data directory: before, "PGlite failed to initialize properly" or "Aborted(). Build
// with -sASSERTIONS…" as a JSON fatal line, naming neither the directory nor the way out.
it.each([
  ['a damaged pg_control', (dir: string) => writeFileSync(join(dir, 'global', 'pg_control'), Buffer.alloc(8192, 7))],
  ['an emptied pg_wal', (dir: string) => readdirSync(join(dir, 'pg_wal')).forEach((f) => rmSync(join(dir, 'pg_wal', f), { recursive: true }))],
])('npm start on a PGlite directory with %s: one line naming it and npm run reset, exit 65; reset, then it starts', async (_what, damage) => {
  const parent = mkdtempSync(join(tmpdir(), 'tasks-damaged-'));
  const dir = join(parent, 'pglite');
  try {
    const first = npmStart({ PORT: String(await freePort()), PGLITE_DIR: dir });
    await first.waitForOutput(BANNER);
    expect(await first.stop()).toBe(0);
    damage(dir);

    const broken = npmStart({ PORT: String(await freePort()), PGLITE_DIR: dir });
    expect(await broken.exited).toBe(65);
    // Piped, the one line is a JSON log line (plain on a terminal: test/fatal-lines.test.ts).
    const fatal = fatalLines(broken.output());
    expect(fatal, broken.output()).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ code: 'PGLITE_DAMAGED', exitCode: 65 });
    expect(fatal[0]!.msg).toMatch(new RegExp(`^PGlite directory ${dir} cannot be opened \\(.+\\): it is damaged or was made by another PGlite version\\. \`npm run reset\` deletes the local data \\(or set PGLITE_DIR to another directory\\)\\.$`));
    expect(broken.output()).not.toMatch(BANNER);

    const reset = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/reset.ts', '--yes'], { cwd: root, env: { PATH: process.env.PATH ?? '', PGLITE_DIR: dir }, encoding: 'utf8' });
    expect(reset.status, reset.stderr).toBe(0);
    const port = await freePort();
    const again = npmStart({ PORT: String(port), PGLITE_DIR: dir });
    await again.waitForOutput(BANNER);
    expect((await fetch(`http://127.0.0.1:${port}/api/tasks`)).status).toBe(200);
    expect(await again.stop()).toBe(0);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

// Readable local logs: before, every request was a JSON line on the terminal.
it('npm start on a terminal prints readable log lines (JSON when piped); the bundle carries no pretty-printer', async () => {
  const port = await freePort();
  // util-linux `script` gives the process a pseudo-terminal, as a person's shell does.
  const command = `exec ${process.execPath} --import tsx scripts/start.ts`;
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: root,
    detached: true,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TERM: 'dumb', NO_COLOR: '1', PORT: String(port), PGLITE_DIR: 'memory://', LOG_LEVEL: 'info' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await expect.poll(() => out, { timeout: 90_000 }).toMatch(BANNER);
    expect((await fetch(`http://127.0.0.1:${port}/api/tasks`)).status).toBe(200);
    await expect.poll(() => out, { timeout: 30_000 }).toMatch(/INFO: request/);
    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening \{"port":/m);
    // The progress line and the banner as plain lines of their own.
    expect(out).toMatch(/^Starting \(PGlite in memory:\/\/\)…\r?$/m);
    expect(out).toMatch(/^Task app running at http:\/\/localhost:\d+ \(PGlite in memory:\/\/\)\. Press Ctrl\+C to stop\.\r?$/m);
    expect(out).not.toContain('{"level"');
  } finally {
    // Ctrl+C as a person types it: the terminal sends SIGINT to the process and `script` relays what it prints.
    child.stdin.write('\x03');
    const stuck = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
    await exited;
    clearTimeout(stuck);
  }
  expect(out).toMatch(/^(\^C)?Stopping: finishing the requests in flight, then closing the database \(Ctrl\+C again quits at once\)…\r?$/m);
  expect(out).not.toContain('{"level"');
  // pino-pretty's own factory, not pino's mention of the package name in its transport code.
  expect(readFileSync(serverBundle, 'utf8').includes('prettyFactory')).toBe(false);
});

// Before, the progress line, the banner and "Stopping" were plain text on a pipe too, among JSON log lines.
it('npm start piped: the progress line, the banner and the stop are JSON info lines, like every other line', async () => {
  const port = await freePort();
  const app = npmStart({ PORT: String(port), PGLITE_DIR: 'memory://' });
  await app.waitForOutput(BANNER);
  app.child.kill('SIGINT');
  expect(await app.exited, app.output()).toBe(0);
  const lines = app.output().split('\n').filter(Boolean);
  for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
  const said = lines.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => !/^(request|shutting down|stopped)$/.test(l.msg) && !l.msg.includes('package.json "engines"'));
  expect(said).toEqual([
    { level: 'info', time: expect.any(String), msg: 'Starting (PGlite in memory://)…' },
    { level: 'info', time: expect.any(String), msg: `Task app running at http://localhost:${port} (PGlite in memory://). Press Ctrl+C to stop.` },
    { level: 'info', time: expect.any(String), msg: 'Stopping: finishing the requests in flight, then closing the database (Ctrl+C again quits at once)…' },
  ]);
});

// Before, npm start sent the page's assets uncompressed (72 KB of JS where nginx sends 28 KB).
it('npm start compresses the page as nginx does (gzip, the same types), with the same cache headers', async () => {
  const port = await freePort();
  const app = npmStart({ PORT: String(port), PGLITE_DIR: 'memory://' });
  const get = (path: string, acceptEncoding?: string) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
      // node:http, not fetch: fetch would decompress and hide what was sent.
      httpGet({ host: '127.0.0.1', port, path, headers: acceptEncoding ? { 'accept-encoding': acceptEncoding } : {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
  try {
    await app.waitForOutput(BANNER);
    const html = readFileSync(join(webDist, 'index.html'), 'utf8');
    const script = /<script[^>]+src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const css = /<link[^>]+href="(\/assets\/[^"]+\.css)"/.exec(html)![1]!;
    for (const path of [script, css]) {
      const res = await get(path, 'gzip, deflate, br');
      expect(res.status, path).toBe(200);
      expect(res.headers['content-encoding'], path).toBe('gzip');
      expect(res.headers.vary, path).toContain('Accept-Encoding');
      expect(res.headers['cache-control'], path).toBe('public, max-age=31536000, immutable');
      expect(gunzipSync(res.body).equals(readFileSync(join(webDist, path))), path).toBe(true);
      expect(res.body.length, path).toBeLessThan(readFileSync(join(webDist, path)).length);
    }
    const page = await get('/', 'gzip');
    expect(page.headers['content-encoding']).toBe('gzip');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(gunzipSync(page.body).toString()).toBe(html);
    // A client that does not ask for gzip gets the bytes as they are.
    const plain = await get(script);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(readFileSync(join(webDist, script)))).toBe(true);
  } finally {
    expect(await app.stop()).toBe(0);
  }
});

it('npm start on a database that does not exist: one line saying so and what to do, exit 66, no banner', async () => {
  const port = await freePort();
  const app = npmStart({ PORT: String(port), DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/tasks_no_such_database' });
  expect(await app.exited).toBe(66);
  const out = app.output();
  expect(out).not.toMatch(BANNER);
  // Piped: one JSON fatal line saying so (plain on a terminal: test/fatal-lines.test.ts), no stack.
  expect(fatalLines(out)).toEqual([expect.objectContaining({ code: '3D000', exitCode: 66, msg: 'database "tasks_no_such_database" does not exist on the configured server: create it (`createdb <name>`) or point DATABASE_URL at one that exists' })]);
  expect(out).not.toContain('"stack"');
  expect(out).not.toMatch(/\n\s+at /);
});

it('npm start on a database that cannot be reached: says it is waiting (piped: as JSON warn lines), never the banner, stops on Ctrl+C', async () => {
  const closed = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => closed.once('listening', r));
  const dbPort = (closed.address() as { port: number }).port;
  await new Promise((r) => closed.close(r));
  const port = await freePort();
  const app = npmStart({ PORT: String(port), DATABASE_URL: `postgres://postgres@127.0.0.1:${dbPort}/tasks` });
  try {
    await app.waitForOutput(/database not reachable/);
    const waiting = app.output().split('\n').find((l) => l.includes('database not reachable'))!;
    expect(JSON.parse(waiting)).toMatchObject({ level: 'warn', msg: 'start-up migrations: database not reachable; retrying', err: { code: 'ECONNREFUSED' } });
    // The plain line is for a terminal (test/fatal-lines.test.ts).
    expect(app.output()).not.toContain('Waiting for the database');
    // Still retrying, unready, and still no banner.
    await expect.poll(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status).toBe(503);
    expect(app.output()).not.toMatch(BANNER);
  } finally {
    app.child.kill('SIGINT');
    expect(await app.exited).toBe(0);
  }
});

// `npm start` as a newcomer runs it: builds the SPA when needed, then serves it and the API on one port.
it('npm start serves the page, config.json and the API on one port, on PGlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tasks-start-'));
  const port = await freePort();
  const app = npmStart({ PORT: String(port), PGLITE_DIR: join(dir, 'pglite'), FEATURE_DELETE_TASK: 'false', APP_VERSION: '7.7.7' });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor200(`${url}/readyz`, app.child, app.output);
    // The banner follows readiness (a stop pending at that moment is read first): waited for, not assumed.
    await app.waitForOutput(new RegExp(`Task app running at http://localhost:${port}\\b`));
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="app"');
    const fallback = await fetch(`${url}/some/client/route`);
    expect(fallback.status).toBe(200);
    expect(fallback.headers.get('content-type')).toContain('text/html');
    expect(await (await fetch(`${url}/config.json`)).json()).toEqual({ apiUrl: '/api', featureEditTask: true, featureDeleteTask: false, appVersion: '7.7.7', apiSleeps: false, embeddedDatabase: true });
    // Cached as nginx caches them: HTML never, a missing hashed asset is a 404 (never index.html).
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(fallback.headers.get('cache-control')).toBe('no-store');
    const missing = await fetch(`${url}/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('cache-control')).toBeNull();

    const created = await fetch(`${url}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"task":"from npm start"}' });
    expect(created.status).toBe(201);
    const { task } = await created.json();
    const list = await (await fetch(`${url}/api/tasks`)).json();
    expect(list.tasks.map((t: { task: string }) => t.task)).toEqual(['from npm start']);
    expect((await fetch(`${url}/api/tasks/${task.id}`, { method: 'DELETE' })).status).toBe(403);
    // Logged under the matched route, as under the bundle (not the page's catch-all).
    await new Promise((r) => setTimeout(r, 100));
    expect(app.output()).not.toMatch(/"route":"\/\*"/);
  } finally {
    expect(await app.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }
});

// One version however the product runs: before, `node --import tsx scripts/start.ts` (no npm, so no
// npm_package_version) put "dev" in config.json while /api/info said 1.0.0; a version npm set for
// another package (an npm script elsewhere starting this one) was reported as this one's.
it('started without npm, by another package\'s npm script, and as the bundle: package.json\'s version in /api/info and config.json', async () => {
  const reported = async (url: string) => ({
    api: ((await (await fetch(`${url}/api/info`)).json()) as { version: string }).version,
    page: ((await (await fetch(`${url}/config.json`)).json()) as { appVersion?: string }).appVersion,
  });
  for (const env of [{}, { npm_package_version: '0.0.1-another-package' }] as Record<string, string>[]) {
    const port = await freePort();
    const app = npmStart({ PORT: String(port), PGLITE_DIR: 'memory://', ...env });
    try {
      await waitFor200(`http://127.0.0.1:${port}/readyz`, app.child, app.output);
      expect(await reported(`http://127.0.0.1:${port}`)).toEqual({ api: version, page: version });
    } finally {
      expect(await app.stop()).toBe(0);
    }
  }
  await ensureBundle();
  const port = await freePort();
  const bundle = spawn(process.execPath, [serverBundle], { env: { PATH: process.env.PATH ?? '', PORT: String(port), PGLITE_DIR: 'memory://', LOG_LEVEL: 'fatal', npm_package_version: '0.0.1-another-package' }, stdio: 'ignore' });
  try {
    await waitFor200(`http://127.0.0.1:${port}/readyz`, bundle, () => '');
    expect(await (await fetch(`http://127.0.0.1:${port}/api/info`)).json()).toMatchObject({ version });
  } finally {
    bundle.kill('SIGTERM');
    await new Promise((r) => bundle.once('exit', r));
  }
});

it('npm start on a PostgreSQL database without the schema applies the migrations (it is the local runner)', async () => {
  const database = await createTestDatabase();
  const port = await freePort();
  const app = npmStart({ PORT: String(port), DATABASE_URL: database.url });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor200(`${url}/readyz`, app.child, app.output);
    const created = await fetch(`${url}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"task":"on postgres"}' });
    expect(created.status).toBe(201);
    expect(await (await fetch(`${url}/api/info`)).json()).toMatchObject({ version, driver: 'pg' });
    // No local database to start: the page says it is connecting (before, "Starting the local database…").
    expect(await (await fetch(`${url}/config.json`)).json()).toMatchObject({ apiSleeps: false, embeddedDatabase: false });
  } finally {
    expect(await app.stop()).toBe(0);
    await database.drop();
  }
});

it('the bundle without start-up migrations on a database without the schema answers 503 schema_not_ready, never 500', async () => {
  const database = await createTestDatabase();
  const port = await freePort();
  const child = spawn(process.execPath, [serverBundle], { env: { PATH: process.env.PATH ?? '', PORT: String(port), DATABASE_URL: database.url, LOG_LEVEL: 'fatal' }, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor200(`${url}/healthz`, child, () => '');
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    const r = await fetch(`${url}/api/tasks`);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).not.toBeNull();
    expect(await r.json()).toEqual({ success: false, code: 'schema_not_ready', message: 'The database schema is missing or not up to date: run `npm run migrate` (or start with MIGRATE_ON_START=true)' });
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await database.drop();
  }
});

it.each([
  ['the bundle', [serverBundle]],
  ['npm start', ['--import', 'tsx', 'scripts/start.ts']],
])('%s on a port in use: one line naming the port, exit 69', async (_name, args) => {
  const taken = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => taken.once('listening', r));
  const port = (taken.address() as { port: number }).port;
  try {
    const r = spawnSync(process.execPath, args, { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: String(port), PGLITE_DIR: 'memory://', LOG_LEVEL: 'warn' }, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(69);
    const lines = `${r.stdout}${r.stderr}`.trim().split('\n').filter((l) => l.includes(String(port)));
    expect(lines).toHaveLength(1);
    // Piped: the same JSON log line as bad configuration (plain on a terminal: test/fatal-lines.test.ts).
    expect(fatalLines(r.stderr)).toEqual([expect.objectContaining({ code: 'EADDRINUSE', exitCode: 69, msg: `port ${port} is already in use: stop the other process or set PORT` })]);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/\n\s+at /); // no stack trace
  } finally {
    taken.close();
  }
});

// Before, a Ctrl+C that reached the process just before the app was ready still printed the
// "listening" line and the banner, then "Stopping…". The fixture raises SIGINT as the port is bound
// (MIGRATE_ON_START=false: ready at that moment), so the race is the same on every run.
describe('Ctrl+C just before the app is ready: no ready line and no banner', () => {
  const preload = join(root, 'test/fixtures/sigint-at-listen.mjs');
  const run = (args: string[], env: Record<string, string>) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', preload, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', MIGRATE_ON_START: 'false', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    return new Promise<{ code: number | null; out: string }>((resolve) => child.on('close', (code) => resolve({ code, out })));
  };

  it('npm start: the stop is said, neither "listening" nor the banner, exit 0', async () => {
    const db = await createTestDatabase();
    try {
      const { code, out } = await run(['scripts/start.ts'], { PORT: String(await freePort()), DATABASE_URL: db.url });
      expect(code, out).toBe(0);
      expect(out).toMatch(/Stopping before the start finished/);
      expect(out).not.toMatch(BANNER);
      expect(out).not.toContain('"msg":"listening"');
    } finally {
      await db.drop();
    }
  });

  it('the bundle run locally: no "listening" line, exit 0', async () => {
    await ensureBundle();
    const db = await createTestDatabase();
    try {
      const { code, out } = await run([serverBundle], { PORT: String(await freePort()), DATABASE_URL: db.url });
      expect(code, out).toBe(0);
      expect(out).toContain('"msg":"shutting down"');
      expect(out).not.toContain('"msg":"listening"');
    } finally {
      await db.drop();
    }
  });
});
