import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { freePort } from './support/api';

const root = fileURLToPath(new URL('..', import.meta.url));

// `npm start` as a newcomer runs it: builds the SPA when needed, then serves it and the API on one port.
it('npm start serves the page, config.json and the API on one port, on PGlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tasks-start-'));
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, PORT: String(port), PGLITE_DIR: join(dir, 'pglite'), FEATURE_DELETE_TASK: 'false', APP_VERSION: '7.7.7', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; !out.includes(`Task app running at http://localhost:${port}`); i++) {
      if (child.exitCode !== null || i > 1200) throw new Error(`npm start did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="app"');
    const fallback = await fetch(`${url}/some/client/route`);
    expect(fallback.status).toBe(200);
    expect(fallback.headers.get('content-type')).toContain('text/html');
    expect(await (await fetch(`${url}/config.json`)).json()).toEqual({ apiUrl: '/api', featureEditTask: true, featureDeleteTask: false, appVersion: '7.7.7' });

    // The API answers once PGlite has its schema.
    for (let i = 0; (await fetch(`${url}/readyz`)).status !== 200; i++) {
      if (i > 600) throw new Error(`never ready:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const created = await fetch(`${url}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"task":"from npm start"}' });
    expect(created.status).toBe(201);
    const list = await (await fetch(`${url}/api/tasks`)).json();
    expect(list.tasks.map((t: { task: string }) => t.task)).toEqual(['from npm start']);
    expect((await fetch(`${url}/api/tasks/1`, { method: 'DELETE' })).status).toBe(403);
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
