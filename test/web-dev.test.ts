import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiDevServer } from '../web/server/api-dev-server';
import { engineWarning } from '../web/server/node-engines';
import { freePort } from './support/api';
import { tempDir } from './support/nginx';

// `npm run dev`: one Vite server for the SPA, /config.json and the API functions on PGlite.
const root = fileURLToPath(new URL('..', import.meta.url));
let vite: ChildProcess;
let url: string;
let output = '';
let stderr = '';

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const { VITEST: _v, VITEST_MODE: _m, NODE_ENV: _n, ...env } = process.env;
  vite = spawn(process.execPath, ['node_modules/vite/bin/vite.js', '--config', 'web/vite.config.ts', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: root,
    env: { ...env, PGLITE_DIR: 'memory://', FEATURE_DELETE_TASK: 'false', APP_VERSION: '9.9.9 "dev"', VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  vite.stdout!.on('data', (d) => (output += d));
  vite.stderr!.on('data', (d) => ((output += d), (stderr += d)));
  const deadline = Date.now() + 30_000;
  while (!(await fetch(`${url}/`).then((r) => r.ok, () => false))) {
    if (vite.exitCode !== null || Date.now() > deadline) throw new Error(`vite dev server did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  if (vite && vite.exitCode === null) {
    const exited = new Promise((resolve) => vite.on('exit', resolve));
    vite.kill('SIGTERM');
    await exited;
  }
});

describe('npm run dev', () => {
  it("on a Node.js outside package.json's engines says so once, first on stderr, and serves anyway (this Node.js: silent when inside)", () => {
    const line = engineWarning(process.version, (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node);
    const said = stderr.split('\n').filter((l) => l.includes('package.json "engines"'));
    expect(said).toEqual(line ? [line] : []);
    if (line) expect(stderr.startsWith(`${line}\n`), stderr).toBe(true);
  });

  it('serves the page and compiles the app through Vite', async () => {
    const html = await (await fetch(`${url}/`)).text();
    expect(html).toContain('<div id="app">');
    expect(html).toContain('/@vite/client');
    const app = await fetch(`${url}/src/App.vue`);
    expect(app.status).toBe(200);
    expect(await app.text()).toContain('TasksView');
  });

  it('serves /config.json from the environment, like nginx and npm start', async () => {
    const res = await fetch(`${url}/config.json`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ apiUrl: '/api', featureEditTask: true, featureDeleteTask: false, appVersion: '9.9.9 "dev"', apiSleeps: false, embeddedDatabase: true });
  });

  it('mounts the API functions at /api on PGlite', async () => {
    const created = await fetch(`${url}/api/tasks`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ task: 'From the dev server' }),
    });
    expect(created.status, output).toBe(201);
    const list = (await (await fetch(`${url}/api/tasks`)).json()) as { tasks: { task: string }[] };
    expect(list.tasks.map((t) => t.task)).toEqual(['From the dev server']);
    // Everything outside /api stays with Vite: an unknown page is the SPA, not a Hono 404.
    expect(await (await fetch(`${url}/some/page`)).text()).toContain('<div id="app">');
  });
});

describe('the API functions under Vite', () => {
  it('serve an edited route on the next request, without a restart', async () => {
    // A stand-in for functions/api/dev.ts, outside Vite's root like the real one.
    const dir = tempDir('tasks-dev-entry-');
    const entry = join(dir, 'api.ts');
    const route = (version: number) =>
      `export default { fetch: () => new Response(JSON.stringify({ version: ${version} }), { headers: { 'Content-Type': 'application/json' } }) };\n`;
    writeFileSync(entry, route(1));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>page</title>');
    const port = await freePort();
    const server = await createServer({
      configFile: false,
      root: dir,
      logLevel: 'silent',
      plugins: [apiDevServer(entry)],
      server: { host: '127.0.0.1', port, strictPort: true },
    });
    await server.listen();
    try {
      const base = `http://127.0.0.1:${port}`;
      expect(await (await fetch(`${base}/api/tasks`)).json()).toEqual({ version: 1 });
      expect(await (await fetch(`${base}/`)).text()).toContain('<title>page</title>');

      writeFileSync(entry, route(2));
      await expect
        .poll(async () => (await (await fetch(`${base}/api/tasks`)).json()) as unknown, { timeout: 10_000 })
        .toEqual({ version: 2 });
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm run dev starts as the other hosts do', () => {
  const vite = (env: Record<string, string>) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, ['node_modules/vite/bin/vite.js', '--config', 'web/vite.config.ts', '--host', '127.0.0.1'], {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });

  it('a bad variable: exit 78 and the message naming it, no stack trace', async () => {
    const port = await freePort();
    const r = await vite({ PORT: String(port), PGLITE_DIR: 'memory://', FEATURE_EDIT_TASK: 'maybe' });
    expect(r.code).toBe(78);
    expect(r.out).toContain('FEATURE_EDIT_TASK must be one of true, false, 1, 0, yes, no, on, off (any case)');
    expect(r.out).not.toMatch(/\n\s+at /);
  });

  it('answers preflights only through the API (no CORS of its own)', async () => {
    const r = await fetch(`${url}/api/tasks`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'DELETE' } });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    expect(r.status).toBe(405);
    expect((await r.json()).code).toBe('method_not_allowed');
  });
});

// Before, a type error in a route was served silently by npm run dev.
describe('npm run dev on a terminal', () => {
  it('reports a type error in the API code in the terminal', { timeout: 300_000 }, async () => {
    // A file the root tsconfig includes (functions/) under a git-ignored folder name (test-results/),
    // so no other test sees it as an unlisted file while it exists.
    const dir = join(root, 'functions/api/test-results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'dev-typecheck-probe.ts'), "// written by test/web-dev.test.ts\nexport const probe: number = 'not a number';\n");
    const port = await freePort();
    // util-linux `script` gives Vite a pseudo-terminal, as a person's shell does.
    const command = `exec ${process.execPath} node_modules/vite/bin/vite.js --config web/vite.config.ts --host 127.0.0.1 --port ${port} --strictPort`;
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: root,
      detached: true,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TERM: 'dumb', NO_COLOR: '1', PGLITE_DIR: 'memory://', VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      const plain = () => out.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');
      await expect.poll(plain, { timeout: 280_000, interval: 250 }).toMatch(/dev-typecheck-probe\.ts:2:14/);
      expect(plain()).toContain("Type 'string' is not assignable to type 'number'.");
    } finally {
      process.kill(-child.pid!, 'SIGINT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
