import { afterEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { CreateBody } from '../../../functions/api/schemas';
import { MAX_TASK_LENGTH, taskLength } from '../../../functions/api/task-text';
import { fakeApi, mountApp, texts } from './harness';

afterEach(() => {
  document.body.innerHTML = '';
});

const thumbs = '👍'; // one code point, two UTF-16 units
const eAcute = 'e\u0301'; // e + COMBINING ACUTE ACCENT: one letter on screen, two code points
const family = '👩\u200d👩\u200d👧\u200d👦'; // one emoji on screen, seven code points (ZWJ sequence)

/** Texts around the limit in each way of counting, with what PostgreSQL's char_length says. */
const cases: Array<{ name: string; text: string; length: number; ok?: false }> = [
  { name: '200 emoji (the previous page’s silent cut to 127)', text: thumbs.repeat(200), length: 200 },
  { name: '255 emoji', text: thumbs.repeat(MAX_TASK_LENGTH), length: 255 },
  { name: '256 emoji', text: thumbs.repeat(MAX_TASK_LENGTH + 1), length: 256 },
  { name: '127 é with combining accents + e (255 code points)', text: eAcute.repeat(127) + 'e', length: 255 },
  { name: '128 é with combining accents (256 code points)', text: eAcute.repeat(128), length: 256 },
  { name: '36 family emoji + 3 letters (255 code points)', text: family.repeat(36) + 'abc', length: 255 },
  { name: '36 family emoji + 4 letters (256 code points)', text: family.repeat(36) + 'abcd', length: 256 },
  { name: '255 ASCII letters', text: 'a'.repeat(255), length: 255 },
  { name: '256 ASCII letters', text: 'a'.repeat(256), length: 256 },
  { name: 'a lone surrogate', text: 'half \ud83d of an emoji', length: 18, ok: false },
];

describe('the page and the API agree on what a task may be', () => {
  it('counts length as PostgreSQL does (code points), and the API takes up to 255', () => {
    for (const c of cases) {
      expect(taskLength(c.text), c.name).toBe(c.length);
      expect(CreateBody.safeParse({ task: c.text }).success, c.name).toBe(c.ok ?? c.length <= MAX_TASK_LENGTH);
    }
  });

  for (const c of cases) {
    const api = CreateBody.safeParse({ task: c.text }).success;

    it(`new-task field: ${c.name} is ${api ? 'sent whole' : 'refused'}, as the API does`, async () => {
      const fake = fakeApi();
      const { wrapper } = await mountApp(fake);
      const input = wrapper.get<HTMLInputElement>('#new-task');
      // No maxlength: the browser counts it in UTF-16 units and would cut the text short.
      expect(input.attributes('maxlength')).toBeUndefined();
      await input.setValue(c.text);
      expect(input.element.value).toBe(c.text);
      await wrapper.get('form').trigger('submit');
      await flushPromises();
      if (api) {
        expect(fake.calls).toContain('POST /api/tasks');
        expect(fake.tasks.map((t) => t.task)).toEqual([c.text]);
      } else {
        expect(fake.calls.filter((call) => call.startsWith('POST'))).toEqual([]);
        expect(wrapper.get('[role="alert"]').text()).toMatch(/^A task (can be at most 255 characters|cannot contain)/);
        expect(input.element.value).toBe(c.text); // kept for the person to shorten
      }
    });

    it(`edit field: ${c.name} is ${api ? 'saved whole' : 'refused'}, as the API does`, async () => {
      const fake = fakeApi(['Before']);
      const { wrapper } = await mountApp(fake);
      await wrapper.get('li .text').trigger('dblclick');
      const editor = wrapper.get<HTMLInputElement>('input[aria-label="Edit task"]');
      expect(editor.attributes('maxlength')).toBeUndefined();
      await editor.setValue(c.text);
      await editor.trigger('keydown', { key: 'Enter' });
      await flushPromises();
      if (api) {
        expect(fake.calls).toContain('PATCH /api/tasks/1');
        expect(fake.tasks[0]!.task).toBe(c.text);
        expect(texts(wrapper)).toEqual([c.text]);
      } else {
        expect(fake.calls.filter((call) => call.startsWith('PATCH'))).toEqual([]);
        expect(editor.attributes('aria-invalid')).toBe('true');
        expect(wrapper.get('.problem').text()).toMatch(/^A task (can be at most 255 characters|cannot contain)/);
      }
    });
  }
});

describe('the length note', () => {
  it('counts in code points from 20 before the limit and says how much to remove past it', async () => {
    const { wrapper } = await mountApp(fakeApi());
    const input = wrapper.get<HTMLInputElement>('#new-task');
    await input.setValue(thumbs.repeat(200));
    expect(wrapper.find('#new-task-length').exists()).toBe(false);
    expect(input.attributes('aria-describedby')).toBeUndefined();

    await input.setValue(thumbs.repeat(MAX_TASK_LENGTH));
    expect(wrapper.get('#new-task-length').text()).toBe('255 of 255 characters');
    expect(input.attributes('aria-describedby')).toBe('new-task-length');
    expect(input.attributes('aria-invalid')).toBeUndefined();

    await input.setValue(eAcute.repeat(130));
    expect(wrapper.get('#new-task-length').text()).toBe('260 of 255 characters: remove 5 to save');
    expect(input.attributes('aria-invalid')).toBe('true');
  });

  it('shows in the editor too, next to its own problem message', async () => {
    const { wrapper } = await mountApp(fakeApi(['Short']));
    await wrapper.get('li .text').trigger('dblclick');
    const editor = wrapper.get<HTMLInputElement>('input[aria-label="Edit task"]');
    await editor.setValue(family.repeat(37));
    expect(wrapper.get('#task-1-text-length').text()).toBe('259 of 255 characters: remove 4 to save');
    await editor.trigger('keydown', { key: 'Enter' });
    expect(editor.attributes('aria-describedby')).toBe('task-1-text-problem task-1-text-length');
  });
});
