import { rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createApiClient, newIdempotencyKey } from '../../web/src/api/client';
import { startApi, type RunningApi } from '../support/api';
import { launchChromium, watchProblems } from '../support/browser';
import { buildWeb, startNginx, tempDir, type RunningNginx } from '../support/nginx';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

/**
 * A write that stalls past nginx's proxy timeout, then commits: the case that used to double a
 * task (504 to the page, row saved, Retry wrote it again). The stall is a table lock held by the
 * test, so the first try is still running inside the API when nginx and the page try again.
 * The bundled API on the machine's PostgreSQL, the image's nginx with API_TIMEOUT=1.
 */
const STALL_MS = 3000;
const state = tempDir('tasks-stall-');
let database: TestDatabase;
let api: RunningApi;
let nginx: RunningNginx;
let browser: Browser | undefined;
let admin: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase('tasks_stall');
  let dist: string;
  [dist, api] = await Promise.all([
    buildWeb(join(state, 'dist')),
    startApi({ env: { DATABASE_URL: database.url, MIGRATE_ON_START: 'true', DB_DRIVER: 'pg' } }),
  ]);
  // Misordered on purpose (nginx's 1 s below the API's 15 s budget), the case the entrypoint refuses
  // in the image: it is told a shorter API budget so that it starts.
  nginx = await startNginx({ htmlDir: dist, apiUpstream: api.url, env: { API_TIMEOUT: '1', REQUEST_TIMEOUT_MS: '500' } });
  admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
});

afterAll(async () => {
  await browser?.close();
  await admin?.end().catch(() => undefined);
  await Promise.all([nginx?.stop(), api?.stop()]);
  await database?.drop();
  rmSync(state, { recursive: true, force: true });
});

/** Holds main_table against writes for `ms`, like a long transaction elsewhere; `released` settles after. */
async function stallWrites(ms: number): Promise<{ released: Promise<void> }> {
  await admin.query('BEGIN');
  await admin.query('LOCK TABLE main_table IN EXCLUSIVE MODE');
  return { released: new Promise((resolve, reject) => setTimeout(() => admin.query('COMMIT').then(() => resolve(), reject), ms)) };
}
const rows = async (task: string) => (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM main_table WHERE task = $1', [task])).rows[0]!.n;
/** Status codes the API logged for POST /api/tasks since `from` (an offset into its log). */
const postStatuses = (from: number) =>
  api
    .logs()
    .slice(from)
    .split('\n')
    .filter((l) => l.includes('"method":"POST"') && l.includes('"route":"/api/tasks"'))
    .map((l) => (JSON.parse(l) as { status: number }).status);

describe('a write stalled past the nginx timeout', () => {
  it('without a key: 504 to the client while the row is saved anyway (why the page now sends one)', async () => {
    const { released } = await stallWrites(STALL_MS);
    const res = await fetch(`${nginx.url}/api/tasks`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"task":"unkeyed stall"}' });
    expect(res.status).toBe(504);
    expect((await res.json()).code).toBe('api_timeout');
    await released;
    await expect.poll(() => rows('unkeyed stall')).toBe(1);
    // Its log line too, so the next test counts only its own tries.
    await expect.poll(() => postStatuses(0)).toEqual([201]);
  });

  it("with the page's client: nginx and the page retry with the same key, exactly one row", async () => {
    const client = createApiClient({ baseUrl: `${nginx.url}/api`, retryForMs: 20_000 });
    const logFrom = api.logs().length;
    const started = Date.now();
    const { released } = await stallWrites(STALL_MS);
    const reply = await client.request<{ task: { id: number; task: string } }>('POST', '/tasks', { task: 'keyed stall' }, { idempotencyKey: newIdempotencyKey() });
    const ms = Date.now() - started;
    await released;
    expect(reply.task.task).toBe('keyed stall');
    expect(await rows('keyed stall')).toBe(1);
    // The first try outlived nginx's 1 s timeout; its repeats met 409 until it committed, then got its answer.
    expect(ms).toBeGreaterThanOrEqual(STALL_MS - 100);
    // The first try and the replay both answered 201 (log lines arrive over a pipe: wait for them).
    await expect.poll(() => postStatuses(logFrom).filter((s) => s === 201).length).toBeGreaterThanOrEqual(2);
    const statuses = postStatuses(logFrom);
    expect(statuses).toContain(409);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(nginx.errorLog()).toContain('upstream timed out');
    console.log(`stalled keyed write: answered after ${ms} ms, ${statuses.length} tries reached the API (${statuses.join(', ')}), 1 row`);
  });

  it('in Chromium: adding a task during the stall shows it once and saves it once', async () => {
    browser = await launchChromium();
    const page = await browser.newPage();
    const problems = watchProblems(page);
    await page.goto(nginx.url);
    await page.locator('.empty, li.task').first().waitFor();
    const logFrom = api.logs().length;
    const { released } = await stallWrites(STALL_MS);
    const input = page.getByLabel('New task');
    await input.fill('Added during a stall');
    await input.press('Enter');
    // While the first try is held, the page says it is waiting instead of rolling back.
    await page.getByText('Waking up the API…').waitFor({ timeout: 5000 });
    await released;
    await page.getByText('Waking up the API…').waitFor({ state: 'detached', timeout: 20_000 });
    await expect.poll(() => page.locator('li.task .text').allInnerTexts()).toContain('Added during a stall');
    expect((await page.locator('li.task .text').allInnerTexts()).filter((t) => t === 'Added during a stall')).toHaveLength(1);
    expect(await page.getByRole('alert').count()).toBe(0);
    expect(await rows('Added during a stall')).toBe(1);
    await expect.poll(() => postStatuses(logFrom)).toContain(409);
    await page.reload();
    await expect.poll(async () => (await page.locator('li.task .text').allInnerTexts()).filter((t) => t === 'Added during a stall').length).toBe(1);
    // The page's own 409s and 504s are expected console noise in Chromium's network log only.
    expect(problems.list.filter((p) => !/status of (409|504)/.test(p))).toEqual([]);
  });
});
