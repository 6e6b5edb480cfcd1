import { afterEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { fakeApi, mountApp, texts } from './harness';

afterEach(() => {
  document.body.innerHTML = '';
});

type Mounted = Awaited<ReturnType<typeof mountApp>>;
const button = (wrapper: Mounted['wrapper'], name: string) => wrapper.findAll('button').find((b) => b.text() === name)!;

async function openEditor(wrapper: Mounted['wrapper']) {
  await wrapper.get('li .text').trigger('dblclick');
  return wrapper.get('input[aria-label="Edit task"]');
}

describe('an open editor and a change made in another tab', () => {
  it('a reload shows the other change under the open editor: Enter asks (412), nothing is overwritten', async () => {
    const api = fakeApi(['Draft report']);
    const { wrapper, store } = await mountApp(api);
    const ifMatches: (string | null)[] = [];
    api.intercept((method, _path, _body, headers) => {
      if (method === 'PATCH') ifMatches.push(headers.get('if-match'));
      return undefined;
    });
    const editor = await openEditor(wrapper);
    // Another tab of the same browser renames it, and its message (or focus) reloads this tab's list.
    Object.assign(api.tasks[0]!, { task: 'Final report', version: 2 });
    await store.load();
    await flushPromises();
    expect(wrapper.find('input[aria-label="Edit task"]').exists()).toBe(true);
    await editor.setValue('My report');
    await editor.trigger('keydown', { key: 'Enter' });
    await flushPromises();
    expect(ifMatches).toEqual(['"1"']); // the version the editor opened on
    expect(api.tasks[0]).toMatchObject({ task: 'Final report', version: 2 });
    const dialog = wrapper.get('[role="alertdialog"]');
    expect(dialog.text()).toContain('It is now “Final report”');
    expect(dialog.text()).toContain('yours: “My report”');
    await button(wrapper, 'Keep mine').trigger('click');
    await flushPromises();
    expect(ifMatches).toEqual(['"1"', '"2"']);
    expect(api.tasks[0]).toMatchObject({ task: 'My report', version: 3 });
    expect(texts(wrapper)).toEqual(['My report']);
  });

  it('Enter with the text unchanged sends nothing, even when the reload brought another text', async () => {
    const api = fakeApi(['Draft report']);
    const { wrapper, store } = await mountApp(api);
    const editor = await openEditor(wrapper);
    Object.assign(api.tasks[0]!, { task: 'Final report', version: 2 });
    await store.load();
    await editor.trigger('keydown', { key: 'Enter' });
    await flushPromises();
    expect(api.calls.filter((c) => c.startsWith('PATCH'))).toEqual([]);
    expect(api.tasks[0]).toMatchObject({ task: 'Final report', version: 2 });
    expect(texts(wrapper)).toEqual(['Final report']);
  });

  it('the person’s own tick answered while the editor is open is not asked about', async () => {
    const api = fakeApi(['Draft report']);
    const { wrapper } = await mountApp(api);
    api.hold((method, _path, body) => method === 'PATCH' && !body.includes('"task"'));
    await wrapper.get('#task-1-done').setValue(true);
    const editor = await openEditor(wrapper); // opened on version 1 while the tick (to version 2) is on its way
    api.release();
    await flushPromises();
    await editor.setValue('My report');
    await editor.trigger('keydown', { key: 'Enter' });
    await flushPromises();
    expect(wrapper.find('[role="alertdialog"]').exists()).toBe(false);
    expect(api.tasks[0]).toMatchObject({ task: 'My report', done: true, version: 3 });
  });

  it('Retry of a failed rename after a change made elsewhere asks rather than overwrites', async () => {
    const api = fakeApi(['Draft report']);
    const { wrapper, store } = await mountApp(api);
    let fail = true;
    api.intercept((method) => (method === 'PATCH' && fail ? { status: 400, body: { success: false, message: 'No.', code: 'bad_request' } } : undefined));
    const editor = await openEditor(wrapper);
    await editor.setValue('My report');
    await editor.trigger('keydown', { key: 'Enter' });
    await flushPromises();
    expect(wrapper.get('[role="alert"]').text()).toContain('Couldn’t rename “Draft report”');
    fail = false;
    Object.assign(api.tasks[0]!, { task: 'Final report', version: 2 });
    await store.load();
    await button(wrapper, 'Retry').trigger('click');
    await flushPromises();
    expect(api.tasks[0]).toMatchObject({ task: 'Final report', version: 2 });
    expect(wrapper.get('[role="alertdialog"]').text()).toContain('yours: “My report”');
  });
});

describe('an open editor whose task is deleted in another tab', () => {
  it('a reload that removes it says so and keeps the typed text in the new-task field, focused', async () => {
    const api = fakeApi(['Milk', 'Bread']);
    const { wrapper, store } = await mountApp(api);
    const editor = await openEditor(wrapper);
    await editor.setValue('Oat milk');
    api.tasks.splice(0, 1);
    await store.load();
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Bread']);
    expect(wrapper.get('[role="alert"]').text()).toContain('“Milk” was deleted elsewhere');
    const field = wrapper.get<HTMLInputElement>('#new-task');
    expect(field.element.value).toBe('Oat milk');
    expect(document.activeElement).toBe(field.element);
    // The person can add it again.
    await wrapper.get('form.new-task').trigger('submit');
    await flushPromises();
    expect(api.tasks.map((t) => t.task)).toEqual(['Bread', 'Oat milk']);
  });

  it('typed text never replaces text already in the new-task field', async () => {
    const api = fakeApi(['Milk']);
    const { wrapper, store } = await mountApp(api);
    await wrapper.get('#new-task').setValue('Eggs');
    const editor = await openEditor(wrapper);
    await editor.setValue('Oat milk');
    api.tasks.splice(0, 1);
    await store.load();
    await flushPromises();
    expect(wrapper.get('[role="alert"]').text()).toContain('“Milk” was deleted elsewhere');
    expect(wrapper.get<HTMLInputElement>('#new-task').element.value).toBe('Eggs');
  });
});

describe('an open editor whose task is deleted in another browser (no reload tells this page)', () => {
  it('Enter meets 404: says so, keeps the typed text in the new-task field and focuses it', async () => {
    const api = fakeApi(['Milk', 'Bread']);
    const { wrapper } = await mountApp(api);
    const editor = await openEditor(wrapper);
    await editor.setValue('Oat milk');
    api.tasks.splice(0, 1); // deleted on the server; this page is not told
    await editor.trigger('keydown', { key: 'Enter' });
    await flushPromises();
    expect(api.calls.filter((c) => c.startsWith('PATCH'))).toEqual(['PATCH /api/tasks/1']);
    expect(texts(wrapper)).toEqual(['Bread']);
    expect(wrapper.get('[role="alert"]').text()).toContain('“Milk” was deleted elsewhere');
    const field = wrapper.get<HTMLInputElement>('#new-task');
    expect(field.element.value).toBe('Oat milk');
    expect(document.activeElement).toBe(field.element);
    expect(api.tasks.map((t) => t.task)).toEqual(['Bread']); // nothing added until the person adds it
  });

  it('left by a click on nothing (blur saves), then the 404: the new-task field takes the text and focus', async () => {
    const api = fakeApi(['Milk', 'Bread']);
    const { wrapper } = await mountApp(api);
    const editor = await openEditor(wrapper);
    await editor.setValue('Oat milk');
    api.tasks.splice(0, 1);
    (editor.element as HTMLInputElement).blur(); // focus on <body>, as a click on the heading leaves it
    await flushPromises();
    expect(wrapper.get('[role="alert"]').text()).toContain('“Milk” was deleted elsewhere');
    const field = wrapper.get<HTMLInputElement>('#new-task');
    expect(field.element.value).toBe('Oat milk');
    expect(document.activeElement).toBe(field.element);
  });

  it('after the 404 too, typed text never replaces text already in the new-task field', async () => {
    const api = fakeApi(['Milk']);
    const { wrapper } = await mountApp(api);
    await wrapper.get('#new-task').setValue('Eggs');
    const editor = await openEditor(wrapper);
    await editor.setValue('Oat milk');
    api.tasks.splice(0, 1);
    await editor.trigger('keydown', { key: 'Enter' });
    await flushPromises();
    expect(wrapper.get('[role="alert"]').text()).toContain('“Milk” was deleted elsewhere');
    expect(wrapper.get<HTMLInputElement>('#new-task').element.value).toBe('Eggs');
  });

  it('a rename in flight when a reload shows the task deleted: its text is kept the same way', async () => {
    const api = fakeApi(['Milk', 'Bread']);
    const { wrapper, store } = await mountApp(api);
    api.hold((method) => method === 'PATCH');
    const editor = await openEditor(wrapper);
    await editor.setValue('Oat milk');
    await editor.trigger('keydown', { key: 'Enter' });
    await flushPromises();
    api.tasks.splice(0, 1);
    await store.load(); // the rename has not been answered yet
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Bread']);
    expect(wrapper.get('[role="alert"]').text()).toContain('“Milk” was deleted elsewhere');
    expect(wrapper.get<HTMLInputElement>('#new-task').element.value).toBe('Oat milk');
    api.release();
    await flushPromises();
    expect(wrapper.get<HTMLInputElement>('#new-task').element.value).toBe('Oat milk');
    expect(api.tasks.map((t) => t.task)).toEqual(['Bread']);
  });
});

describe('an open editor under a filter', () => {
  it('another tab marking the task done keeps the editor open under Active; the save lands and the task then leaves the list', async () => {
    const api = fakeApi(['Milk', 'Bread']);
    const { wrapper, store } = await mountApp(api);
    store.setFilter('active');
    await flushPromises();
    const editor = await openEditor(wrapper);
    await editor.setValue('Oat milk');
    Object.assign(api.tasks[0]!, { done: true, version: 2 });
    await store.load();
    await flushPromises();
    expect(wrapper.find('input[aria-label="Edit task"]').exists()).toBe(true);
    expect(wrapper.get<HTMLInputElement>('input[aria-label="Edit task"]').element.value).toBe('Oat milk');
    await wrapper.get('input[aria-label="Edit task"]').trigger('keydown', { key: 'Enter' });
    await flushPromises();
    expect(wrapper.find('[role="alertdialog"]').exists()).toBe(false); // done and text meet no conflict
    expect(api.tasks[0]).toMatchObject({ task: 'Oat milk', done: true, version: 3 });
    expect(texts(wrapper)).toEqual(['Bread']);
  });
});
