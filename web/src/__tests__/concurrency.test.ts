import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { fakeApi, mountApp, texts } from './harness';
import { syncTabs } from '../stores/tabSync';

afterEach(() => {
  document.body.innerHTML = '';
});

/** Holds the answers to matching requests until `release(i)`: the server has acted, the answer is late. */
function lateAnswers(api: ReturnType<typeof fakeApi>) {
  const real = api.fetch;
  const held: { release: () => void; method: string }[] = [];
  let match: ((method: string, path: string) => boolean) | undefined;
  api.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const res = await real(input, init);
    const method = init?.method ?? 'GET';
    if (match?.(method, String(input))) await new Promise<void>((release) => held.push({ release, method }));
    return res;
  }) as typeof fetch;
  return {
    hold(m: (method: string, path: string) => boolean) {
      match = m;
    },
    stop() {
      match = undefined;
    },
    held,
  };
}

const button = (wrapper: Awaited<ReturnType<typeof mountApp>>['wrapper'], name: string) =>
  wrapper.findAll('button').find((b) => b.text() === name)!;

describe('answers that arrive late never undo a newer intent', () => {
  it('tick, then untick before the first answer: not done on the page and in the API', async () => {
    const api = fakeApi(['Tick me']);
    const late = lateAnswers(api);
    const { wrapper } = await mountApp(api);
    late.hold((method) => method === 'PATCH');
    const box = wrapper.get<HTMLInputElement>('#task-1-done');
    await box.setValue(true);
    await box.setValue(false);
    await flushPromises();
    expect(box.element.checked).toBe(false);
    late.stop();
    // Answers held back come last-sent first, so the first answer is the late one.
    for (const h of late.held.splice(0).reverse()) {
      h.release();
      await flushPromises();
    }
    expect(api.tasks[0]!.done).toBe(false);
    expect(wrapper.get<HTMLInputElement>('#task-1-done').element.checked).toBe(false);
  });

  it('a list load while an add is in flight shows the new task once', async () => {
    const api = fakeApi(['Old']);
    const late = lateAnswers(api);
    const { wrapper, store } = await mountApp(api);
    late.hold((method) => method === 'POST');
    await wrapper.get('#new-task').setValue('New');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    // The task is in the API, its answer is late, and a list is read meanwhile.
    expect(api.tasks.map((t) => t.task)).toEqual(['Old', 'New']);
    late.stop();
    const reloading = store.load();
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Old', 'New']);
    late.held.splice(0).forEach((h) => h.release());
    await reloading;
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Old', 'New']);
    expect(wrapper.get('.summary').text()).toBe('2 active, 0 done');
  });
});

describe('an add whose answer was lost', () => {
  it('retried after the task was deleted elsewhere: the recorded answer does not bring it back', async () => {
    const api = fakeApi();
    const real = api.fetch;
    let loseNext = true;
    // The API makes the task; its answer is lost on the way back.
    api.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await real(input, init);
      if (init?.method === 'POST' && loseNext) {
        loseNext = false;
        throw new TypeError('Failed to fetch');
      }
      return res;
    }) as typeof fetch;
    const { wrapper, store } = await mountApp(api);
    await store.add('Milk');
    await flushPromises();
    expect(api.tasks.map((t) => t.id)).toEqual([1]);
    // Another tab adds a task (id 2) and deletes this one; a list read then names only 2.
    await real('/api/tasks', { method: 'POST', body: JSON.stringify({ task: 'Milk' }) });
    api.tasks.splice(0, 1);
    await store.load();
    await flushPromises();
    expect(store.state.tasks.map((t) => t.id)).toEqual([2]);
    // Retry sends the same key: the API answers from its record, with the task as it was made.
    store.retryNotice();
    await flushPromises();
    expect(store.state.tasks.map((t) => t.id)).toEqual([2]);
    expect(texts(wrapper)).toEqual(['Milk']);
    expect(wrapper.get('[role="alert"]').text()).toContain('“Milk” was deleted elsewhere');
  });
});

