import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectImage } from '../../scripts/images/buildah';
import { appImages, version } from '../../scripts/images/app-images';
import { launchChromium, watchProblems, type PageProblems } from '../support/browser';
import { rawRequest } from '../support/raw-http';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import {
  adminUrl,
  renderedContainer,
  runContainer,
  runMigrateImage,
  startApiImage,
  startWebImage,
  type RunningApiImage,
  type RunningWebImage,
} from '../support/images';

// The whole chain as the cluster has it: Chromium → tasks-web image (nginx, its own entrypoint,
// shell and awk) → tasks-api image → PostgreSQL, both containers with the prod manifests'
// environment, users, Secret volumes and a read-only root.
const web = appImages.find((i) => i.name === 'tasks-web')!;
const manifest = renderedContainer('prod/frontend/30-web.yaml', 'web');
const appRole = { username: `tasks_image_app_${randomBytes(4).toString('hex')}`, password: 'not-checked-by-trust-auth' };

let database: TestDatabase;
let api: RunningApiImage;
let nginx: RunningWebImage;
let browser: Browser;
let page: Page;
let problems: PageProblems;

beforeAll(async () => {
  database = await createTestDatabase('tasks_image');
  const migrated = await runMigrateImage(database.url, { app: appRole });
  if (migrated.code !== 0) throw new Error(`migrate exited with ${migrated.code}:\n${migrated.logs}`);
  const asApp = new URL(database.url);
  asApp.username = appRole.username;
  [api, browser] = await Promise.all([startApiImage({ databaseUrl: asApp.toString() }), launchChromium()]);
  nginx = await startWebImage({ apiUpstream: api.url, token: api.token });
  page = await browser.newPage({ viewport: { width: 800, height: 640 } });
  problems = watchProblems(page);
});

