import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { createApiClient } from '../api/client';
import { fakeApi, mountApp, texts } from './harness';

afterEach(() => {
  vi.useRealTimers();
  document.body.innerHTML = '';
});

describe('waking-up notice', () => {
  it('appears when a request runs past 700 ms and goes when it finishes', async () => {
    const api = fakeApi(['A']);
    const { wrapper, store } = await mountApp(api);
    vi.useFakeTimers();
    api.hold();
    const loading = store.load();
    await vi.advanceTimersByTimeAsync(600);
    expect(wrapper.find('.waking').exists()).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(wrapper.get('[role="status"]').text()).toContain('Waking up the API…');
    api.release();
    await loading;
    await flushPromises();
    expect(wrapper.find('.waking').exists()).toBe(false);
  });

  // Before, the page said the API "sleeps when nobody uses it" under npm start too, where it never does.
  it('says the local database is starting, not waking up, where the API cannot sleep (npm start, npm run dev on PGlite)', async () => {
    const api = fakeApi(['A']);
    const { wrapper, store } = await mountApp(api, { apiSleeps: false, embeddedDatabase: true });
    vi.useFakeTimers();
    api.hold();
    const loading = store.load();
    await vi.advanceTimersByTimeAsync(800);
    const status = wrapper.get('[role="status"]').text();
    expect(status).toContain('Starting the local database…');
    expect(status).not.toContain('Waking up');
    expect(status).not.toContain('sleeps');
    api.release();
    await loading;
  });

  // Before, npm start and npm run dev on PostgreSQL said a local database was starting, where there is none.
  it('says it is connecting to the database where the API cannot sleep and its database is a server (npm start on PostgreSQL)', async () => {
    const api = fakeApi(['A']);
    const { wrapper, store } = await mountApp(api, { apiSleeps: false, embeddedDatabase: false });
    vi.useFakeTimers();
    api.hold();
    const loading = store.load();
    await vi.advanceTimersByTimeAsync(800);
    const status = wrapper.get('[role="status"]').text();
    expect(status).toContain('Connecting to the database… this can take a few seconds.');
    expect(status).not.toMatch(/Waking up|sleeps|local database/);
    api.release();
    await loading;
  });

  // Before, a 503 database_unavailable was retried for 20 s under "Starting the local database…"
  // (or "Waking up the API…"), and the outage was told only when the retries gave up.
  it.each([true, false])('says the database is down at the first database_unavailable answer, while reads keep retrying (apiSleeps %s)', async (apiSleeps) => {
    const api = fakeApi(['A']);
    const { wrapper, store } = await mountApp(api, { apiSleeps }, 20_000);
    const message = 'The database is not reachable right now; try again shortly';
    let refused = 0;
    api.intercept((method) => (method === 'GET' && ++refused <= 4 ? { status: 503, body: { success: false, message, code: 'database_unavailable' } } : undefined));
    vi.useFakeTimers();
    const loading = store.load();
    await vi.advanceTimersByTimeAsync(900);
    const status = wrapper.get('[role="status"]').text();
    expect(status).toContain(message);
    expect(status).not.toContain('Starting the local database');
    expect(status).not.toContain('Waking up');
    // The retries go on; the first answer that is not an outage clears it.
    await vi.advanceTimersByTimeAsync(10_000);
    await loading;
    await flushPromises();
    expect(refused).toBeGreaterThan(4);
    expect(wrapper.get('[role="status"]').text()).not.toContain(message);
    expect(texts(wrapper)).toEqual(['A']);
  });

  // Before, locally any request that got no answer (npm start stopped, the port gone) showed
  // "Starting the local database…" for 20 s. The starting message is for a start under way: a
  // request the local API holds until its database is open.
  it.each([
    [{ apiSleeps: false, embeddedDatabase: true }, 'Starting the local database'],
    [{ apiSleeps: false, embeddedDatabase: false }, 'Connecting to the database'],
  ])('locally (%o) says the API cannot be reached when no answer comes at all, not %s; an answer clears it', async (config, starting) => {
    const api = fakeApi(['A']);
    const { wrapper, store } = await mountApp(api, config, 20_000);
    let refused = 0;
    api.intercept((method) => {
      if (method === 'GET' && ++refused <= 4) throw new TypeError('Failed to fetch');
      return undefined;
    });
    vi.useFakeTimers();
    const loading = store.load();
    await vi.advanceTimersByTimeAsync(900);
    const status = wrapper.get('[role="status"]').text();
    expect(status).toContain('The API cannot be reached: check that it is still running.');
    expect(status).not.toContain(starting);
    expect(status).not.toContain('Waking up');
    await vi.advanceTimersByTimeAsync(10_000);
    await loading;
    await flushPromises();
    expect(refused).toBeGreaterThan(4);
    expect(wrapper.get('[role="status"]').text()).not.toContain('cannot be reached');
    expect(texts(wrapper)).toEqual(['A']);
  });

  it('where the API sleeps, no answer at all is still waking up', async () => {
    const api = fakeApi(['A']);
    const { wrapper, store } = await mountApp(api, { apiSleeps: true }, 20_000);
    let refused = 0;
    api.intercept((method) => {
      if (method === 'GET' && ++refused <= 4) throw new TypeError('Failed to fetch');
      return undefined;
    });
    vi.useFakeTimers();
    const loading = store.load();
    await vi.advanceTimersByTimeAsync(900);
    expect(wrapper.get('[role="status"]').text()).toContain('Waking up the API…');
    await vi.advanceTimersByTimeAsync(10_000);
    await loading;
  });

  it('never shows for a quick answer', async () => {
    const api = fakeApi(['A']);
    const { wrapper, store } = await mountApp(api);
    vi.useFakeTimers();
    await store.load();
    await vi.advanceTimersByTimeAsync(1000);
    expect(wrapper.find('.waking').exists()).toBe(false);
  });

  it('retries reads while the API is unavailable, but never writes', async () => {
    vi.useFakeTimers();
    let failures = 2;
    const calls: string[] = [];
    const client = createApiClient({
      baseUrl: '/api',
      fetch: async (_input, init) => {
        calls.push(init?.method ?? 'GET');
        if (failures-- > 0) {
          return new Response(JSON.stringify({ success: false, message: 'The API is unavailable', code: 'api_unavailable' }), { status: 502 });
        }
        return new Response(JSON.stringify({ ok: 1 }), { status: 200 });
      },
    });
    const read = client.request('GET', '/tasks');
    await vi.advanceTimersByTimeAsync(2000);
    await expect(read).resolves.toEqual({ ok: 1 });
    expect(calls).toEqual(['GET', 'GET', 'GET']);
    expect(client.waking.value).toBe(false);

    failures = 5;
    calls.length = 0;
    await expect(client.request('POST', '/tasks', { task: 'x' })).rejects.toMatchObject({ status: 502, code: 'api_unavailable' });
    expect(calls).toEqual(['POST']);
  });

  it('gives up on reads after the retry window with a clear message', async () => {
    vi.useFakeTimers();
    const client = createApiClient({
      baseUrl: '/api',
      retryForMs: 3000,
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    const read = client.request('GET', '/tasks');
    const outcome = expect(read).rejects.toThrow('The API cannot be reached. Check your connection.');
    await vi.advanceTimersByTimeAsync(800);
    expect(client.waking.value).toBe(true);
    await vi.advanceTimersByTimeAsync(5000);
    await outcome;
    expect(client.waking.value).toBe(false);
  });
});
