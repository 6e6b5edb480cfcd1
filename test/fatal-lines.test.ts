import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineWarning } from '../web/server/node-engines';
import { ensureBundle, freePort, serverBundle } from './support/api';

// Each mistake a first start can meet gets one line with the next step: plain text when a person
// reads stderr at a terminal, one JSON log line (the API's log shape) when a program reads it.
// Before, every one of them was the plain line, piped or not. The terminal is a pseudo-terminal
// from util-linux `script`, as a person's shell gives one. Nothing before that line claims the app
// is up: before, the "listening" log line (and on a terminal its readable form) came first for a
// missing database and a damaged data directory, which are found once the port is bound.

const root = fileURLToPath(new URL('..', import.meta.url));
const PASSWORD = 'hunter2-fatal';

const HOSTS = [
  ['npm start', [process.execPath, '--import', 'tsx', 'scripts/start.ts']],
  ['the bundle', [process.execPath, serverBundle]],
] as const;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

// LOG_LEVEL=info: the level at which the "listening" line would be printed.
const userEnv = (env: Record<string, string>) => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', ...env });

/** `npm start`'s progress lines, the only lines allowed before a fatal line (the bundle prints none). */
const PROGRESS = /^(Building the web app \(web\/dist is missing or stale\)…|Starting \(.+\)…|Creating the local database in .+ \(first start only\)…)$/;

/**
 * The line `npm start` says first on a Node.js outside package.json's engines (this one's when it
 * is: web/server/node-engines.ts), on stderr, before anything else; the bundle never says it.
 */
const ENGINE_LINE = engineWarning(process.version, (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { engines: { node: string } }).engines.node);
const engineLines = (host: string) => (host === 'npm start' && ENGINE_LINE ? [ENGINE_LINE] : []);

/** What says the app is up: the API's log line (JSON or readable) and `npm start`'s banner. */
const UP = /"msg":"listening"|\blistening\b|Task app running at/i;
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `argv` with stdout and stderr on pipes (`tty: false`) or on a pseudo-terminal (`tty: true`,
 * both streams arrive as `stdout`, with CRLF turned back into LF), until it exits or `until`
 * matches what it printed; then SIGINT (to the process group, `script` and its child).
 */
function run(argv: readonly string[], env: Record<string, string>, opts: { tty: boolean; until?: RegExp }): Promise<Run> {
  const [file, args] = opts.tty
    ? ['script', ['-qefc', `exec ${argv.map(shellQuote).join(' ')}`, '/dev/null']]
    : [argv[0]!, argv.slice(1)];
  const child = spawn(file, args, { cwd: root, env: { ...userEnv(env), ...(opts.tty ? { TERM: 'dumb', NO_COLOR: '1' } : {}) }, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let stopped = false;
  const check = () => {
    if (!stopped && opts.until?.test(stdout.replace(/\r/g, '') + stderr)) {
      stopped = true;
      process.kill(-child.pid!, 'SIGINT');
    }
  };
  child.stdout.on('data', (d) => ((stdout += d), check()));
  child.stderr.on('data', (d) => ((stderr += d), check()));
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 90_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: stdout.replace(/\r\n/g, '\n'), stderr });
    }),
  );
}

let taken: Server;
let takenPort: number;
let closedPort: number;
const scratch = mkdtempSync(join(tmpdir(), 'tasks-fatal-lines-'));
const lockedDir = join(scratch, 'pglite');
const damagedDir = join(scratch, 'damaged');

beforeAll(async () => {
  await ensureBundle();
  taken = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => taken.once('listening', r));
  takenPort = (taken.address() as { port: number }).port;
  closedPort = await freePort();
  // Held by a live process on this host: this test's own.
  writeFileSync(`${lockedDir}.lock`, JSON.stringify({ pid: process.pid, host: hostname() }));
  // Says it is a data directory, holds nothing PGlite can open.
  mkdirSync(damagedDir);
  writeFileSync(join(damagedDir, 'PG_VERSION'), '17\n');
  writeFileSync(join(damagedDir, 'postgresql.conf'), 'not a configuration\n');
}, 120_000);

