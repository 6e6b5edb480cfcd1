import { afterEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { fakeApi, mountApp, texts } from './harness';

afterEach(() => {
  document.body.innerHTML = '';
});

describe('task list', () => {
  it('lists tasks and shows the app version and API revision', async () => {
    const { wrapper } = await mountApp(fakeApi(['Buy milk', 'Write report']));
    expect(texts(wrapper)).toEqual(['Buy milk', 'Write report']);
    expect(wrapper.find('footer').text()).toBe('App 1.2.3 · API tasks-api-00007');
  });

  it('says so when there are no tasks', async () => {
    const { wrapper } = await mountApp(fakeApi());
    expect(wrapper.text()).toContain('No tasks yet. Add one above.');
    expect(wrapper.find('ul').exists()).toBe(false);
  });

  it('adds a task on Enter, clears the field and keeps focus in it', async () => {
    const api = fakeApi();
    const { wrapper } = await mountApp(api);
    const input = wrapper.get<HTMLInputElement>('#new-task');
    input.element.focus();
    await input.setValue('  Water plants  ');
    await wrapper.get('form').trigger('submit');
    expect(texts(wrapper)).toEqual(['Water plants']); // before the API answers
    expect(input.element.value).toBe('');
    await flushPromises();
    expect(api.calls).toContain('POST /api/tasks');
    expect(api.tasks.map((t) => t.task)).toEqual(['Water plants']);
    expect(document.activeElement).toBe(input.element);
  });

  it('refuses an empty task without calling the API', async () => {
    const api = fakeApi();
    const { wrapper } = await mountApp(api);
    await wrapper.get('form').trigger('submit');
    expect(wrapper.get('[role="alert"]').text()).toContain('A task needs some text.');
    expect(api.calls).not.toContain('POST /api/tasks');
  });

  it('filters All / Active / Done with counts and clears done tasks', async () => {
    const api = fakeApi(['One', 'Two', 'Three']);
    api.tasks[1]!.done = true;
    const { wrapper } = await mountApp(api);
    const filter = (name: string) => wrapper.findAll('[role="group"] button').find((b) => b.text().startsWith(name))!;
    expect(wrapper.get('.summary').text()).toBe('2 active, 1 done');
    expect(filter('All').text()).toBe('All3');

    await filter('Active').trigger('click');
    expect(texts(wrapper)).toEqual(['One', 'Three']);
    expect(filter('Active').attributes('aria-pressed')).toBe('true');
    await filter('Done').trigger('click');
    expect(texts(wrapper)).toEqual(['Two']);

    await wrapper.findAll('button').find((b) => b.text() === 'Clear done')!.trigger('click');
    await flushPromises();
    expect(wrapper.text()).toContain('Nothing done yet.');
    expect(document.activeElement?.id).toBe('new-task');
    expect(api.tasks.map((t) => t.task)).toEqual(['One', 'Three']);
  });

  it('shows a load error with a retry that works', async () => {
    const api = fakeApi(['Back again']);
    api.intercept((method, path) =>
      method === 'GET' && path === '/api/tasks?order=position'
        ? { status: 500, body: { success: false, message: 'Database unavailable', code: 'internal' } }
        : undefined,
    );
    const { wrapper } = await mountApp(api);
    expect(wrapper.get('[role="alert"]').text()).toContain('Couldn’t load your tasks: Database unavailable');
    api.intercept(undefined);
    await wrapper.get('[role="alert"] button').trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Back again']);
  });

  it('toggles done and moves focus to the next task after a delete', async () => {
    const api = fakeApi(['First', 'Second']);
    const { wrapper } = await mountApp(api);
    await wrapper.get('#task-1-done').setValue(true);
    await flushPromises();
    expect(api.tasks[0]!.done).toBe(true);
    expect(wrapper.get('li[data-id="1"]').classes()).toContain('done');

    await wrapper.get('li[data-id="1"]').findAll('button').find((b) => b.text() === 'Delete')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Second']);
    expect(document.activeElement?.id).toBe('task-2-done');
  });
});

describe('adding while the list is still loading', () => {
  it('keeps the new task once the list arrives', async () => {
    const api = fakeApi(['Already there']);
    const { wrapper, store } = await mountApp(api);
    api.hold();
    const reloading = store.load();
    await wrapper.get('#new-task').setValue('Typed early');
    await wrapper.get('form').trigger('submit');
    api.release();
    await reloading;
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Already there', 'Typed early']);
    expect(api.tasks.map((t) => t.task)).toEqual(['Already there', 'Typed early']);
  });
});

describe('long lists', () => {
  it('loads the next page with the cursor the API gave', async () => {
    const api = fakeApi(['One', 'Two']);
    api.intercept((method, path) => {
      if (method !== 'GET') return undefined;
      if (path === '/api/tasks?order=position') return { status: 200, body: { success: true, tasks: [api.tasks[0]], nextCursor: 'a0.1' } };
      if (path === '/api/tasks?order=position&cursor=a0.1') return { status: 200, body: { success: true, tasks: [api.tasks[1]], nextCursor: null } };
      return undefined;
    });
    const { wrapper } = await mountApp(api);
    expect(texts(wrapper)).toEqual(['One']);
    await wrapper.findAll('button').find((b) => b.text() === 'Load more')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['One', 'Two']);
    expect(wrapper.findAll('button').some((b) => b.text() === 'Load more')).toBe(false);
  });

  it("pages in the person's order: a task missing from a page's range is asked about, so a move elsewhere keeps it and a delete drops it", async () => {
    const api = fakeApi(['One', 'Two', 'Three', 'Four']);
    const page = (tasks: unknown[], nextCursor: string | null) => ({ status: 200, body: { success: true, tasks, nextCursor } });
    const byPosition = () => [...api.tasks].sort((a, b) => (a.position! < b.position! ? -1 : 1));
    api.intercept((method, path) => {
      if (method !== 'GET') return undefined;
      const all = byPosition();
      if (path === '/api/tasks?order=position') return page(all.slice(0, 2), `${all[1]!.position}.${all[1]!.id}`);
      const cursor = /&cursor=(.+)\.(\d+)$/.exec(path);
      if (cursor) return page(all.filter((t) => t.position! > cursor[1]! || (t.position === cursor[1] && t.id > Number(cursor[2]))), null);
      return undefined;
    });
    const { wrapper, store } = await mountApp(api);
    await wrapper.findAll('button').find((b) => b.text() === 'Load more')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['One', 'Two', 'Three', 'Four']);
    // Elsewhere: "Two" moves to the end, "One" is deleted. The first page is now Three, Four.
    Object.assign(api.tasks[1]!, { position: 'a4', version: 2 });
    api.tasks.splice(0, 1);
    await store.load();
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Three', 'Four', 'Two']);
    expect(api.calls.filter((c) => /^GET \/api\/tasks\/\d+$/.test(c)).sort()).toEqual(['GET /api/tasks/1', 'GET /api/tasks/2']);
    expect(wrapper.find('.notice').exists()).toBe(false);
    // The last page reaches to the end: a task past its last one that is missing is asked about too.
    api.tasks.splice(api.tasks.findIndex((t) => t.task === 'Two'), 1);
    await wrapper.findAll('button').find((b) => b.text() === 'Load more')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Three', 'Four']);
  });
});
