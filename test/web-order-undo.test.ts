import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { webDist } from '../scripts/web-dist';
import { startApi } from './support/api';
import { axeViolations, launchChromium, seriousAxeViolations } from './support/browser';
import { npmStartWithUrl } from './support/hosts';
import { startNginx } from './support/nginx';

// Issue 19's order and undo, in Chromium: behind nginx (the image's entrypoint) in front of the
// bundled API, and under `npm start`.

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
];

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

type ApiTask = { id: number; task: string; done: boolean; position: string; version: number };

describe.each(hosts)('order and undo, %s', (_name, start) => {
  let host: Host;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    host = await start();
    context = await browser.newContext({ viewport: { width: 800, height: 640 } });
    page = await context.newPage();
  }, 180_000);
  afterAll(async () => {
    await context?.close();
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
  /** The database's list in the person's order. */
  const ordered = async () => (await api('GET', '/tasks?order=position')).tasks!;
  const orderedTexts = async () => (await ordered()).map((t) => t.task);
  const items = (p: Page = page) => p.locator('li.task .text').allInnerTexts();
  const row = (text: string, p: Page = page) => p.locator('li.task', { has: p.locator('.text', { hasText: text }) });
  const fresh = async (tasks: string[]) => {
    for (const t of await ordered()) await api('DELETE', `/tasks/${t.id}`);
    for (const task of tasks) await api('POST', '/tasks', { task });
    await page.goto('about:blank');
    await page.goto(`${host.url}/#/`);
    await expect.poll(() => items(), { timeout: 30_000 }).toEqual(tasks);
  };
  /** Records the page's writes to the API (method and path). */
  const recordWrites = (p: Page) => {
    const writes: string[] = [];
    p.on('request', (r) => {
      if (r.method() !== 'GET' && new URL(r.url()).pathname.startsWith('/api/')) writes.push(`${r.method()} ${new URL(r.url()).pathname}`);
    });
    return writes;
  };

  it('drag and drop moves a task with one write; the order is the same after a reload and in another tab', async () => {
    await fresh(['Buy bread', 'Call the bank', 'Book a table']);
    // In the same profile as `page`: tabs of one browser, which hear each other on a BroadcastChannel.
    const other = await context.newPage();
    try {
      await other.goto(`${host.url}/#/`);
      await expect.poll(() => items(other), { timeout: 30_000 }).toEqual(['Buy bread', 'Call the bank', 'Book a table']);
      const writes = recordWrites(page);
      const before = await ordered();
      // Onto the top edge of the first row: before it.
      await row('Book a table').dragTo(row('Buy bread'), { targetPosition: { x: 40, y: 2 } });
      await expect.poll(() => items()).toEqual(['Book a table', 'Buy bread', 'Call the bank']);
      await expect.poll(orderedTexts).toEqual(['Book a table', 'Buy bread', 'Call the bank']);
      expect(writes).toEqual([`PATCH /api/tasks/${before[2]!.id}`]);
      // Only the moved task changed.
      const after = await ordered();
      expect(after.find((t) => t.id === before[0]!.id)).toEqual(before[0]);
      expect(after.find((t) => t.id === before[1]!.id)).toEqual(before[1]);
      // The other tab hears of it (BroadcastChannel) and shows the same order.
      await expect.poll(() => items(other), { timeout: 30_000 }).toEqual(['Book a table', 'Buy bread', 'Call the bank']);
      await page.reload();
      await expect.poll(() => items(), { timeout: 30_000 }).toEqual(['Book a table', 'Buy bread', 'Call the bank']);
      // Onto the bottom edge of the last row: after it.
      await row('Book a table').dragTo(row('Call the bank'), { targetPosition: { x: 40, y: (await row('Call the bank').boundingBox())!.height - 2 } });
      await expect.poll(orderedTexts).toEqual(['Buy bread', 'Call the bank', 'Book a table']);
      await expect.poll(() => items(other), { timeout: 30_000 }).toEqual(['Buy bread', 'Call the bank', 'Book a table']);
    } finally {
      await other.close();
    }
  }, 120_000);

  it('Alt+ArrowUp / Alt+ArrowDown on the focused task move it, announced in the status region; focus stays', async () => {
    await fresh(['One', 'Two', 'Three']);
    const edit = row('Three').getByRole('button', { name: 'Edit' });
    await edit.focus();
    await page.keyboard.press('Alt+ArrowUp');
    await expect.poll(() => items()).toEqual(['One', 'Three', 'Two']);
    await expect.poll(() => page.locator('.status[role="status"]').innerText()).toBe('Moved “Three” to 2 of 3.');
    await page.keyboard.press('Alt+ArrowUp');
    await expect.poll(() => items()).toEqual(['Three', 'One', 'Two']);
    expect(await edit.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.press('Alt+ArrowUp');
    await expect.poll(() => page.locator('.status[role="status"]').innerText()).toBe('“Three” is already first.');
    await row('One').getByRole('checkbox').focus();
    await page.keyboard.press('Alt+ArrowDown');
    await expect.poll(() => items()).toEqual(['Three', 'Two', 'One']);
    await expect.poll(orderedTexts).toEqual(['Three', 'Two', 'One']);
    expect(await page.locator('#move-hint').innerText()).toBe('Drag a task to move it, or press Alt+↑ or Alt+↓ on it.');
    // The page asks for its own order; the API's default stays id order.
    const list = page.waitForRequest((r) => r.method() === 'GET' && new URL(r.url()).pathname === '/api/tasks');
    await page.reload();
    expect(new URL((await list).url()).search).toBe('?order=position');
    await expect.poll(() => items(), { timeout: 30_000 }).toEqual(['Three', 'Two', 'One']);
    expect(await seriousAxeViolations(page)).toEqual([]);
  }, 120_000);

  it('on a phone (touch, 390×844) Move up / Move down move a task: one write, announced, focus stays; same order after reload and in another tab', async () => {
    await fresh(['Milk', 'Eggs', 'Bread']);
    // On the desktop page (fine pointer, 800 px) the buttons are not shown: dragging and Alt+arrows are.
    expect(await page.getByRole('button', { name: 'Move “Bread” up' }).isVisible()).toBe(false);
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
    try {
      const p = await phone.newPage();
      // In the same profile as `p`: tabs of one browser, which hear each other on a BroadcastChannel.
      const other = await phone.newPage();
      await other.goto(`${host.url}/#/`);
      await p.goto(`${host.url}/#/`);
      await expect.poll(() => items(p), { timeout: 30_000 }).toEqual(['Milk', 'Eggs', 'Bread']);
      await expect.poll(() => items(other), { timeout: 30_000 }).toEqual(['Milk', 'Eggs', 'Bread']);
      expect(await p.locator('#move-hint').innerText()).toBe('Press ↑ or ↓ on a task to move it.');
      const up = p.getByRole('button', { name: 'Move “Bread” up' });
      expect(await up.isVisible()).toBe(true);
      // At the ends: disabled for assistive technology, still focusable so focus is never lost.
      expect(await p.getByRole('button', { name: 'Move “Milk” up' }).getAttribute('aria-disabled')).toBe('true');
      expect(await p.getByRole('button', { name: 'Move “Bread” down' }).getAttribute('aria-disabled')).toBe('true');
      expect(await p.getByRole('button', { name: 'Move “Eggs” up' }).getAttribute('aria-disabled')).toBeNull();

      const writes = recordWrites(p);
      const before = await ordered();
      const bread = before[2]!;
      await up.tap();
      await expect.poll(() => items(p)).toEqual(['Milk', 'Bread', 'Eggs']);
      await expect.poll(() => p.locator('.status[role="status"]').innerText()).toBe('Moved “Bread” to 2 of 3.');
      await expect.poll(orderedTexts).toEqual(['Milk', 'Bread', 'Eggs']);
      expect(writes).toEqual([`PATCH /api/tasks/${bread.id}`]);
      // Only the moved task changed.
      const after = await ordered();
      expect(after.find((t) => t.id === before[0]!.id)).toEqual(before[0]);
      expect(after.find((t) => t.id === before[1]!.id)).toEqual(before[1]);
      // Focus stays on the button pressed, though its row moved.
      await expect.poll(() => up.evaluate((el) => el === document.activeElement)).toBe(true);

      await up.tap();
      await expect.poll(() => items(p)).toEqual(['Bread', 'Milk', 'Eggs']);
      await expect.poll(orderedTexts).toEqual(['Bread', 'Milk', 'Eggs']);
      await expect.poll(() => up.getAttribute('aria-disabled')).toBe('true');
      await expect.poll(() => up.evaluate((el) => el === document.activeElement)).toBe(true);
      // At the top: said so, nothing written (aria-disabled: a tap still reaches it, so `force`).
      await up.tap({ force: true });
      await expect.poll(() => p.locator('.status[role="status"]').innerText()).toBe('“Bread” is already first.');
      expect(writes).toEqual([`PATCH /api/tasks/${bread.id}`, `PATCH /api/tasks/${bread.id}`]);
      const down = p.getByRole('button', { name: 'Move “Milk” down' });
      await down.tap();
      await expect.poll(orderedTexts).toEqual(['Bread', 'Eggs', 'Milk']);
      expect(writes).toHaveLength(3);

      await expect.poll(() => items(other), { timeout: 30_000 }).toEqual(['Bread', 'Eggs', 'Milk']);
      await p.reload();
      await expect.poll(() => items(p), { timeout: 30_000 }).toEqual(['Bread', 'Eggs', 'Milk']);
      expect(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      for (const colorScheme of ['light', 'dark'] as const) {
        await p.emulateMedia({ colorScheme });
        expect(await axeViolations(p)).toEqual([]);
      }
      // A touch screen wider than a phone (a tablet) has no fine pointer either: the buttons are there.
      await p.setViewportSize({ width: 1024, height: 768 });
      expect(await p.getByRole('button', { name: 'Move “Eggs” up' }).isVisible()).toBe(true);
    } finally {
      await phone.close();
    }
  }, 120_000);

  it('Undo within the window brings back the deleted tasks (same ids, text, done, place) once, in every tab', async () => {
    await fresh(['Water the plants', 'Pay the rent', 'Feed the cat']);
    const before = await ordered();
    await api('PATCH', `/tasks/${before[0]!.id}`, { done: true });
    await api('PATCH', `/tasks/${before[2]!.id}`, { done: true });
    await page.reload();
    await expect.poll(() => page.locator('.summary').innerText(), { timeout: 30_000 }).toBe('1 active, 2 done');
    // In the same profile as `page`: tabs of one browser, which hear each other on a BroadcastChannel.
    const other = await context.newPage();
    try {
      await other.goto(`${host.url}/#/`);
      await expect.poll(() => items(other), { timeout: 30_000 }).toEqual(['Water the plants', 'Pay the rent', 'Feed the cat']);
      const writes = recordWrites(page);
      await page.getByRole('button', { name: 'Clear done' }).click();
      const undo = page.getByRole('button', { name: 'Undo' });
      await undo.waitFor({ timeout: 30_000 });
      expect(await page.locator('.undo[role="status"]').innerText()).toContain('Deleted 2 tasks.');
      expect(await orderedTexts()).toEqual(['Pay the rent']);
      await expect.poll(() => items(other), { timeout: 30_000 }).toEqual(['Pay the rent']);
      expect(await seriousAxeViolations(page)).toEqual([]);
      await page.setViewportSize({ width: 360, height: 640 });
      expect(await seriousAxeViolations(page)).toEqual([]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      await page.setViewportSize({ width: 800, height: 640 });

      await undo.click();
      await expect.poll(() => items()).toEqual(['Water the plants', 'Pay the rent', 'Feed the cat']);
      await expect.poll(async () => (await ordered()).map(({ id, task, done, position }) => ({ id, task, done, position }))).toEqual(
        before.map(({ id, task, done, position }) => ({ id, task, done: id !== before[1]!.id, position })),
      );
      expect(writes.filter((w) => w === 'POST /api/tasks/restore')).toHaveLength(1);
      await expect.poll(() => page.getByRole('button', { name: 'Undo' }).count()).toBe(0);
      // The pressed Undo went with its bar: focus goes to the new-task field, never <body>.
      await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('new-task');
      // The tab that saw them deleted shows them again.
      await expect.poll(() => items(other), { timeout: 30_000 }).toEqual(['Water the plants', 'Pay the rent', 'Feed the cat']);
      await page.reload();
      await expect.poll(() => items(), { timeout: 30_000 }).toEqual(['Water the plants', 'Pay the rent', 'Feed the cat']);
    } finally {
      await other.close();
    }
  }, 120_000);

  it("Undo brings back the database's task, a change made elsewhere before the delete included; the next edit works", async () => {
    await fresh(['Walk the dog']);
    const [t] = await ordered();
    // Changed elsewhere after this page read it: the page's copy is stale.
    await api('PATCH', `/tasks/${t!.id}`, { task: 'Walk the dog at six' });
    await row('Walk the dog').getByRole('button', { name: 'Delete' }).click();
    // The delete met the change (412): the person deletes it anyway.
    await page.getByRole('alertdialog').getByRole('button', { name: 'Keep mine' }).click();
    const undo = page.getByRole('button', { name: 'Undo' });
    await undo.waitFor({ timeout: 30_000 });
    expect(await orderedTexts()).toEqual([]);
    const writes = recordWrites(page);
    const sent: unknown[] = [];
    page.on('request', (r) => void (r.url().endsWith('/api/tasks/restore') && sent.push(r.postDataJSON())));
    await undo.click();
    await expect.poll(() => items()).toEqual(['Walk the dog at six']);
    expect(sent).toEqual([{ tasks: [{ id: t!.id }] }]);
    expect((await ordered()).map(({ task, version }) => [task, version])).toEqual([['Walk the dog at six', 3]]);
    // A further edit from this page builds on the restored version: no conflict, written.
    await row('Walk the dog at six').getByRole('checkbox').check();
    await expect.poll(async () => (await ordered()).map(({ done, version }) => [done, version])).toEqual([[true, 4]]);
    expect(await page.getByRole('alertdialog').count()).toBe(0);
    expect(writes).toEqual(['POST /api/tasks/restore', `PATCH /api/tasks/${t!.id}`]);
  }, 120_000);

  it('after the window, or with the page closed before it ends, the delete stands', async () => {
    await fresh(['Keep me', 'Delete me']);
    await row('Delete me').getByRole('button', { name: 'Delete' }).click();
    const undo = page.getByRole('button', { name: 'Undo' });
    await undo.waitFor({ timeout: 30_000 });
    // Pointer and focus elsewhere, so the offer's time runs; it ends by itself.
    await page.mouse.move(0, 0);
    await page.locator('#new-task').focus();
    await expect.poll(() => undo.count(), { timeout: 30_000, interval: 500 }).toBe(0);
    await page.reload();
    await expect.poll(() => items(), { timeout: 30_000 }).toEqual(['Keep me']);
    expect(await orderedTexts()).toEqual(['Keep me']);

    // Closed while Undo is still offered: nothing brings the task back.
    const closing = await browser.newPage();
    await closing.goto(`${host.url}/#/`);
    await expect.poll(() => items(closing), { timeout: 30_000 }).toEqual(['Keep me']);
    await row('Keep me', closing).getByRole('button', { name: 'Delete' }).click();
    await closing.getByRole('button', { name: 'Undo' }).waitFor({ timeout: 30_000 });
    await closing.close();
    expect(await orderedTexts()).toEqual([]);
  }, 120_000);
});
