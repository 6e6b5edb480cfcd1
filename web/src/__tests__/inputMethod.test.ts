import { afterEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { fakeApi, mountApp, texts } from './harness';

afterEach(() => {
  document.body.innerHTML = '';
});

// While an input method composes (Chinese, Japanese, Korean input), Enter picks a candidate and
// Escape drops the composition: the keys are the input method's, not the page's. Browsers mark such
// keydowns with isComposing, and Safari's last one (after compositionend) only with keyCode 229.
const duringComposition = [
  { name: 'isComposing', init: { isComposing: true } },
  { name: 'keyCode 229', init: { keyCode: 229 } },
];

describe('keys pressed while an input method composes', () => {
  for (const { name, init } of duringComposition) {
    it(`edit field (${name}): Enter does not save and Escape does not cancel`, async () => {
      const api = fakeApi(['買う']);
      const { wrapper } = await mountApp(api);
      await wrapper.get('li .text').trigger('dblclick');
      const editor = wrapper.get<HTMLInputElement>('input[aria-label="Edit task"]');
      await editor.setValue('牛乳をかう');

      const enter = new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true, ...init });
      editor.element.dispatchEvent(enter);
      const escape = new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, cancelable: true, ...init });
      editor.element.dispatchEvent(escape);
      await flushPromises();
      expect(enter.defaultPrevented || escape.defaultPrevented).toBe(false); // left to the input method
      expect(wrapper.find('input[aria-label="Edit task"]').exists()).toBe(true);
      expect(editor.element.value).toBe('牛乳をかう');
      expect(api.calls.filter((c) => c.startsWith('PATCH'))).toEqual([]);

      // The composition is over: now Enter is the page's and saves.
      await editor.setValue('牛乳を買う');
      await editor.trigger('keydown', { key: 'Enter' });
      await flushPromises();
      expect(texts(wrapper)).toEqual(['牛乳を買う']);
      expect(api.tasks[0]!.task).toBe('牛乳を買う');
    });

    it(`new-task field (${name}): Enter does not submit`, async () => {
      const api = fakeApi();
      const { wrapper } = await mountApp(api);
      const input = wrapper.get<HTMLInputElement>('#new-task');
      await input.setValue('우유');
      const enter = new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true, ...init });
      input.element.dispatchEvent(enter);
      // Cancelling the keydown is what stops the browser's implicit form submission.
      expect(enter.defaultPrevented).toBe(true);
      const plain = new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true });
      input.element.dispatchEvent(plain);
      expect(plain.defaultPrevented).toBe(false);
      await flushPromises();
      expect(api.calls.filter((c) => c.startsWith('POST'))).toEqual([]);
      expect(input.element.value).toBe('우유');
    });
  }
});
