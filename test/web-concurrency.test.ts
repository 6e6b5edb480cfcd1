import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { webDist } from '../scripts/web-dist';
import { startApi, type RunningApi } from './support/api';
import { axeViolations, launchChromium, seriousAxeViolations } from './support/browser';
import { npmStartWithUrl } from './support/hosts';
import { startNginx, type RunningNginx } from './support/nginx';

// Concurrent answers, other tabs and lost updates in Chromium, as a person meets them, with answers held back on the wire
// (Playwright's route): the page must end equal to the database. Behind nginx (the image's
// entrypoint) in front of the bundled API, and under `npm start`.

interface Host {
  url: string;
  stop(): Promise<void>;
}

const hosts: [string, () => Promise<Host>][] = [
  [
    'behind nginx',
    async () => {
      const api: RunningApi = await startApi({ env: { PGLITE_DIR: 'memory://' } });
      const nginx: RunningNginx = await startNginx({ htmlDir: webDist, apiUpstream: api.url }).catch(async (err) => {
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
];

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

type ApiTask = { id: number; task: string; done: boolean; version?: number };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(hosts)('the page and the database agree, %s', (_name, start) => {
  let host: Host;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    host = await start();
  }, 120_000);
  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
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
  const clearDb = async () => {
    for (const t of await dbTasks()) await api('DELETE', `/tasks/${t.id}`);
  };

  /** A tab in its own browser profile (no BroadcastChannel to the others) or in `context`. */
  async function tab(context?: BrowserContext): Promise<Page> {
    const ctx = context ?? (await browser.newContext());
    if (!context) contexts.push(ctx);
    const page = await ctx.newPage();
    await page.goto(host.url);
    await page.locator('main .placeholder, li.task').first().waitFor();
    return page;
  }
  const shown = (page: Page) => page.locator('li.task .text').allInnerTexts();
  /** What the page shows as (text, done), in order: compared with the database. */
  const pageState = (page: Page) =>
    page.locator('li.task').evaluateAll((lis) =>
      lis.map((li) => ({ task: li.querySelector('.text')!.textContent!.trim(), done: li.classList.contains('done') })),
    );
  const dbState = async () => (await dbTasks()).map(({ task, done }) => ({ task, done }));

  /** Holds back the answer to the first request `match` picks by `ms`, after the server has acted on it. */
  async function delayFirst(page: Page, match: (method: string, url: string) => boolean, ms: number) {
    let used = false;
    const handler = async (route: Route) => {
      const request = route.request();
      if (used || !match(request.method(), request.url())) return route.fallback();
      used = true;
      const response = await route.fetch();
      await sleep(ms);
      await route.fulfill({ response });
    };
    await page.route('**/api/**', handler);
    return () => page.unroute('**/api/**', handler);
  }

  it('tick, then untick 300 ms later while the first answer is late: not done, on the page and in the database', async () => {
    await clearDb();
    await api('POST', '/tasks', { task: 'Water the plants' });
    const page = await tab();
    const box = page.getByRole('checkbox', { name: 'Water the plants' });
    const undelay = await delayFirst(page, (method) => method === 'PATCH', 1500);
    await box.check();
    await sleep(300);
    await box.uncheck();
    await expect.poll(async () => (await dbTasks())[0]?.done, { timeout: 15_000 }).toBe(false);
    // Every answer in: the box stays as the person left it and as the database has it.
    await sleep(2000);
    expect(await box.isChecked()).toBe(false);
    expect(await pageState(page)).toEqual(await dbState());
    await undelay();
  });

  it('Retry on a failed list load while an add is in flight: the task once, right counts, no ghost after delete', async () => {
    await clearDb();
    await api('POST', '/tasks', { task: 'Already here' });
    const ctx = await browser.newContext();
    contexts.push(ctx);
    const page = await ctx.newPage();
    let failList = true;
    await page.route((url) => url.pathname === '/api/tasks', async (route) => {
      if (route.request().method() === 'GET' && failList) {
        return route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ success: false, message: 'Database down for a moment', code: 'internal_error' }) });
      }
      return route.fallback();
    });
    await page.goto(host.url);
    await page.getByText('Couldn’t load your tasks').waitFor();
    await delayFirst(page, (method) => method === 'POST', 2500);
    await page.getByLabel('New task').fill('Added while it failed');
    await page.getByLabel('New task').press('Enter');
    // The add is in the database; its answer is still on the wire when the person presses Retry.
    await expect.poll(async () => (await dbTasks()).length, { timeout: 10_000 }).toBe(2);
    failList = false;
    await page.getByRole('button', { name: 'Retry' }).click();
    await expect.poll(() => shown(page), { timeout: 15_000 }).toEqual(['Already here', 'Added while it failed']);
    await sleep(3000); // the late answer has arrived
    expect(await shown(page)).toEqual(['Already here', 'Added while it failed']);
    expect(await page.locator('.summary').innerText()).toBe('2 active, 0 done');
    await page.locator('li.task', { hasText: 'Added while it failed' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(dbState).toEqual([{ task: 'Already here', done: false }]);
    await sleep(500);
    expect(await pageState(page)).toEqual(await dbState());
  });

  it('a task deleted in another tab: editing or deleting it here removes it, says so, and never brings it back', async () => {
    await clearDb();
    await api('POST', '/tasks', { task: 'Toggle me' });
    await api('POST', '/tasks', { task: 'Delete me' });
    await api('POST', '/tasks', { task: 'Keep me' });
    const here = await tab();
    const there = await tab();
    for (const text of ['Toggle me', 'Delete me']) {
      await there.locator('li.task', { hasText: text }).getByRole('button', { name: 'Delete' }).click();
    }
    await expect.poll(async () => (await dbTasks()).map((t) => t.task)).toEqual(['Keep me']);
    // This tab was not reloaded and is in another profile: it still shows both.
    expect(await shown(here)).toEqual(['Toggle me', 'Delete me', 'Keep me']);
    await here.getByRole('checkbox', { name: 'Toggle me' }).click();
    await here.getByText('“Toggle me” was deleted elsewhere').waitFor();
    await here.locator('li.task', { hasText: 'Delete me' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => shown(here)).toEqual(['Keep me']);
    await sleep(1000);
    expect(await shown(here)).toEqual(['Keep me']);
    await here.reload();
    await expect.poll(() => shown(here)).toEqual(['Keep me']);
    expect(await pageState(here)).toEqual(await dbState());
  });

  it('a double-click on Add makes one task and no “A task needs some text.”', async () => {
    await clearDb();
    const page = await tab();
    await page.getByLabel('New task').fill('Only once');
    await page.getByRole('button', { name: 'Add', exact: true }).dblclick();
    await expect.poll(async () => (await dbTasks()).map((t) => t.task)).toEqual(['Only once']);
    await sleep(500);
    expect(await page.getByText('A task needs some text.').count()).toBe(0);
    expect(await shown(page)).toEqual(['Only once']);
  });

  it('two tabs of one browser: a change in one shows in the other without a reload', async () => {
    await clearDb();
    const ctx = await browser.newContext();
    contexts.push(ctx);
    const one = await tab(ctx);
    const two = await tab(ctx);
    await one.getByLabel('New task').fill('Seen in both');
    await one.getByLabel('New task').press('Enter');
    await expect.poll(() => shown(two), { timeout: 10_000 }).toEqual(['Seen in both']);
    await two.getByRole('checkbox', { name: 'Seen in both' }).check();
    await expect.poll(() => pageState(one), { timeout: 10_000 }).toEqual([{ task: 'Seen in both', done: true }]);
    expect(await pageState(one)).toEqual(await dbState());
  });

  it('two tabs of one browser: an editor open while the other tab renames is asked (412), never overwrites', async () => {
    await clearDb();
    await api('POST', '/tasks', { task: 'Book the hotel' });
    const ctx = await browser.newContext();
    contexts.push(ctx);
    const a = await tab(ctx);
    const b = await tab(ctx);
    await b.locator('li.task .text').dblclick();
    const editor = b.getByRole('textbox', { name: 'Edit task' });
    await editor.fill('Book the hotel in Oslo');
    await a.locator('li.task .text').dblclick();
    await a.getByRole('textbox', { name: 'Edit task' }).fill('Book the hotel in Rome');
    await a.getByRole('textbox', { name: 'Edit task' }).press('Enter');
    await expect.poll(async () => (await dbTasks())[0]?.task).toBe('Book the hotel in Rome');
    // B hears of it (BroadcastChannel) and reloads its list under the open editor.
    await b.evaluate(() => window.dispatchEvent(new Event('focus')));
    await expect.poll(() => b.locator('li.task').getAttribute('class')).toContain('editing');
    await editor.press('Enter');
    const dialog = b.getByRole('alertdialog', { name: 'Changed elsewhere' });
    await dialog.waitFor({ timeout: 10_000 });
    expect(await dialog.innerText()).toContain('It is now “Book the hotel in Rome”');
    expect(await dialog.innerText()).toContain('yours: “Book the hotel in Oslo”');
    expect((await dbTasks())[0]?.task).toBe('Book the hotel in Rome'); // nothing overwritten
    await dialog.getByRole('button', { name: 'Take theirs' }).click();
    await expect.poll(() => shown(b)).toEqual(['Book the hotel in Rome']);
    expect((await dbTasks()).map((t) => t.task)).toEqual(['Book the hotel in Rome']);
    for (const page of [a, b]) await expect.poll(() => pageState(page)).toEqual(await dbState());
  });

  it('two tabs of one browser: a task deleted in one under the other’s open editor says so and keeps the typed text', async () => {
    await clearDb();
    await api('POST', '/tasks', { task: 'Call the bank' });
    await api('POST', '/tasks', { task: 'Water the plants' });
    const ctx = await browser.newContext();
    contexts.push(ctx);
    const a = await tab(ctx);
    const b = await tab(ctx);
    await b.locator('li.task .text', { hasText: 'Call the bank' }).dblclick();
    await b.getByRole('textbox', { name: 'Edit task' }).fill('Call the bank about the card');
    await a.locator('li.task', { hasText: 'Call the bank' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(async () => (await dbTasks()).map((t) => t.task)).toEqual(['Water the plants']);
    // The other tab's message reloads B's list: the row goes, the typed text stays, and it says why.
    await b.getByText('“Call the bank” was deleted elsewhere').waitFor({ timeout: 10_000 });
    expect(await shown(b)).toEqual(['Water the plants']);
    const field = b.getByLabel('New task');
    expect(await field.inputValue()).toBe('Call the bank about the card');
    expect(await b.evaluate(() => document.activeElement?.id)).toBe('new-task');
    await field.press('Enter');
    await expect.poll(async () => (await dbTasks()).map((t) => t.task)).toEqual(['Water the plants', 'Call the bank about the card']);
  });

  it('two browser profiles: saving an edit to a task the other deleted says so and keeps the typed text', async () => {
    await clearDb();
    await api('POST', '/tasks', { task: 'Renew the passport' });
    await api('POST', '/tasks', { task: 'Pay the rent' });
    const here = await tab();
    const there = await tab();
    await here.locator('li.task .text', { hasText: 'Renew the passport' }).dblclick();
    const editor = here.getByRole('textbox', { name: 'Edit task' });
    await editor.fill('Renew the passport before May');
    await there.locator('li.task', { hasText: 'Renew the passport' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(async () => (await dbTasks()).map((t) => t.task)).toEqual(['Pay the rent']);
    // No message reaches another profile: the save itself learns it (404).
    await editor.press('Enter');
    await here.getByText('“Renew the passport” was deleted elsewhere').waitFor({ timeout: 10_000 });
    await expect.poll(() => shown(here)).toEqual(['Pay the rent']);
    const field = here.getByLabel('New task');
    expect(await field.inputValue()).toBe('Renew the passport before May');
    expect(await here.evaluate(() => document.activeElement?.id)).toBe('new-task');
    await field.press('Enter');
    await expect.poll(async () => (await dbTasks()).map((t) => t.task)).toEqual(['Pay the rent', 'Renew the passport before May']);
    await expect.poll(() => pageState(here)).toEqual(await dbState());
  });

  it('two tabs of one browser: the other marking the edited task done under Active keeps the editor open; the save lands', async () => {
    await clearDb();
    await api('POST', '/tasks', { task: 'Send the invoice' });
    await api('POST', '/tasks', { task: 'Book the dentist' });
    const ctx = await browser.newContext();
    contexts.push(ctx);
    const a = await tab(ctx);
    const b = await tab(ctx);
    await b.getByRole('button', { name: /^Active/ }).click();
    await b.locator('li.task .text', { hasText: 'Send the invoice' }).dblclick();
    const editor = b.getByRole('textbox', { name: 'Edit task' });
    await editor.fill('Send the invoice to Ana');
    await a.getByRole('checkbox', { name: 'Send the invoice' }).check();
    await expect.poll(async () => (await dbTasks()).find((t) => t.task === 'Send the invoice')?.done).toBe(true);
    // B hears of it and reloads its list: the editor stays, with the typed text.
    await b.evaluate(() => window.dispatchEvent(new Event('focus')));
    await expect.poll(() => b.getByRole('button', { name: /^Done/ }).innerText()).toContain('1');
    expect(await editor.inputValue()).toBe('Send the invoice to Ana');
    await editor.press('Enter');
    await expect.poll(async () => (await dbTasks()).map(({ task, done }) => ({ task, done }))).toEqual([
      { task: 'Send the invoice to Ana', done: true },
      { task: 'Book the dentist', done: false },
    ]);
    await expect.poll(() => shown(b)).toEqual(['Book the dentist']);
    expect(await b.getByRole('alertdialog').count()).toBe(0);
    // The row left the list with the editor: focus goes to the next row, never <body>.
    await expect.poll(() => b.evaluate(() => document.activeElement?.closest('li')?.querySelector('.text')?.textContent)).toBe('Book the dentist');
  });

  /** Holds the first request `match` picks before it reaches the API, until `release()`. */
  async function holdFirst(page: Page, match: (method: string, url: string) => boolean) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const held = new Promise<void>((resolve) => (arrived = resolve));
    let used = false;
    const handler = async (route: Route) => {
      const request = route.request();
      if (used || !match(request.method(), request.url())) return route.fallback();
      used = true;
      arrived();
      await released;
      await route.fallback();
    };
    await page.route('**/api/**', handler);
    return { held, release, stop: () => page.unroute('**/api/**', handler) };
  }

  it('several changes in flight meet a change made elsewhere: the question names them all, axe finds no violation, the keyboard answers it both ways', async () => {
    await clearDb();
    const { task } = await api('POST', '/tasks', { task: 'Book the hotel' });
    const page = await tab();
    const writes: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'PATCH') writes.push(`${r.headers()['if-match']} ${r.postData()}`);
    });
    /** By keyboard: Edit, type, Enter; then Space on the checkbox while the edit is on its way; meanwhile another tab renames it. */
    const editThenTick = async (text: string, elsewhere: string) => {
      const hold = await holdFirst(page, (method) => method === 'PATCH');
      await page.locator('li.task').getByRole('button', { name: 'Edit' }).focus();
      await page.keyboard.press('Enter');
      await page.keyboard.press('ControlOrMeta+a');
      await page.keyboard.type(text);
      await page.keyboard.press('Enter');
      await hold.held;
      await page.locator('li.task').getByRole('checkbox').focus();
      await page.keyboard.press('Space');
      await api('PATCH', `/tasks/${task!.id}`, { task: elsewhere });
      hold.release();
      const dialog = page.getByRole('alertdialog', { name: 'Changed elsewhere' });
      await dialog.waitFor({ timeout: 10_000 });
      await hold.stop();
      return dialog;
    };

    const first = await editThenTick('Book the hotel in Rome', 'Book the hotel in Oslo');
    expect(await first.innerText()).toContain('It is now “Book the hotel in Oslo”, not done; yours: “Book the hotel in Rome”, done (2 changes).');
    expect(await axeViolations(page)).toEqual([]);
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Keep mine');
    // Take theirs by keyboard: both changes go, nothing more is written.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Take theirs');
    await page.keyboard.press('Space');
    await first.waitFor({ state: 'detached' });
    await expect.poll(() => pageState(page)).toEqual([{ task: 'Book the hotel in Oslo', done: false }]);
    expect(await pageState(page)).toEqual(await dbState());
    expect(writes).toEqual(['"1" {"task":"Book the hotel in Rome"}']);
    expect(await page.evaluate(() => document.activeElement?.tagName)).not.toBe('BODY');

    writes.length = 0;
    const second = await editThenTick('Book the hotel in Rome', 'Book the hotel in Paris');
    expect(await second.innerText()).toContain('yours: “Book the hotel in Rome”, done (2 changes).');
    expect(await axeViolations(page)).toEqual([]);
    // Keep mine by keyboard: one write with both changes, on the version now current.
    await page.keyboard.press('Enter');
    await expect.poll(dbState).toEqual([{ task: 'Book the hotel in Rome', done: true }]);
    await expect.poll(() => pageState(page)).toEqual(await dbState());
    expect(writes).toEqual(['"2" {"task":"Book the hotel in Rome"}', '"3" {"task":"Book the hotel in Rome","done":true}']);
    expect(await page.evaluate(() => document.activeElement?.tagName)).not.toBe('BODY');
  });

  it('two tabs edit one task: the later one is asked (no lost update), keeps their own by keyboard, and both end equal to the database', async () => {
    await clearDb();
    await api('POST', '/tasks', { task: 'Plan the trip' });
    const first = await tab();
    const second = await tab();
    const rename = async (page: Page, text: string) => {
      await page.locator('li.task .text').dblclick();
      const editor = page.getByRole('textbox', { name: 'Edit task' });
      await editor.fill(text);
      await editor.press('Enter');
    };
    await rename(first, 'Plan the trip to Rome');
    await expect.poll(async () => (await dbTasks())[0]?.task).toBe('Plan the trip to Rome');
    await rename(second, 'Plan the trip to Oslo');
    const dialog = second.getByRole('alertdialog', { name: 'Changed elsewhere' });
    await dialog.waitFor({ timeout: 10_000 });
    expect(await dialog.innerText()).toContain('It is now “Plan the trip to Rome”');
    expect(await dialog.innerText()).toContain('yours: “Plan the trip to Oslo”');
    expect((await dbTasks())[0]?.task).toBe('Plan the trip to Rome'); // nothing overwritten
    expect(await seriousAxeViolations(second)).toEqual([]);
    // Focus is on the question; the keyboard answers it.
    expect(await second.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Keep mine');
    await second.keyboard.press('Enter');
    await expect.poll(async () => (await dbTasks())[0]?.task).toBe('Plan the trip to Oslo');
    await expect.poll(() => shown(second)).toEqual(['Plan the trip to Oslo']);
    expect(await second.evaluate(() => document.activeElement?.tagName)).not.toBe('BODY');
    // The first tab catches up when it is looked at again.
    await first.evaluate(() => window.dispatchEvent(new Event('focus')));
    await expect.poll(() => shown(first)).toEqual(['Plan the trip to Oslo']);
    for (const page of [first, second]) expect(await pageState(page)).toEqual(await dbState());
  });
});
