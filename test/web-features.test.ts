import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { webDist } from '../scripts/web-dist';
import { startApi } from './support/api';
import { launchChromium, seriousAxeViolations } from './support/browser';
import { npmRunDevWithUrl, npmStartWithUrl } from './support/hosts';
import { startNginx } from './support/nginx';

// Issue 19's filters in the address and toggle all, in Chromium, on every way the page is served:
// behind nginx (the image's entrypoint) in front of the bundled API, under `npm start` and under
// `npm run dev`.

interface Host {
  url: string;
  stop(): Promise<void>;
}

const hosts: [string, () => Promise<Host>][] = [
  [
    'behind nginx',
    async () => {
      const api = await startApi({ env: { PGLITE_DIR: 'memory://' } });
      const nginx = await startNginx({ htmlDir: webDist, apiUpstream: api.url }).catch(async (err) => {
        await api.stop();
        throw err;
      });
      return {
        url: nginx.url,
        async stop() {
          await nginx.stop();
          await api.stop();
        },
      };
    },
  ],
  ['under npm start', () => npmStartWithUrl()],
  ['under npm run dev', () => npmRunDevWithUrl()],
];

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

type ApiTask = { id: number; task: string; done: boolean; version?: number };

describe.each(hosts)('filters in the address and toggle all, %s', (_name, start) => {
  let host: Host;
  let page: Page;

  beforeAll(async () => {
    host = await start();
    page = await browser.newPage({ viewport: { width: 800, height: 640 } });
  }, 180_000);
  afterAll(async () => {
    await page?.close();
    await host?.stop();
  });

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${host.url}/api${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await res.json()) as { task?: ApiTask; tasks?: ApiTask[] };
  };
  const dbTasks = async () => (await api('GET', '/tasks')).tasks!;
  const items = () => page.locator('li.task .text').allInnerTexts();
  const pressed = async () => (await page.locator('[role="group"] button[aria-pressed="true"]').innerText()).replace(/\d+$/, '');
  const hash = () => page.evaluate(() => location.hash);

  it('keeps the filter across a reload, back and forward and a shared link; unknown values are All', async () => {
    for (const t of await dbTasks()) await api('DELETE', `/tasks/${t.id}`);
    const one = (await api('POST', '/tasks', { task: 'Water the plants' })).task!;
    await api('POST', '/tasks', { task: 'Pay the rent' });
    await api('PATCH', `/tasks/${one.id}`, { done: true });

    await page.goto(`${host.url}/`);
    await expect.poll(items, { timeout: 30_000 }).toEqual(['Water the plants', 'Pay the rent']);
    await page.getByRole('button', { name: 'Active', exact: true }).click();
    await expect.poll(items).toEqual(['Pay the rent']);
    expect(await hash()).toBe('#/active');
    await page.getByRole('button', { name: 'Done', exact: true }).click();
    await expect.poll(items).toEqual(['Water the plants']);
    expect(await hash()).toBe('#/done');

    await page.reload();
    await expect.poll(items, { timeout: 30_000 }).toEqual(['Water the plants']);
    expect(await pressed()).toBe('Done');

    await page.goBack();
    await expect.poll(items).toEqual(['Pay the rent']);
    expect(await hash()).toBe('#/active');
    expect(await pressed()).toBe('Active');
    await page.goBack();
    await expect.poll(items).toEqual(['Water the plants', 'Pay the rent']);
    expect(await pressed()).toBe('All');
    await page.goForward();
    await expect.poll(items).toEqual(['Pay the rent']);

    // A shared link, opened in a fresh tab.
    const other = await browser.newPage();
    try {
      await other.goto(`${host.url}/#/done`);
      await expect.poll(() => other.locator('li.task .text').allInnerTexts(), { timeout: 30_000 }).toEqual(['Water the plants']);
      // An unknown filter: All, and the address says so.
      await other.goto(`${host.url}/#/someday`);
      await other.reload();
      await expect.poll(() => other.locator('li.task .text').allInnerTexts(), { timeout: 30_000 }).toEqual(['Water the plants', 'Pay the rent']);
      expect(await other.evaluate(() => location.hash)).toBe('#/');
    } finally {
      await other.close();
    }
    expect(await seriousAxeViolations(page)).toEqual([]);
  }, 120_000);

  it('toggle all marks every task shown done in one request, then every one not done, by keyboard too', async () => {
    for (const t of await dbTasks()) await api('DELETE', `/tasks/${t.id}`);
    for (const task of ['Buy bread', 'Call the bank', 'Book a table']) await api('POST', '/tasks', { task });
    // A new document: a goto that changes only the fragment would not load the page again.
    await page.goto('about:blank');
    await page.goto(`${host.url}/#/`);
    await expect.poll(items, { timeout: 30_000 }).toEqual(['Buy bread', 'Call the bank', 'Book a table']);
    const writes: string[] = [];
    const onRequest = (r: { method(): string; url(): string }) => {
      if (r.method() !== 'GET' && new URL(r.url()).pathname.startsWith('/api/')) writes.push(`${r.method()} ${new URL(r.url()).pathname}`);
    };
    page.on('request', onRequest);
    try {
      const all = page.getByRole('checkbox', { name: 'Mark all as done' });
      const answer = page.waitForResponse((r) => r.request().method() === 'PATCH' && new URL(r.url()).pathname === '/api/tasks');
      await all.check();
      const reply = (await (await answer).json()) as { tasks: ApiTask[] };
      expect(reply.tasks.map((t) => [t.task, t.done, t.version])).toEqual([['Buy bread', true, 2], ['Call the bank', true, 2], ['Book a table', true, 2]]);
      await expect.poll(async () => (await dbTasks()).map((t) => t.done)).toEqual([true, true, true]);
      expect(writes).toEqual(['PATCH /api/tasks']);
      expect(await page.locator('.summary').innerText()).toBe('0 active, 3 done');

      // By keyboard: Space on the focused checkbox undoes them all.
      await all.focus();
      await page.keyboard.press('Space');
      await expect.poll(async () => (await dbTasks()).map((t) => t.done)).toEqual([false, false, false]);
      expect(await all.isChecked()).toBe(false);

      // Under a filter only the tasks shown change.
      await page.getByRole('checkbox', { name: 'Call the bank' }).check();
      await expect.poll(async () => (await dbTasks()).filter((t) => t.done).length).toBe(1);
      await page.getByRole('button', { name: 'Active', exact: true }).click();
      await expect.poll(items).toEqual(['Buy bread', 'Book a table']);
      // click, not check: once they are done the Active list is empty and the control goes with it.
      await all.click();
      await expect.poll(async () => (await dbTasks()).map((t) => t.done)).toEqual([true, true, true]);
      await expect.poll(items).toEqual([]);
      // The focused control went with the list: focus goes to the new-task field, never <body>.
      await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('new-task');
      expect(writes.filter((w) => w === 'PATCH /api/tasks')).toHaveLength(3);
      expect(writes.filter((w) => w !== 'PATCH /api/tasks')).toEqual(['PATCH /api/tasks/' + (await dbTasks())[1]!.id]);

      await page.reload();
      await page.getByRole('button', { name: 'All', exact: true }).click();
      await expect.poll(() => page.getByRole('checkbox', { name: 'Mark all as done' }).isChecked(), { timeout: 30_000 }).toBe(true);
      expect(await seriousAxeViolations(page)).toEqual([]);
      await page.setViewportSize({ width: 360, height: 640 });
      expect(await seriousAxeViolations(page)).toEqual([]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      await page.setViewportSize({ width: 800, height: 640 });
    } finally {
      page.off('request', onRequest);
    }
  }, 120_000);

  it('under Active, ticking the focused task by keyboard gives focus to the next row, then the previous, then the new-task field', async () => {
    for (const t of await dbTasks()) await api('DELETE', `/tasks/${t.id}`);
    for (const task of ['Buy bread', 'Call the bank', 'Book a table']) await api('POST', '/tasks', { task });
    await page.goto('about:blank');
    await page.goto(`${host.url}/#/active`);
    await expect.poll(items, { timeout: 30_000 }).toEqual(['Buy bread', 'Call the bank', 'Book a table']);
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('aria-labelledby') ?? document.activeElement?.id);
    const box = (name: string) => page.getByRole('checkbox', { name, exact: true });
    const idOf = async (name: string) => (await box(name).getAttribute('aria-labelledby'))!;
    const [bank, table] = [await idOf('Call the bank'), await idOf('Book a table')];
    await box('Buy bread').focus();
    await page.keyboard.press('Space');
    await expect.poll(items).toEqual(['Call the bank', 'Book a table']);
    await expect.poll(focused).toBe(bank);
    await page.keyboard.press('Space');
    await expect.poll(items).toEqual(['Book a table']);
    await expect.poll(focused).toBe(table);
    await page.keyboard.press('Space');
    await expect.poll(items).toEqual([]);
    await expect.poll(focused).toBe('new-task');
    await expect.poll(async () => (await dbTasks()).map((t) => t.done)).toEqual([true, true, true]);
  }, 120_000);
});
