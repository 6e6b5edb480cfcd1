import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { fakeApi, mountApp, texts } from './harness';
import { IDS_PER_RESTORE, split, UNDO_WINDOW_MS } from '../stores/undo';
import { BODY_LIMIT_BYTES } from '../../../functions/api/routes/api';
import { createTaskStore } from '../stores/useTaskStore';
import { MAX_RESTORE_IDS } from '../../../functions/api/schemas';
import { createApiClient } from '../api/client';
import { defaultConfig } from '../config';

afterEach(() => {
  document.body.innerHTML = '';
  vi.useRealTimers();
});

type Wrapper = Awaited<ReturnType<typeof mountApp>>['wrapper'];
const button = (wrapper: Wrapper, name: string) => wrapper.findAll('button').find((b) => b.text() === name);
const offer = (wrapper: Wrapper) => wrapper.get('.undo[role="status"]').text();

describe('undo', () => {
  it('after a delete offers Undo, which puts the same task back in its place, once', async () => {
    const api = fakeApi(['One', 'Two', 'Three']);
    api.tasks[1]!.done = true;
    const { wrapper } = await mountApp(api);
    await wrapper.findAll('li')[1]!.findAll('button').find((b) => b.text() === 'Delete')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['One', 'Three']);
    expect(offer(wrapper)).toBe('Deleted “Two”. Undo');
    const undo = button(wrapper, 'Undo')!;
    await undo.trigger('click');
    expect(button(wrapper, 'Undo')).toBeUndefined();
    await flushPromises();
    expect(texts(wrapper)).toEqual(['One', 'Two', 'Three']);
    expect(api.tasks.find((t) => t.id === 2)).toMatchObject({ task: 'Two', done: true, position: 'a1', version: 2 });
    expect(api.calls.filter((c) => c === 'POST /api/tasks/restore')).toHaveLength(1);
    expect(api.keys[api.calls.indexOf('POST /api/tasks/restore')]).toMatch(/^"[0-9a-f-]{36}"$/);
    // The restored task is an ordinary one again: it can be changed and deleted.
    await wrapper.get('#task-2-done').setValue(false);
    await flushPromises();
    expect(api.tasks.find((t) => t.id === 2)).toMatchObject({ done: false, version: 3 });
  });

  it('after Clear done offers Undo of every task it deleted; a failed Undo retries with the same key', async () => {
    const api = fakeApi(['One', 'Two', 'Three']);
    api.tasks[0]!.done = true;
    api.tasks[2]!.done = true;
    const { wrapper } = await mountApp(api);
    await button(wrapper, 'Clear done')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Two']);
    expect(offer(wrapper)).toBe('Deleted 2 tasks. Undo');
    let refuse = true;
    api.intercept((method, path) => {
      if (method !== 'POST' || path !== '/api/tasks/restore' || !refuse) return undefined;
      refuse = false;
      return { status: 503, body: { success: false, message: 'Database unavailable for the test', code: 'database_unavailable' } };
    });
    await button(wrapper, 'Undo')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Two']);
    expect(wrapper.get('.notice').text()).toContain('Couldn’t undo: Database unavailable for the test');
    await button(wrapper, 'Retry')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['One', 'Two', 'Three']);
    const keys = api.calls.flatMap((c, i) => (c === 'POST /api/tasks/restore' ? [api.keys[i]] : []));
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
  });

  it('the offer ends after the window (the delete stands), and waits while the person is on it', async () => {
    vi.useFakeTimers();
    const api = fakeApi(['One', 'Two']);
    const { wrapper } = await mountApp(api);
    await wrapper.findAll('li')[0]!.findAll('button').find((b) => b.text() === 'Delete')!.trigger('click');
    await flushPromises();
    expect(button(wrapper, 'Undo')).toBeDefined();
    await wrapper.get('.undo').trigger('focusin');
    vi.advanceTimersByTime(UNDO_WINDOW_MS * 2);
    await flushPromises();
    expect(button(wrapper, 'Undo')).toBeDefined();
    await wrapper.get('.undo').trigger('focusout');
    vi.advanceTimersByTime(UNDO_WINDOW_MS - 1);
    await flushPromises();
    expect(button(wrapper, 'Undo')).toBeDefined();
    vi.advanceTimersByTime(1);
    await flushPromises();
    expect(button(wrapper, 'Undo')).toBeUndefined();
    expect(api.calls).not.toContain('POST /api/tasks/restore');
    expect(api.tasks.map((t) => t.task)).toEqual(['Two']);
  });

  it('splits a large restore into bodies under the API limits: ids per request and bytes', () => {
    for (const ids of [Array.from({ length: 2500 }, (_, i) => i + 1), Array.from({ length: 1500 }, (_, i) => 2 ** 52 + i)]) {
      const batches = split(ids);
      expect(batches.length).toBeGreaterThan(1);
      expect(batches.flat()).toEqual(ids);
      for (const b of batches) {
        expect(b.length).toBeLessThanOrEqual(MAX_RESTORE_IDS);
        expect(JSON.stringify({ tasks: b.map((id) => ({ id })) }).length).toBeLessThanOrEqual(BODY_LIMIT_BYTES);
      }
    }
    expect(split(Array.from({ length: 2 * IDS_PER_RESTORE + 1 }, (_, i) => i + 1)).map((b) => b.length)).toEqual([IDS_PER_RESTORE, IDS_PER_RESTORE, 1]);
    // The largest ids there are, a full batch: still under the body limit.
    expect(JSON.stringify({ tasks: Array.from({ length: IDS_PER_RESTORE }, () => ({ id: 2 ** 53 - 1 })) }).length).toBeLessThan(BODY_LIMIT_BYTES);
  });

  it("sends ids only and shows the API's answer: a change made elsewhere before the delete comes back", async () => {
    const api = fakeApi(['One', 'Two']);
    const { wrapper } = await mountApp(api);
    // Another tab renames "Two" after this page read it.
    Object.assign(api.tasks[1]!, { task: 'Two, renamed elsewhere', version: 2 });
    await wrapper.findAll('li')[1]!.findAll('button').find((b) => b.text() === 'Delete')!.trigger('click');
    await flushPromises();
    // The delete met the rename (412): the person deletes it anyway.
    await button(wrapper, 'Keep mine')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['One']);
    let sent: unknown;
    api.intercept((method, path, body) => void (method === 'POST' && path === '/api/tasks/restore' && (sent = body)));
    await button(wrapper, 'Undo')!.trigger('click');
    await flushPromises();
    expect(sent).toEqual({ tasks: [{ id: 2 }] });
    expect(texts(wrapper)).toEqual(['One', 'Two, renamed elsewhere']);
    // A further edit builds on the restored version.
    await wrapper.get('#task-2-done').setValue(true);
    await flushPromises();
    expect(api.tasks.find((t) => t.id === 2)).toMatchObject({ task: 'Two, renamed elsewhere', done: true, version: 4 });
    expect(wrapper.find('.notice').exists()).toBe(false);
  });

  it('two deletes close together: the offer is for the one pressed last, even when the first is answered later', async () => {
    const api = fakeApi(['One', 'Two', 'Three']);
    // The first DELETE is answered only after the second.
    let answerFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (answerFirst = resolve));
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (init?.method === 'DELETE' && String(input) === '/api/tasks/1') await firstHeld;
      return api.fetch(input, init);
    }) as typeof globalThis.fetch;
    const { wrapper } = await mountApp({ ...api, fetch });
    const del = (i: number) => wrapper.findAll('li')[i]!.findAll('button').find((b) => b.text() === 'Delete')!.trigger('click');
    await del(0);
    await del(0); // "Two", now first shown
    await flushPromises();
    expect(offer(wrapper)).toBe('Deleted “Two”. Undo');
    answerFirst();
    await flushPromises();
    expect(api.calls.filter((c) => c.startsWith('DELETE'))).toEqual(['DELETE /api/tasks/2', 'DELETE /api/tasks/1']);
    expect(offer(wrapper)).toBe('Deleted “Two”. Undo');
    await button(wrapper, 'Undo')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Two', 'Three']);
  });

  it('says so when the API restores fewer tasks than offered', async () => {
    const api = fakeApi(['One', 'Two']);
    const { wrapper } = await mountApp(api);
    await wrapper.findAll('li')[0]!.findAll('button').find((b) => b.text() === 'Delete')!.trigger('click');
    await flushPromises();
    api.intercept((method, path) => (method === 'POST' && path === '/api/tasks/restore' ? { status: 200, body: { success: true, message: 'Tasks restored successfully', tasks: [] } } : undefined));
    await button(wrapper, 'Undo')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Two']);
    expect(wrapper.get('.notice').text()).toContain('1 not restored: undone elsewhere, or too old.');
  });
  it('shows a task that was put back elsewhere before Undo, as the database holds it', async () => {
    const api = fakeApi(['One', 'Two']);
    const { wrapper } = await mountApp(api);
    const [first] = api.tasks;
    await wrapper.findAll('li')[0]!.findAll('button').find((b) => b.text() === 'Delete')!.trigger('click');
    await flushPromises();
    // Another client restores it first: this restore finds nothing recorded.
    api.intercept((method, path) => {
      if (method !== 'POST' || path !== '/api/tasks/restore') return undefined;
      api.tasks.unshift({ ...first!, version: (first!.version ?? 1) + 1 });
      return { status: 200, body: { success: true, message: 'Tasks restored successfully', tasks: [] } };
    });
    await button(wrapper, 'Undo')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['One', 'Two']);
    expect(wrapper.get('.notice').text()).toContain('1 not restored: undone elsewhere, or too old.');
  });
});