afterAll(() => {
  taken?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const missingDb = `postgres://postgres:${PASSWORD}@127.0.0.1:5432/tasks_no_such_database`;

/** The mistakes that stop a start: environment, the plain line, the JSON line's code and the exit code. */
const fatal = () =>
  [
    {
      name: 'port in use',
      env: { PORT: String(takenPort), PGLITE_DIR: 'memory://' },
      text: `port ${takenPort} is already in use: stop the other process or set PORT`,
      code: 'EADDRINUSE',
      exitCode: 69,
    },
    {
      name: 'locked data directory',
      env: { PORT: '0', PGLITE_DIR: lockedDir },
      text: `PGlite directory ${lockedDir} is in use by process ${process.pid} (lock file ${lockedDir}.lock). Stop that process, or set PGLITE_DIR to another directory.`,
      code: 'PGLITE_LOCKED',
      exitCode: 75,
    },
    {
      name: 'damaged data directory',
      env: { PORT: '0', PGLITE_DIR: damagedDir },
      text: `PGlite directory ${damagedDir} cannot be opened (PGlite failed to initialize properly): it is damaged or was made by another PGlite version. \`npm run reset\` deletes the local data (or set PGLITE_DIR to another directory).`,
      code: 'PGLITE_DAMAGED',
      exitCode: 65,
    },
    {
      name: 'missing database',
      // The bundle migrates only when asked; without migrations it would not touch the database at start.
      env: { PORT: '0', DATABASE_URL: missingDb, MIGRATE_ON_START: 'true' },
      text: 'database "tasks_no_such_database" does not exist on the configured server: create it (`createdb <name>`) or point DATABASE_URL at one that exists',
      code: '3D000',
      exitCode: 66,
    },
    {
      name: 'bad configuration value',
      env: { PORT: '0', DATABASE_URL: missingDb, FEATURE_EDIT_TASK: 'maybe' },
      text: 'Invalid configuration:\n  FEATURE_EDIT_TASK must be one of true, false, 1, 0, yes, no, on, off (any case)',
      msg: 'Invalid configuration: FEATURE_EDIT_TASK must be one of true, false, 1, 0, yes, no, on, off (any case)',
      code: 'CONFIG_INVALID',
      exitCode: 78,
    },
  ] as const;

describe.each(HOSTS)('%s', (host, argv) => {
  describe.each(['port in use', 'locked data directory', 'damaged data directory', 'missing database', 'bad configuration value'])('on a %s', (name) => {
    const mistake = () => fatal().find((m) => m.name === name)!;

    it('piped: exactly one JSON line on stderr, level fatal, with the message, code and exit code', async () => {
      const m = mistake();
      const r = await run(argv, m.env, { tty: false });
      expect(r.code, r.stdout + r.stderr).toBe(m.exitCode);
      const all = r.stderr.split('\n').filter(Boolean);
      // Piped, the engines line is a JSON warn line too.
      const first = engineLines(host).map((msg) => ({ level: 'warn', time: expect.any(String), msg }));
      expect(all.slice(0, first.length).map((l) => JSON.parse(l) as unknown), r.stderr).toEqual(first);
      const lines = all.slice(first.length);
      expect(lines, r.stderr).toHaveLength(1);
      const line = JSON.parse(lines[0]!) as Record<string, unknown>;
      expect(line).toEqual({ level: 'fatal', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), code: m.code, exitCode: m.exitCode, msg: 'msg' in m ? m.msg : m.text });
      // Nothing else says it: no plain copy of the line, no second fatal line on stdout.
      expect(r.stdout).not.toContain(m.text);
      expect(r.stdout).not.toContain('"level":"fatal"');
      // Before it, on stdout, at most the progress line (piped: as a JSON info line): nothing says the app is up.
      for (const l of r.stdout.split('\n').filter(Boolean)) {
        const progress = JSON.parse(l) as Record<string, unknown>;
        expect(progress, r.stdout).toMatchObject({ level: 'info', msg: expect.stringMatching(PROGRESS) });
      }
      expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    });

    it('on a terminal: the plain line, no JSON', async () => {
      const m = mistake();
      const r = await run(argv, m.env, { tty: true });
      expect(r.code, r.stdout).toBe(m.exitCode);
      expect(r.stdout).toContain(`${m.text}\n`);
      // The fatal line is the last thing said; before it at most the progress line, never "listening" or the banner.
      const [before, after] = r.stdout.split(`${m.text}\n`) as [string, string];
      const said = before.replace(/\r/g, '').split('\n').filter(Boolean);
      const first = engineLines(host);
      expect(said.slice(0, first.length), r.stdout).toEqual(first);
      for (const l of said.slice(first.length)) expect(l, r.stdout).toMatch(PROGRESS);
      expect(after.trim(), r.stdout).toBe('');
      expect(r.stdout).not.toMatch(UP);
      expect(r.stdout).not.toContain('{"level"');
      expect(r.stdout).not.toMatch(/\n\s+at /);
      expect(r.stdout).not.toContain(PASSWORD);
    });
  });

  // Not fatal: the start waits and retries (readiness fails meanwhile), and says so.
  describe('on an unreachable database', () => {
    const env = () => ({ PORT: '0', DATABASE_URL: `postgres://postgres:${PASSWORD}@127.0.0.1:${closedPort}/tasks`, MIGRATE_ON_START: 'true' });
    const plain = () => `Waiting for the database at pg database 127.0.0.1:${closedPort}/tasks (ECONNREFUSED); retrying until it answers. Press Ctrl+C to stop.\n`;

    it('piped: JSON warn lines naming the error, no plain line; Ctrl+C stops it', async () => {
      const r = await run(argv, env(), { tty: false, until: /database not reachable/ });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const waiting = r.stdout.split('\n').filter((l) => l.includes('database not reachable')).map((l) => JSON.parse(l) as { level: string; msg: string; err: { code: string } });
      expect(waiting.length, r.stdout).toBeGreaterThan(0);
      for (const w of waiting) expect(w).toMatchObject({ level: 'warn', msg: 'start-up migrations: database not reachable; retrying', err: { code: 'ECONNREFUSED' } });
      expect(r.stdout + r.stderr).not.toContain('Waiting for the database');
      expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    });

    it('on a terminal: the plain line naming the database and the next step; Ctrl+C stops it', async () => {
      const r = await run(argv, env(), { tty: true, until: /Waiting for the database.*\n/ });
      expect(r.code, r.stdout).toBe(0);
      expect(r.stdout).toContain(plain());
      expect(r.stdout).not.toContain(PASSWORD);
    });
  });
});
