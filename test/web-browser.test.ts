import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startApi, type RunningApi } from './support/api';
import { launchChromium, seriousAxeViolations, watchProblems, type PageProblems } from './support/browser';
import { buildWeb, startNginx, tempDir, type RunningNginx } from './support/nginx';

// The built SPA behind the real nginx (the image's entrypoint) and the bundled API on PGlite.
let browser: Browser;
let api: RunningApi | undefined;
let flagsApi: RunningApi;
let nginx: RunningNginx;
let flagsNginx: RunningNginx;
let page: Page;
let problems: PageProblems;

const state = tempDir('tasks-browser-');
const tokenFile = join(state, 'internal-token');
writeFileSync(tokenFile, 'browser-test-token\n');
// A data directory, not memory://, so tasks survive a reload and an API restart.
const apiEnv = { PGLITE_DIR: join(state, 'pglite'), INTERNAL_TOKEN_FILE: tokenFile };

beforeAll(async () => {
  let dist: string;
  [dist, api, flagsApi, browser] = await Promise.all([
    buildWeb(join(state, 'dist')),
    startApi({ env: apiEnv }),
    startApi({ env: { FEATURE_EDIT_TASK: 'false', FEATURE_DELETE_TASK: 'false' } }),
    launchChromium(),
  ]);
  [nginx, flagsNginx] = await Promise.all([
    startNginx({ htmlDir: dist, apiUpstream: api.url, env: { INTERNAL_TOKEN_FILE: tokenFile, APP_VERSION: '1.0.0-test' } }),
    startNginx({ htmlDir: dist, apiUpstream: flagsApi.url, env: { FEATURE_EDIT_TASK: 'false', FEATURE_DELETE_TASK: 'false' } }),
  ]);
  page = await browser.newPage({ viewport: { width: 800, height: 640 } });
  problems = watchProblems(page);
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([nginx?.stop(), flagsNginx?.stop(), api?.stop(), flagsApi?.stop()]);
  rmSync(state, { recursive: true, force: true });
});

const items = () => page.locator('li.task .text').allInnerTexts();
const row = (text: string) => page.locator('li.task', { has: page.getByText(text, { exact: true }) });
const focused = () => page.evaluate(() => ({ id: document.activeElement?.id, text: document.activeElement?.textContent?.trim() }));
const apiTasks = async () =>
  ((await (await fetch(`${nginx.url}/api/tasks`)).json()) as { tasks: { task: string; done: boolean }[] }).tasks;

