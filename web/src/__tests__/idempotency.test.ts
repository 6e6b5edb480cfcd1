import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { createApiClient, newIdempotencyKey } from '../api/client';
import { fakeApi, mountApp, texts } from './harness';

afterEach(() => {
  vi.useRealTimers();
  document.body.innerHTML = '';
});

const UUID = /^"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$/;
const unavailable = { status: 503, body: { success: false, message: 'The database is not reachable right now; try again shortly', code: 'database_unavailable' } };
const timedOut = { status: 504, body: { success: false, message: 'The API took too long to answer. Try again in a moment.', code: 'api_timeout' } };
const inUse = { status: 409, body: { success: false, message: 'A request with this Idempotency-Key is still being processed; retry shortly', code: 'idempotency_key_in_use' } };
/** Answers `answer` to the first `times` requests with this method, then lets them through. */
const failFirst = (method: string, times: number, answer: { status: number; body: unknown }) => {
  let left = times;
  return (m: string) => (m === method && left-- > 0 ? answer : undefined);
};
const writeKeys = (api: ReturnType<typeof fakeApi>) => api.calls.flatMap((c, i) => (c.startsWith('GET') ? [] : [api.keys[i]]));

describe('one Idempotency-Key per user action', () => {
  it('sends a fresh quoted UUID with every write and none with reads', async () => {
    const api = fakeApi(['One']);
    const { wrapper, store } = await mountApp(api);
    await store.add('Two');
    await store.toggle(1);
    await store.remove(1);
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Two']);
    const keys = writeKeys(api);
    expect(keys).toHaveLength(3);
    for (const key of keys) expect(key).toMatch(UUID);
    expect(new Set(keys).size).toBe(3);
    expect(api.calls.filter((c) => c.startsWith('GET')).every((c) => api.keys[api.calls.indexOf(c)] === undefined)).toBe(true);
  });

  it('makes UUID v4 keys without crypto.randomUUID (plain-HTTP pages)', () => {
    const real = globalThis.crypto;
    vi.stubGlobal('crypto', { getRandomValues: (a: Uint8Array) => real.getRandomValues(a) });
    try {
      const keys = Array.from({ length: 50 }, newIdempotencyKey);
      for (const key of keys) expect(`"${key}"`).toMatch(UUID);
      expect(new Set(keys).size).toBe(50);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('a write is retried with its key before it rolls back', () => {
  it.each([
    ['a cold start (502 then 503)', [{ status: 502, body: { success: false, message: 'down', code: 'api_unavailable' } }, unavailable]],
    ['a timeout (504)', [timedOut]],
    ['a first try still running (409 idempotency_key_in_use)', [inUse, inUse]],
  ])('through %s: one task, the same key on every try, no rollback', async (_name, answers) => {
    const api = fakeApi();
    let n = 0;
    api.intercept((method) => (method === 'POST' && n < answers.length ? answers[n++] : undefined));
    const { wrapper, store } = await mountApp(api, {}, 5000);
    await store.add('Pay rent');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Pay rent']);
    expect(api.tasks.map((t) => t.task)).toEqual(['Pay rent']);
    const keys = writeKeys(api);
    expect(keys).toHaveLength(answers.length + 1);
    expect(new Set(keys).size).toBe(1);
    expect(wrapper.find('[role="alert"]').exists()).toBe(false);
  });

  it('through a dropped connection: the write that did land is answered from the record, not made twice', async () => {
    const api = fakeApi();
    const real = api.fetch;
    let dropped = false;
    // The first POST reaches the API and is written, but its answer never arrives.
    const client = createApiClient({
      baseUrl: '/api',
      retryForMs: 5000,
      fetch: async (input, init) => {
        const res = await real(input, init);
        if (init?.method === 'POST' && !dropped) {
          dropped = true;
          throw new TypeError('Failed to fetch');
        }
        return res;
      },
    });
    const reply = await client.request<{ task: { task: string } }>('POST', '/tasks', { task: 'once' }, { idempotencyKey: newIdempotencyKey() });
    expect(reply.task.task).toBe('once');
    expect(api.tasks.map((t) => t.task)).toEqual(['once']);
    expect(api.calls).toEqual(['POST /api/tasks', 'POST /api/tasks']);
  });

  it('gives up after the retry window, rolls back, and Retry reuses the failed action’s key', async () => {
    const api = fakeApi(['Keep']);
    api.intercept((method) => (method === 'DELETE' || method === 'POST' ? timedOut : undefined));
    const { wrapper, store } = await mountApp(api, {}, 300);
    const started = Date.now();
    await store.add('Call Sam');
    await flushPromises();
    // Tried, waited 250 ms, tried again, then the 300 ms window was over.
    expect(Date.now() - started).toBeLessThan(2000);
    expect(texts(wrapper)).toEqual(['Keep']);
    const alert = wrapper.get('[role="alert"]');
    expect(alert.text()).toContain('Couldn’t add “Call Sam”: The API took too long to answer.');
    const failedKeys = writeKeys(api);
    expect(failedKeys.length).toBeGreaterThanOrEqual(2);
    expect(new Set(failedKeys).size).toBe(1);

    api.intercept(undefined);
    await alert.findAll('button').find((b) => b.text() === 'Retry')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Keep', 'Call Sam']);
    const allKeys = writeKeys(api);
    expect(allKeys.at(-1)).toBe(failedKeys[0]);
    // A new action gets a new key.
    await store.add('Another');
    expect(writeKeys(api).at(-1)).not.toBe(failedKeys[0]);
  });

  it('Retry of a failed toggle and delete reuses their keys too', async () => {
    const api = fakeApi(['Tick me']);
    api.intercept((method) => (method === 'PATCH' || method === 'DELETE' ? { status: 500, body: { success: false, message: 'Broken', code: 'internal_error' } } : undefined));
    const { wrapper, store } = await mountApp(api);
    for (const action of [() => store.toggle(1), () => store.remove(1)]) {
      await action();
      await flushPromises();
      const failedKey = writeKeys(api).at(-1);
      expect(failedKey).toMatch(UUID);
      api.intercept(undefined);
      await wrapper.get('[role="alert"]').findAll('button').find((b) => b.text() === 'Retry')!.trigger('click');
      await flushPromises();
      expect(writeKeys(api).at(-1)).toBe(failedKey);
      api.intercept((method) => (method === 'DELETE' ? { status: 500, body: { success: false, message: 'Broken', code: 'internal_error' } } : undefined));
    }
    expect(api.tasks).toEqual([]);
  });

  it('a client that sends no key is not retried, as before', async () => {
    const calls: string[] = [];
    const client = createApiClient({
      baseUrl: '/api',
      retryForMs: 5000,
      fetch: async (_input, init) => {
        calls.push(`${init?.method} ${new Headers(init?.headers).get('idempotency-key')}`);
        return new Response(JSON.stringify(unavailable.body), { status: 503 });
      },
    });
    await expect(client.request('POST', '/tasks', { task: 'x' })).rejects.toMatchObject({ status: 503 });
    expect(calls).toEqual(['POST null']);
  });

  it('does not retry 507 ids_exhausted, keyed or a read: only an operator can fix it', async () => {
    const calls: string[] = [];
    const client = createApiClient({
      baseUrl: '/api',
      retryForMs: 5000,
      fetch: async (_input, init) => {
        calls.push(`${init?.method ?? 'GET'}`);
        return new Response(JSON.stringify({ success: false, message: 'No new task ids are left on this server; nothing was changed', code: 'ids_exhausted' }), { status: 507 });
      },
    });
    await expect(client.request('POST', '/tasks', { task: 'x' }, { idempotencyKey: newIdempotencyKey() })).rejects.toMatchObject({ status: 507, code: 'ids_exhausted' });
    await expect(client.request('GET', '/tasks')).rejects.toMatchObject({ status: 507 });
    expect(calls).toEqual(['POST', 'GET']);
  });

  it('does not retry a refusal that retrying cannot fix', async () => {
    const api = fakeApi();
    api.intercept(failFirst('POST', 1, { status: 422, body: { success: false, message: 'This Idempotency-Key was already used for a different request', code: 'idempotency_key_reused' } }));
    const { wrapper, store } = await mountApp(api, {}, 5000);
    await store.add('x');
    await flushPromises();
    expect(api.calls.filter((c) => c.startsWith('POST'))).toHaveLength(1);
    expect(wrapper.get('[role="alert"]').text()).toContain('already used');
  });
});