afterAll(async () => {
  await browser?.close();
  if (nginx && nginx.container.child.exitCode === null) await nginx.stop();
  if (api && api.container.child.exitCode === null) await api.stop();
  await database?.drop();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS "${appRole.username}"`).finally(() => admin.end());
});

const items = () => page.locator('li.task .text').allInnerTexts();
const row = (text: string) => page.locator('li.task', { has: page.getByText(text, { exact: true }) });

describe('the tasks-web image', () => {
  it('runs nginx as user 101, not root, with the manifest user', async () => {
    const config = (await inspectImage(web.ref))!;
    expect(config.User).toBe(`${manifest.runAsUser}:${manifest.runAsGroup}`);
    expect(manifest.runAsUser).toBe(101);
    expect(config.StopSignal).toBe('SIGQUIT');
    const status = readFileSync(`/proc/${nginx.container.pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+101\s+101\s+101\s+101$/m);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    // The entrypoint exec'd nginx: the container's main process is the nginx master.
    expect(readFileSync(`/proc/${nginx.container.pid}/cmdline`, 'utf8')).toMatch(/^nginx: master process/);
  });

  it('serves the page and /config.json from the manifest environment', async () => {
    const index = await fetch(`${nginx.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(index.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(await index.text()).toMatch(/<div id="app">/);
    const config = await fetch(`${nginx.url}/config.json`);
    expect(config.headers.get('cache-control')).toBe('no-store');
    expect(await config.json()).toEqual({
      apiUrl: manifest.env.API_URL,
      featureEditTask: true,
      featureDeleteTask: true,
      appVersion: manifest.env.APP_VERSION,
      apiSleeps: true,
      embeddedDatabase: false,
    });
    expect(manifest.env.APP_VERSION).toBe(version);
  });

  it("renders /config.json with the image's own shell (dash) and awk (mawk), escaping every value", async () => {
    const tools = await runContainer({
      image: web.ref,
      command: ['/bin/sh', '-c', 'readlink -f /bin/sh; readlink -f "$(command -v awk)"'],
      runAsUser: manifest.runAsUser!,
      runAsGroup: manifest.runAsGroup!,
    });
    try {
      expect(await tools.exited).toBe(0);
      expect(tools.logs().trim().split('\n')).toEqual(['/usr/bin/dash', '/usr/bin/mawk']);
    } finally {
      await tools.remove();
    }
    const tricky = 'v1 "quoted" \\ back\tslash \u0001 ünï';
    const other = await startWebImage({ apiUpstream: api.url, token: api.token, env: { APP_VERSION: tricky, FEATURE_DELETE_TASK: 'FALSE' } });
    try {
      expect(await (await fetch(`${other.url}/config.json`)).json()).toEqual({ apiUrl: '/api', featureEditTask: true, featureDeleteTask: false, appVersion: tricky, apiSleeps: true, embeddedDatabase: false });
    } finally {
      expect(await other.stop()).toBe(0);
    }
  });

  it('proxies /api/ to the API image with the internal token from its Secret volume', async () => {
    const res = await fetch(`${nginx.url}/api/tasks`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, tasks: [], nextCursor: null });
    // Straight to the API without the token: refused, so the token did come from nginx.
    expect((await fetch(`${api.url}/api/tasks`)).status).toBe(401);
  });

  it('passes the browser flow: add, edit, complete, delete, reload (web image → API image → PostgreSQL)', async () => {
    await page.goto(nginx.url);
    await page.getByText('No tasks yet. Add one above.').waitFor();
    await expect.poll(() => page.locator('footer').innerText()).toMatch(new RegExp(`^App ${version.replace(/\./g, '\\.')} · API \\S+`));

    const input = page.getByLabel('New task');
    for (const text of ['Build the images', 'Run them like a kubelet', 'Measure the cold start']) {
      await input.fill(text);
      await input.press('Enter');
    }
    await expect.poll(items).toEqual(['Build the images', 'Run them like a kubelet', 'Measure the cold start']);

    await row('Run them like a kubelet').locator('.text').dblclick();
    const editor = page.getByRole('textbox', { name: 'Edit task' });
    await editor.fill('Run them as a kubelet would');
    await editor.press('Enter');
    await expect.poll(items).toEqual(['Build the images', 'Run them as a kubelet would', 'Measure the cold start']);

    await page.getByRole('checkbox', { name: 'Build the images' }).check();
    await row('Measure the cold start').getByRole('button', { name: 'Delete', exact: true }).click();
    await expect.poll(items).toEqual(['Build the images', 'Run them as a kubelet would']);

    // What the page shows is in PostgreSQL.
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      await expect
        .poll(async () => (await db.query('SELECT task, done FROM main_table ORDER BY id')).rows)
        .toEqual([
          { task: 'Build the images', done: true },
          { task: 'Run them as a kubelet would', done: false },
        ]);
    } finally {
      await db.end();
    }

    await page.reload();
    await expect.poll(items).toEqual(['Build the images', 'Run them as a kubelet would']);
    expect(await page.getByRole('checkbox', { name: 'Build the images' }).isChecked()).toBe(true);
    expect(problems.list).toEqual([]);
  });

  it("answers nginx's own errors on /api as JSON, with the image's nginx (Debian's build)", async () => {
    const port = Number(new URL(nginx.url).port);
    const trace = await rawRequest(port, 'TRACE /api/tasks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(trace.status).toBe(405);
    expect(JSON.parse(trace.body.toString())).toMatchObject({ success: false, code: 'method_not_allowed' });
    const big = await rawRequest(port, `GET /api/tasks HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17_000)}\r\nConnection: close\r\n\r\n`);
    expect(big.status).toBe(431);
    expect(JSON.parse(big.body.toString())).toMatchObject({ success: false, code: 'header_too_large' });
    const version = await rawRequest(port, 'GET /api/tasks HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(version.status).toBe(505);
    expect(JSON.parse(version.body.toString()).code).toBe('http_version_not_supported');
    // A 10 KiB cookie reaches the API (it answers, not nginx).
    const cookie = await fetch(`${nginx.url}/api/tasks`, { headers: { Cookie: `c=${'c'.repeat(10 * 1024)}` } });
    expect(cookie.status).toBe(200);
  });

  it('starts while API_UPSTREAM does not resolve, reading the resolver from its /etc/resolv.conf, and answers the JSON 502', async () => {
    const unresolved = await startWebImage({ apiUpstream: 'http://tasks-api.backend.svc.cluster.invalid', token: api.token });
    try {
      const res = await fetch(`${unresolved.url}/api/tasks`);
      expect(res.status).toBe(502);
      expect((await res.json()).code).toBe('api_unavailable');
      expect(unresolved.logs()).toMatch(/could not be resolved|timed out/);
    } finally {
      expect(await unresolved.stop()).toBe(0);
    }
  });

  it("refuses an API_TIMEOUT at or below the manifest's REQUEST_TIMEOUT_MS with exit 78, naming both numbers", async () => {
    expect(Number(manifest.env.API_TIMEOUT) * 1000).toBeGreaterThan(Number(manifest.env.REQUEST_TIMEOUT_MS));
    const refused = await runContainer({
      image: web.ref,
      env: { ...manifest.env, API_TIMEOUT: '2' },
      runAsUser: manifest.runAsUser!,
      runAsGroup: manifest.runAsGroup!,
    });
    try {
      expect(await refused.exited).toBe(78);
      expect(refused.logs()).toContain(`API_TIMEOUT (2 s) must be above the API's REQUEST_TIMEOUT_MS (${manifest.env.REQUEST_TIMEOUT_MS} ms)`);
    } finally {
      await refused.remove();
    }
  });

  it("refuses a CLIENT_TIMEOUT at or below the manifest's REQUEST_TIMEOUT_MS with exit 78, naming both numbers", async () => {
    expect(Number(manifest.env.CLIENT_TIMEOUT) * 1000).toBeGreaterThan(Number(manifest.env.REQUEST_TIMEOUT_MS));
    const refused = await runContainer({
      image: web.ref,
      env: { ...manifest.env, CLIENT_TIMEOUT: '2' },
      runAsUser: manifest.runAsUser!,
      runAsGroup: manifest.runAsGroup!,
    });
    try {
      expect(await refused.exited).toBe(78);
      expect(refused.logs()).toContain(`CLIENT_TIMEOUT (2 s) must be above the API's REQUEST_TIMEOUT_MS (${manifest.env.REQUEST_TIMEOUT_MS} ms)`);
    } finally {
      await refused.remove();
    }
  });

  it('stops gracefully on its STOPSIGNAL, and neither container wrote outside /tmp', async () => {
    expect(await nginx.container.stop()).toBe(0);
    expect(nginx.container.writesOutsideTmp()).toEqual([]);
    expect(await api.container.stop()).toBe(0);
    expect(api.container.writesOutsideTmp()).toEqual([]);
    await Promise.all([nginx.stop(), api.stop()]);
  });
});
