import { afterEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { MAX_BULK_IDS } from '../../../functions/api/schemas';
import { fakeApi, mountApp, texts } from './harness';
import { MAX_IDS_PER_TOGGLE } from '../stores/useTaskStore';

afterEach(() => {
  document.body.innerHTML = '';
});

const toggleAll = (wrapper: Awaited<ReturnType<typeof mountApp>>['wrapper']) => wrapper.get<HTMLInputElement>('#toggle-all');
const filter = (wrapper: Awaited<ReturnType<typeof mountApp>>['wrapper'], name: string) =>
  wrapper.findAll('[role="group"] button').find((b) => b.text().startsWith(name))!;

describe('toggle all', () => {
  it('sends the same bound as the API takes', () => {
    expect(MAX_IDS_PER_TOGGLE).toBe(MAX_BULK_IDS);
  });

  it('is a labelled checkbox that marks every task shown done in one request, then every one not done', async () => {
    const api = fakeApi(['One', 'Two', 'Three']);
    api.tasks[1]!.done = true;
    const { wrapper } = await mountApp(api);
    const box = toggleAll(wrapper);
    expect(wrapper.get('label[for="toggle-all"]').text()).toBe('Mark all as done');
    expect(box.element.checked).toBe(false);

    await box.setValue(true);
    // Shown at once, before the answer.
    expect(wrapper.findAll<HTMLInputElement>('li input[type="checkbox"]').map((c) => c.element.checked)).toEqual([true, true, true]);
    await flushPromises();
    const bulk = api.calls.filter((c) => c === 'PATCH /api/tasks');
    expect(bulk).toHaveLength(1);
    expect(api.calls.some((c) => /^PATCH \/api\/tasks\/\d+$/.test(c))).toBe(false);
    expect(api.keys[api.calls.indexOf('PATCH /api/tasks')]).toMatch(/^"[0-9a-f-]{36}"$/);
    expect(api.tasks.map((t) => [t.done, t.version])).toEqual([[true, 2], [true, 1], [true, 2]]);
    expect(toggleAll(wrapper).element.checked).toBe(true);

    await toggleAll(wrapper).setValue(false);
    await flushPromises();
    expect(api.tasks.map((t) => t.done)).toEqual([false, false, false]);
    expect(api.calls.filter((c) => c === 'PATCH /api/tasks')).toHaveLength(2);
    expect(wrapper.get('.summary').text()).toBe('3 active, 0 done');
  });

  it('changes only the tasks shown under a filter', async () => {
    const api = fakeApi(['One', 'Two', 'Three']);
    api.tasks[1]!.done = true;
    const { wrapper, store } = await mountApp(api);
    await filter(wrapper, 'Done').trigger('click');
    expect(toggleAll(wrapper).element.checked).toBe(true);
    await store.toggleAll();
    await flushPromises();
    expect(api.tasks.map((t) => t.done)).toEqual([false, false, false]);
    expect(texts(wrapper)).toEqual([]);
  });

  it('waits for a change in flight to a task it names, and the next change builds on its version', async () => {
    const api = fakeApi(['One', 'Two']);
    const { wrapper, store } = await mountApp(api);
    api.hold();
    void store.toggle(1); // One: done, in flight
    await flushPromises();
    // One is shown done already, so toggle all names Two only, and goes at once beside One's change.
    const all = store.toggleAll();
    await flushPromises();
    expect(api.calls.filter((c) => c.startsWith('PATCH'))).toEqual(['PATCH /api/tasks/1', 'PATCH /api/tasks']);
    api.release();
    await all;
    await flushPromises();
    expect(api.tasks.map((t) => t.done)).toEqual([true, true]);

    // Now every task is done: toggle all undoes both, and it waits for One's rename in flight.
    api.hold();
    expect(store.rename(1, 'One!')).toBeNull();
    await flushPromises();
    const undo = store.toggleAll();
    await flushPromises();
    expect(api.calls.filter((c) => c.startsWith('PATCH')).slice(2)).toEqual(['PATCH /api/tasks/1']);
    api.release();
    await flushPromises();
    api.release();
    await undo;
    await flushPromises();
    expect(api.calls.filter((c) => c.startsWith('PATCH')).slice(2)).toEqual(['PATCH /api/tasks/1', 'PATCH /api/tasks']);
    void store.toggle(2);
    await flushPromises();
    api.release();
    await flushPromises();
    // Its If-Match is the version the toggle all gave Two.
    expect(api.tasks.map((t) => [t.task, t.done])).toEqual([['One!', false], ['Two', true]]);
    expect(wrapper.find('[role="alert"]').exists()).toBe(false);
  });

  it('rolls back on a refusal and offers Retry with the same key; a task deleted elsewhere is said so', async () => {
    const api = fakeApi(['One', 'Two']);
    const { wrapper, store } = await mountApp(api);
    api.intercept((method, path) => (method === 'PATCH' && path === '/api/tasks' ? { status: 503, body: { success: false, message: 'The database is not available right now', code: 'database_unavailable' } } : undefined));
    await store.toggleAll();
    await flushPromises();
    expect(wrapper.findAll<HTMLInputElement>('li input[type="checkbox"]').map((c) => c.element.checked)).toEqual([false, false]);
    expect(wrapper.get('[role="alert"]').text()).toContain('Couldn’t mark 2 tasks as done');
    api.intercept(undefined);
    api.tasks.splice(1, 1); // Two deleted elsewhere
    const first = api.keys[api.calls.lastIndexOf('PATCH /api/tasks')];
    await wrapper.findAll('button').find((b) => b.text() === 'Retry')!.trigger('click');
    await flushPromises();
    expect(api.keys[api.calls.lastIndexOf('PATCH /api/tasks')]).toBe(first);
    expect(texts(wrapper)).toEqual(['One']);
    expect(api.tasks[0]!.done).toBe(true);
    expect(wrapper.get('[role="alert"]').text()).toContain('“Two” was deleted elsewhere');
  });

  it('is not shown when editing is off', async () => {
    const { wrapper } = await mountApp(fakeApi(['One']), { featureEditTask: false });
    expect(wrapper.find('#toggle-all').exists()).toBe(false);
  });
});
