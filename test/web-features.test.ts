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
});