describe('a double-click on Add', () => {
  it('adds once and says nothing about empty text', async () => {
    const api = fakeApi();
    const { wrapper } = await mountApp(api);
    await wrapper.get('#new-task').setValue('Once');
    const add = button(wrapper, 'Add');
    await add.trigger('click');
    await add.trigger('click');
    await flushPromises();
    expect(api.tasks.map((t) => t.task)).toEqual(['Once']);
    expect(wrapper.find('[role="alert"]').exists()).toBe(false);
    // An empty field the person submits is still refused with the reason.
    await wrapper.get('#new-task').setValue(' ');
    await add.trigger('click');
    expect(wrapper.get('[role="alert"]').text()).toContain('A task needs some text.');
  });
});

describe('a task deleted elsewhere', () => {
  it('is removed on a 404 to an edit, said so, and a reload or a stale list never brings it back', async () => {
    const api = fakeApi(['Gone', 'Stays']);
    const { wrapper, store } = await mountApp(api);
    const stale = JSON.parse(JSON.stringify(api.tasks));
    api.tasks.splice(0, 1);
    await wrapper.get('#task-1-done').setValue(true);
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Stays']);
    expect(wrapper.get('[role="alert"]').text()).toContain('“Gone” was deleted elsewhere');
    // A list read before the delete (a slow replica, a late answer) still names it: it stays gone.
    api.intercept((method, path) => (method === 'GET' && path === '/api/tasks?order=position' ? { status: 200, body: { success: true, tasks: stale, nextCursor: null } } : undefined));
    await store.load();
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Stays']);
  });

  it('is removed on a 404 to a delete, never put back', async () => {
    const api = fakeApi(['Gone']);
    const { wrapper } = await mountApp(api);
    api.tasks.splice(0, 1);
    await button(wrapper, 'Delete').trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual([]);
    expect(wrapper.get('[role="alert"]').text()).toContain('was deleted elsewhere');
  });
});

