import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { startApi, type RunningApi } from './support/api';
import { launchChromium, watchProblems, type PageProblems } from './support/browser';
import { buildWeb, startNginx, tempDir, type RunningNginx } from './support/nginx';

// Keys pressed while an input method composes (Chinese, Japanese, Korean input) belong to it: Enter
// picks the candidate, Escape drops the composition. The page must neither save nor cancel then.
// The composition is made the way an IME makes it, through Chromium's input layer
// (Input.imeSetComposition), so the page sees the real compositionstart and keydown.isComposing.
let browser: Browser;
let api: RunningApi;
let nginx: RunningNginx;
let page: Page;
let cdp: CDPSession;
let problems: PageProblems;
const state = tempDir('tasks-ime-');

beforeAll(async () => {
  let dist: string;
  [dist, api, browser] = await Promise.all([buildWeb(join(state, 'dist')), startApi(), launchChromium()]);
  nginx = await startNginx({ htmlDir: dist, apiUpstream: api.url });
  page = await browser.newPage({ viewport: { width: 800, height: 640 } });
  problems = watchProblems(page);
  cdp = await page.context().newCDPSession(page);
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([nginx?.stop(), api?.stop()]);
  rmSync(state, { recursive: true, force: true });
});

const items = () => page.locator('li.task .text').allInnerTexts();
const apiTasks = async () => ((await (await fetch(`${nginx.url}/api/tasks`)).json()) as { tasks: { task: string }[] }).tasks.map((t) => t.task);
/** Starts or updates a composition in the focused field, as an IME does while the person types. */
const compose = (text: string) => cdp.send('Input.imeSetComposition', { text, selectionStart: text.length, selectionEnd: text.length });
/** Ends the composition with its text, as an IME does when a candidate is chosen. */
const commit = (text: string) => cdp.send('Input.insertText', { text });
/** The keydowns the page saw, with how the browser marked them. */
const keydowns = () => page.evaluate(() => (window as unknown as { seen: Array<{ key: string; isComposing: boolean }> }).seen.splice(0));

describe('an input method composing in Chromium', () => {
  it('Enter during a composition neither adds nor saves, and Escape does not cancel the edit', async () => {
    await page.goto(nginx.url);
    await page.getByText('No tasks yet. Add one above.').waitFor();
    await page.evaluate(() => {
      const seen: Array<{ key: string; isComposing: boolean }> = [];
      (window as unknown as { seen: typeof seen }).seen = seen;
      document.addEventListener('keydown', (e) => seen.push({ key: e.key, isComposing: e.isComposing }), true);
    });

    // New task: Japanese input, Enter while the composition is open.
    const input = page.getByLabel('New task');
    await input.focus();
    await compose('ぎゅうにゅう');
    await compose('牛乳');
    await page.keyboard.press('Enter');
    expect(await keydowns()).toEqual([{ key: 'Enter', isComposing: true }]);
    expect(await input.inputValue()).toBe('牛乳');
    await commit('牛乳');
    await page.keyboard.press('Enter');
    expect(await keydowns()).toEqual([{ key: 'Enter', isComposing: false }]);
    await expect.poll(items).toEqual(['牛乳']);
    await expect.poll(apiTasks).toEqual(['牛乳']); // one task, added once: the first Enter was the IME's
    await expect.poll(() => input.inputValue()).toBe('');

    // Edit: Korean input, Enter and then Escape while composing.
    await page.locator('li.task .text').dblclick();
    const editor = page.getByRole('textbox', { name: 'Edit task' });
    await editor.press('End');
    await keydowns();
    await compose(' 사');
    await compose(' 사요');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Escape');
    expect(await keydowns()).toEqual([
      { key: 'Enter', isComposing: true },
      { key: 'Escape', isComposing: true },
    ]);
    await expect(editor.isVisible()).resolves.toBe(true); // not cancelled
    expect(await editor.inputValue()).toBe('牛乳 사요');
    expect(await apiTasks()).toEqual(['牛乳']); // not saved half-typed
    await commit(' 사요');
    await page.keyboard.press('Enter');
    await expect.poll(items).toEqual(['牛乳 사요']);
    await expect.poll(apiTasks).toEqual(['牛乳 사요']);

    // Outside a composition Escape is the page's again: it cancels.
    await page.locator('li.task .text').dblclick();
    await editor.fill('never saved');
    await editor.press('Escape');
    await expect.poll(items).toEqual(['牛乳 사요']);
    expect(await apiTasks()).toEqual(['牛乳 사요']);
    expect(problems.list).toEqual([]);
  });
});
