import { afterEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { fakeApi, mountApp, texts } from './harness';

afterEach(() => {
  document.body.innerHTML = '';
});

describe('editing a task in place', () => {
  it('opens on double-click, saves on Enter and gives focus back to Edit', async () => {
    const api = fakeApi(['Draft']);
    const { wrapper } = await mountApp(api);
    await wrapper.get('li .text').trigger('dblclick');
    const editor = wrapper.get<HTMLInputElement>('input[aria-label="Edit task"]');
    expect(document.activeElement).toBe(editor.element);
    await editor.setValue('Final');
    await editor.trigger('keydown', { key: 'Enter' });
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Final']);
    expect(api.calls).toContain('PATCH /api/tasks/1');
    expect(api.tasks[0]!.task).toBe('Final');
    expect((document.activeElement as HTMLElement).textContent?.trim()).toBe('Edit');
  });

  it('opens from the Edit button and cancels on Escape without a request', async () => {
    const api = fakeApi(['Keep me']);
    const { wrapper } = await mountApp(api);
    await wrapper.findAll('button').find((b) => b.text() === 'Edit')!.trigger('click');
    const editor = wrapper.get('input[aria-label="Edit task"]');
    await editor.setValue('Changed my mind');
    await editor.trigger('keydown', { key: 'Escape' });
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Keep me']);
    expect(api.calls.some((c) => c.startsWith('PATCH'))).toBe(false);
  });

  it('keeps the editor open with a message when the text is empty', async () => {
    const { wrapper } = await mountApp(fakeApi(['Something']));
    await wrapper.get('li .text').trigger('dblclick');
    const editor = wrapper.get('input[aria-label="Edit task"]');
    await editor.setValue('   ');
    await editor.trigger('keydown', { key: 'Enter' });
    expect(editor.attributes('aria-invalid')).toBe('true');
    expect(wrapper.get('.problem').text()).toBe('A task needs some text.');
    // Clicking elsewhere gives up the invalid edit and keeps the old text.
    await editor.trigger('blur');
    expect(texts(wrapper)).toEqual(['Something']);
  });

  it('saves on blur', async () => {
    const api = fakeApi(['Before']);
    const { wrapper } = await mountApp(api);
    await wrapper.get('li .text').trigger('dblclick');
    const editor = wrapper.get('input[aria-label="Edit task"]');
    await editor.setValue('After');
    await editor.trigger('blur');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['After']);
    expect(api.tasks[0]!.task).toBe('After');
  });
});
