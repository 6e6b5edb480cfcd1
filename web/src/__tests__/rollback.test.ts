import { afterEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { fakeApi, mountApp, texts } from './harness';

afterEach(() => {
  document.body.innerHTML = '';
});

const refuse = { status: 500, body: { success: false, message: 'Database unavailable', code: 'internal' } };

describe('rollback when the API refuses', () => {
  it('takes back a failed add, returns the text to the field and retries it', async () => {
    const api = fakeApi();
    api.intercept((method) => (method === 'POST' ? refuse : undefined));
    const { wrapper } = await mountApp(api);
    const input = wrapper.get<HTMLInputElement>('#new-task');
    await input.setValue('Call the plumber');
    await wrapper.get('form').trigger('submit');
    expect(texts(wrapper)).toEqual(['Call the plumber']);
    await flushPromises();
    expect(texts(wrapper)).toEqual([]);
    expect(input.element.value).toBe('Call the plumber');
    const alert = wrapper.get('[role="alert"]');
    expect(alert.text()).toContain('Couldn’t add “Call the plumber”: Database unavailable');

    api.intercept(undefined);
    await alert.findAll('button').find((b) => b.text() === 'Retry')!.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Call the plumber']);
    expect(api.tasks.map((t) => t.task)).toEqual(['Call the plumber']);
    expect(input.element.value).toBe('');
    expect(wrapper.find('[role="alert"]').exists()).toBe(false);
  });

  it('restores a renamed task', async () => {
    const api = fakeApi(['Original']);
    api.intercept((method) => (method === 'PATCH' ? refuse : undefined));
    const { wrapper } = await mountApp(api);
    await wrapper.get('li .text').trigger('dblclick');
    const editor = wrapper.get('input[aria-label="Edit task"]');
    await editor.setValue('Renamed');
    await editor.trigger('keydown', { key: 'Enter' });
    expect(texts(wrapper)).toEqual(['Renamed']);
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Original']);
    expect(wrapper.get('[role="alert"]').text()).toContain('Couldn’t rename “Original”');
  });

  it('puts a deleted task back in its place', async () => {
    const api = fakeApi(['One', 'Two', 'Three']);
    api.intercept((method) => (method === 'DELETE' ? refuse : undefined));
    const { wrapper } = await mountApp(api);
    await wrapper.get('li[data-id="2"]').findAll('button').find((b) => b.text() === 'Delete')!.trigger('click');
    expect(texts(wrapper)).toEqual(['One', 'Three']);
    await flushPromises();
    expect(texts(wrapper)).toEqual(['One', 'Two', 'Three']);
    expect(wrapper.get('[role="alert"]').text()).toContain('Couldn’t delete “Two”: Database unavailable');
  });

  it('unticks a task whose toggle failed', async () => {
    const api = fakeApi(['Tick me']);
    api.intercept((method) => (method === 'PATCH' ? refuse : undefined));
    const { wrapper } = await mountApp(api);
    const box = wrapper.get<HTMLInputElement>('#task-1-done');
    await box.setValue(true);
    await flushPromises();
    expect(box.element.checked).toBe(false);
    expect(wrapper.get('[role="alert"]').text()).toContain('Couldn’t mark “Tick me” as done');
  });
});