describe('a change made elsewhere meanwhile (412)', () => {
  async function conflicted() {
    const api = fakeApi(['Draft report']);
    const { wrapper, store } = await mountApp(api);
    // Another tab renames it: version 2.
    Object.assign(api.tasks[0]!, { task: 'Final report', version: 2 });
    await wrapper.get('li .text').trigger('dblclick');
    const editor = wrapper.get('input[aria-label="Edit task"]');
    await editor.setValue('My report');
    await editor.trigger('keydown', { key: 'Enter' });
    await flushPromises();
    return { api, wrapper, store };
  }

  it('asks, with focus on the question; Keep mine sends it again on the new version', async () => {
    const { api, wrapper } = await conflicted();
    const dialog = wrapper.get('[role="alertdialog"]');
    expect(dialog.attributes('aria-labelledby')).toBe('conflict-title');
    expect(dialog.text()).toContain('It is now “Final report”, not done; yours: “My report”, not done.');
    expect(api.tasks[0]!.task).toBe('Final report'); // nothing overwritten yet
    expect(document.activeElement?.textContent?.trim()).toBe('Keep mine');
    const ifMatches: (string | null)[] = [];
    api.intercept((method, _path, _body, headers) => {
      if (method === 'PATCH') ifMatches.push(headers.get('if-match'));
      return undefined;
    });
    await button(wrapper, 'Keep mine').trigger('click');
    await flushPromises();
    expect(ifMatches).toEqual(['"2"']);
    expect(api.tasks[0]).toMatchObject({ task: 'My report', version: 3 });
    expect(texts(wrapper)).toEqual(['My report']);
    expect(wrapper.find('[role="alertdialog"]').exists()).toBe(false);
    expect(document.activeElement?.tagName).not.toBe('BODY');
  });

  it('Take theirs shows the other change and writes nothing', async () => {
    const { api, wrapper } = await conflicted();
    const writes = api.calls.filter((c) => c.startsWith('PATCH')).length;
    await button(wrapper, 'Take theirs').trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Final report']);
    expect(api.tasks[0]).toMatchObject({ task: 'Final report', version: 2 });
    expect(api.calls.filter((c) => c.startsWith('PATCH')).length).toBe(writes);
  });

  it('sends If-Match with the version the person saw on every write', async () => {
    const api = fakeApi(['A']);
    const seen: string[] = [];
    api.intercept((method, _path, _body, headers) => {
      if (method !== 'GET') seen.push(`${method} ${headers.get('if-match')}`);
      return undefined;
    });
    const { store } = await mountApp(api);
    await store.toggle(1);
    await store.toggle(1);
    await store.remove(1);
    expect(seen).toEqual(['PATCH "1"', 'PATCH "2"', 'DELETE "3"']);
  });

  /** Renames, then ticks done while the rename is in flight; another tab changed the task meanwhile. */
  async function severalChanges() {
    const api = fakeApi(['Draft report', 'Other']);
    const { wrapper, store } = await mountApp(api);
    const bodies: string[] = [];
    api.intercept((method, path, body, headers) => {
      if (method !== 'GET') bodies.push(`${method} ${path} ${headers.get('if-match')} ${JSON.stringify(body)}`);
      return undefined;
    });
    api.hold();
    store.rename(1, 'My report');
    void store.toggle(1);
    await flushPromises();
    Object.assign(api.tasks[0]!, { task: 'Final report', version: 2 });
    api.release();
    await flushPromises();
    return { api, wrapper, store, bodies };
  }

  it('with several changes in flight, "yours" is all of them and Keep mine sends them as one write on the new version', async () => {
    const { api, wrapper, bodies } = await severalChanges();
    const dialog = wrapper.get('[role="alertdialog"]');
    expect(dialog.text()).toContain('It is now “Final report”, not done; yours: “My report”, done (2 changes).');
    expect(texts(wrapper)).toEqual(['My report', 'Other']);
    await button(wrapper, 'Keep mine').trigger('click');
    await flushPromises();
    expect(bodies).toEqual([
      'PATCH /api/tasks/1 "1" {"task":"My report"}',
      'PATCH /api/tasks/1 "2" {"task":"My report","done":true}',
    ]);
    expect(api.tasks[0]).toMatchObject({ task: 'My report', done: true, version: 3 });
    expect(wrapper.findAll('li').map((li) => [li.get('.text').text(), li.classes('done')])).toEqual([
      ['My report', true],
      ['Other', false],
    ]);
    expect(wrapper.find('[role="alertdialog"]').exists()).toBe(false);
  });

  it('Take theirs drops every change of the person to that task, which the question named, and the page equals the API', async () => {
    const { api, wrapper, bodies } = await severalChanges();
    expect(wrapper.get('[role="alertdialog"]').text()).toContain('yours: “My report”, done (2 changes).');
    await button(wrapper, 'Take theirs').trigger('click');
    await flushPromises();
    expect(bodies).toEqual(['PATCH /api/tasks/1 "1" {"task":"My report"}']);
    expect(api.tasks[0]).toMatchObject({ task: 'Final report', done: false, version: 2 });
    expect(wrapper.findAll('li').map((li) => [li.get('.text').text(), li.classes('done')])).toEqual([
      ['Final report', false],
      ['Other', false],
    ]);
  });

  it('a toggle all queued behind the conflict is part of "yours": Take theirs leaves that task as theirs, the others are marked', async () => {
    const api = fakeApi(['Draft report', 'Other']);
    const { wrapper, store } = await mountApp(api);
    api.hold();
    store.rename(1, 'My report');
    void store.toggleAll();
    await flushPromises();
    Object.assign(api.tasks[0]!, { task: 'Final report', version: 2 });
    api.release();
    await flushPromises();
    expect(wrapper.get('[role="alertdialog"]').text()).toContain('yours: “My report”, done (2 changes).');
    await button(wrapper, 'Take theirs').trigger('click');
    await flushPromises();
    expect(api.tasks.map(({ task, done }) => ({ task, done }))).toEqual([
      { task: 'Final report', done: false },
      { task: 'Other', done: true },
    ]);
    expect(store.state.tasks.map(({ task, done }) => ({ task, done }))).toEqual(api.tasks.map(({ task, done }) => ({ task, done })));
  });

  it('a toggle all queued behind a question about a task then deleted elsewhere still goes for the others', async () => {
    const api = fakeApi(['Draft report', 'Other']);
    const { store } = await mountApp(api);
    api.hold();
    store.rename(1, 'My report');
    void store.toggleAll();
    await flushPromises();
    Object.assign(api.tasks[0]!, { task: 'Final report', version: 2 });
    api.release();
    await flushPromises();
    expect(store.state.conflicts.map((c) => c.id)).toEqual([1]);
    // Another tab deletes the task in question; this tab learns it from a list.
    api.tasks.splice(0, 1);
    await store.load();
    await flushPromises();
    expect(store.state.conflicts).toEqual([]);
    expect(api.tasks.map(({ id, done }) => ({ id, done }))).toEqual([{ id: 2, done: true }]);
    expect(store.state.tasks.map(({ id, done }) => ({ id, done }))).toEqual([{ id: 2, done: true }]);
  });

  it('a delete after an edit in flight: "yours" is the delete, and Keep mine deletes on the new version', async () => {
    const api = fakeApi(['Draft report']);
    const { wrapper, store } = await mountApp(api);
    api.hold();
    store.rename(1, 'My report');
    void store.remove(1);
    await flushPromises();
    Object.assign(api.tasks[0]!, { task: 'Final report', version: 2 });
    api.release();
    await flushPromises();
    expect(wrapper.get('[role="alertdialog"]').text()).toContain('yours: delete it (2 changes).');
    await button(wrapper, 'Keep mine').trigger('click');
    await flushPromises();
    expect(api.tasks).toEqual([]);
    expect(texts(wrapper)).toEqual([]);
  });
});

