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
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const real = api.fetch;
    api.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await real(input, init);
      if (init?.method === 'PATCH' && !String(init.body).includes('"task"')) await held;
      return res;
    }) as typeof fetch;
    await wrapper.get('#task-1-done').setValue(true);
    const editor = await openEditor(wrapper); // opened on version 1 while the tick (to version 2) is on its way
    release();
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
