import { afterEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { fakeApi, mountApp } from './harness';

afterEach(() => {
  document.body.innerHTML = '';
});

const buttons = (wrapper: Awaited<ReturnType<typeof mountApp>>['wrapper']) => wrapper.findAll('button').map((b) => b.text());

describe('feature flags', () => {
  it('shows edit and delete controls when both are enabled', async () => {
    const { wrapper } = await mountApp(fakeApi(['A']));
    expect(wrapper.find('input[type="checkbox"]').exists()).toBe(true);
    expect(buttons(wrapper)).toEqual(expect.arrayContaining(['Edit', 'Delete']));
  });

  it('hides the checkbox and Edit when editing is off, and double-click does nothing', async () => {
    const api = fakeApi(['A']);
    api.tasks[0]!.done = true;
    const { wrapper } = await mountApp(api, { featureEditTask: false });
    expect(wrapper.find('input[type="checkbox"]').exists()).toBe(false);
    expect(buttons(wrapper)).not.toContain('Edit');
    expect(buttons(wrapper)).toContain('Delete');
    expect(wrapper.get('li .text').text()).toBe('Done: A');
    await wrapper.get('li .text').trigger('dblclick');
    expect(wrapper.find('input[aria-label="Edit task"]').exists()).toBe(false);
  });

  it('hides Delete and Clear done when deleting is off', async () => {
    const api = fakeApi(['A']);
    api.tasks[0]!.done = true;
    const { wrapper } = await mountApp(api, { featureDeleteTask: false });
    expect(buttons(wrapper)).not.toContain('Delete');
    expect(buttons(wrapper)).not.toContain('Clear done');
  });

  it('rolls back and hides the control when the API answers 403 feature_disabled', async () => {
    const api = fakeApi(['A']);
    api.intercept((method) =>
      method === 'PATCH'
        ? { status: 403, body: { success: false, message: 'Editing tasks is disabled', code: 'feature_disabled' } }
        : undefined,
    );
    const { wrapper } = await mountApp(api);
    await wrapper.get('#task-1-done').setValue(true);
    await flushPromises();
    expect(api.tasks[0]!.done).toBe(false);
    expect(wrapper.find('input[type="checkbox"]').exists()).toBe(false);
    expect(buttons(wrapper)).not.toContain('Edit');
    const alert = wrapper.get('[role="alert"]');
    expect(alert.text()).toContain('Editing tasks is disabled');
    expect(alert.text()).not.toContain('Retry');
  });
});