describe('tabs', () => {
  it('a change in one tab makes the other load the list; focus and becoming visible do too', async () => {
    const api = fakeApi(['Shared']);
    const one = await mountApp(api);
    const two = await mountApp(api);
    const channel = `tasks test ${Math.random()}`;
    const stops = [syncTabs(one.store, { channel }), syncTabs(two.store, { channel })];
    try {
      const lists = () => api.calls.filter((c) => c === 'GET /api/tasks?order=position').length;
      await one.store.add('From tab one');
      // BroadcastChannel delivers on a later task.
      await expect.poll(() => two.store.state.tasks.map((t) => t.task)).toEqual(['Shared', 'From tab one']);
      api.tasks.push({ ...api.tasks[0]!, id: 99, task: 'From elsewhere' });
      const before = lists();
      window.dispatchEvent(new Event('focus'));
      await flushPromises();
      expect(lists()).toBeGreaterThan(before);
      await expect.poll(() => one.store.state.tasks.map((t) => t.task)).toContain('From elsewhere');
      const beforeVisible = lists();
      document.dispatchEvent(new Event('visibilitychange'));
      await flushPromises();
      expect(lists()).toBeGreaterThan(beforeVisible);
    } finally {
      stops.forEach((stop) => stop());
    }
  });

  it('does not poll: nothing is asked while nobody acts', async () => {
    const api = fakeApi(['Quiet']);
    const { store } = await mountApp(api);
    const stop = syncTabs(store, { channel: `tasks quiet ${Math.random()}` });
    vi.useFakeTimers();
    try {
      const before = api.calls.length;
      await vi.advanceTimersByTimeAsync(30 * 60_000);
      expect(api.calls.length).toBe(before);
    } finally {
      vi.useRealTimers();
      stop();
    }
  });
});