describe('the task page in Chromium, behind nginx', () => {
  it('adds, edits, toggles, filters and deletes, and keeps it all across a reload', async () => {
    await page.goto(nginx.url);
    await page.getByText('No tasks yet. Add one above.').waitFor();
    await expect.poll(() => page.locator('footer').innerText()).toMatch(/^App 1\.0\.0-test · API \S+/);

    const input = page.getByLabel('New task');
    for (const text of ['Buy oat milk', 'Write the report', 'Call Sam']) {
      await input.fill(text);
      await input.press('Enter');
    }
    await expect.poll(items).toEqual(['Buy oat milk', 'Write the report', 'Call Sam']);
    expect(await focused()).toMatchObject({ id: 'new-task' });
    await expect.poll(async () => (await apiTasks()).length).toBe(3);

    // Edit in place: double-click, Enter saves and focus returns to the row's Edit button.
    await row('Write the report').locator('.text').dblclick();
    const editor = page.getByRole('textbox', { name: 'Edit task' });
    await editor.fill('Write the quarterly report');
    await editor.press('Enter');
    await expect.poll(items).toEqual(['Buy oat milk', 'Write the quarterly report', 'Call Sam']);
    expect(await focused()).toMatchObject({ text: 'Edit' });

    // The Edit button, then Escape, changes nothing.
    await row('Call Sam').getByRole('button', { name: 'Edit', exact: true }).click();
    await editor.fill('Call nobody');
    await editor.press('Escape');
    await expect.poll(items).toEqual(['Buy oat milk', 'Write the quarterly report', 'Call Sam']);

    await page.getByRole('checkbox', { name: 'Buy oat milk' }).check();
    await expect.poll(async () => (await apiTasks()).find((t) => t.task === 'Buy oat milk')?.done).toBe(true);

    await page.getByRole('button', { name: 'Active', exact: true }).click();
    await expect.poll(items).toEqual(['Write the quarterly report', 'Call Sam']);
    await page.getByRole('button', { name: 'Done', exact: true }).click();
    await expect.poll(items).toEqual(['Buy oat milk']);
    await page.getByRole('button', { name: 'All', exact: true }).click();
    expect(await page.locator('.summary').innerText()).toBe('2 active, 1 done');

    // Delete moves focus to the next row instead of dropping it on <body>.
    await row('Write the quarterly report').getByRole('button', { name: 'Delete', exact: true }).click();
    await expect.poll(items).toEqual(['Buy oat milk', 'Call Sam']);
    expect(await focused()).toMatchObject({ id: expect.stringMatching(/^task-\d+-done$/) });
    await expect.poll(async () => (await apiTasks()).map((t) => t.task)).toEqual(['Buy oat milk', 'Call Sam']);

    await page.reload();
    await expect.poll(items).toEqual(['Buy oat milk', 'Call Sam']);
    expect(await page.getByRole('checkbox', { name: 'Buy oat milk' }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: 'Call Sam' }).isChecked()).toBe(false);
  });

  it('has no serious or critical axe-core violations, light and dark, desktop and phone', async () => {
    mkdirSync('test-results', { recursive: true });
    for (const colorScheme of ['light', 'dark'] as const) {
      for (const width of [800, 360]) {
        await page.emulateMedia({ colorScheme });
        await page.setViewportSize({ width, height: 640 });
        await page.locator('li.task').first().waitFor();
        expect(await seriousAxeViolations(page), `${colorScheme} ${width}px`).toEqual([]);
        // Nothing may stick out sideways at phone width.
        expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
        await page.screenshot({ path: `test-results/web-app-${colorScheme}-${width}.png`, fullPage: true });
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 800, height: 640 });
    // Visible focus: keyboard focus draws an outline.
    await page.getByLabel('New task').focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).toBe('solid');
    // No console errors, exceptions or CSP violations so far.
    expect(problems.list).toEqual([]);
  });

  it('hides edit and delete when the flags are off, and the API refuses them with 403', async () => {
    const flagsPage = await browser.newPage();
    try {
      await flagsPage.goto(flagsNginx.url);
      const input = flagsPage.getByLabel('New task');
      await input.fill('Read-only world');
      await input.press('Enter');
      await flagsPage.locator('li.task').first().waitFor();
      await expect.poll(() => flagsPage.evaluate(() => fetch('/api/tasks').then((r) => r.json()).then((b) => b.tasks.length))).toBe(1);
      expect(await flagsPage.getByRole('checkbox').count()).toBe(0);
      expect(await flagsPage.getByRole('button', { name: 'Edit', exact: true }).count()).toBe(0);
      expect(await flagsPage.getByRole('button', { name: 'Delete', exact: true }).count()).toBe(0);
      await flagsPage.locator('li.task .text').dblclick();
      expect(await flagsPage.getByRole('textbox', { name: 'Edit task' }).count()).toBe(0);

      const answers = await flagsPage.evaluate(async () => {
        const { tasks } = await (await fetch('/api/tasks')).json();
        const id = tasks[0].id;
        const send = async (method: string, body?: object) => {
          const res = await fetch(`/api/tasks/${id}`, { method, headers: { 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
          return { status: res.status, code: (await res.json()).code };
        };
        return [await send('PATCH', { done: true }), await send('PUT', { task: 'x' }), await send('DELETE')];
      });
      expect(answers).toEqual([
        { status: 403, code: 'feature_disabled' },
        { status: 403, code: 'feature_disabled' },
        { status: 403, code: 'feature_disabled' },
      ]);
    } finally {
      await flagsPage.close();
    }
  });

  it('says the API is waking up while it is down, and recovers when it returns, reads and writes', async () => {
    await api!.stop();
    const port = api!.port;
    api = undefined;

    // A reload while the API is down: reads keep retrying and the page says why it waits.
    await page.reload();
    await page.getByText('Waking up the API…').waitFor({ timeout: 5000 });
    api = await startApi({ env: apiEnv, port, readyTimeoutMs: 30_000 });
    await expect.poll(items, { timeout: 20_000 }).toEqual(['Buy oat milk', 'Call Sam']);
    await page.getByText('Waking up the API…').waitFor({ state: 'detached' });

    // A write while the API is down carries an Idempotency-Key, so the page keeps trying it with
    // that key (up to 20 s) instead of rolling back, and it lands once when the API returns.
    await api.stop();
    api = undefined;
    const input = page.getByLabel('New task');
    await input.fill('Written while down');
    await input.press('Enter');
    await page.getByText('Waking up the API…').waitFor({ timeout: 5000 });
    expect(await items()).toEqual(['Buy oat milk', 'Call Sam', 'Written while down']);
    expect(await input.inputValue()).toBe('');
    api = await startApi({ env: apiEnv, port, readyTimeoutMs: 15_000 });
    await page.getByText('Waking up the API…').waitFor({ state: 'detached', timeout: 20_000 });
    expect(await page.getByRole('alert').count()).toBe(0);
    await expect.poll(async () => (await apiTasks()).map((t) => t.task)).toEqual(['Buy oat milk', 'Call Sam', 'Written while down']);
    await page.reload();
    await expect.poll(items).toEqual(['Buy oat milk', 'Call Sam', 'Written while down']);
  });
});