describe('a restored task in another tab', () => {
  it('shows again in a tab that saw it deleted, but a list read before the delete never brings it back', async () => {
    const api = fakeApi(['One', 'Two']);
    const here = await mountApp(api);
    const client = createApiClient({ baseUrl: '/api', fetch: api.fetch, retryForMs: 0 });
    const there = createTaskStore(client, defaultConfig);
    await there.load();
    const stale = JSON.parse(JSON.stringify(api.tasks));
    await here.wrapper.findAll('li')[0]!.findAll('button').find((b) => b.text() === 'Delete')!.trigger('click');
    await flushPromises();
    await there.load();
    expect(there.state.tasks.map((t) => t.task)).toEqual(['Two']);
    // A list read before the delete (the task at the version it went with): it stays gone.
    api.intercept((method, path) => (method === 'GET' && path === '/api/tasks?order=position' ? { status: 200, body: { success: true, tasks: stale, nextCursor: null } } : undefined));
    await there.load();
    expect(there.state.tasks.map((t) => t.task)).toEqual(['Two']);
    api.intercept(undefined);
    await button(here.wrapper, 'Undo')!.trigger('click');
    await flushPromises();
    await there.load();
    expect(there.state.tasks.map((t) => [t.id, t.task, t.version])).toEqual([[1, 'One', 2], [2, 'Two', 1]]);
  });
});
