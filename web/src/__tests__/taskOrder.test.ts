import { afterEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { fakeApi, mountApp, texts } from './harness';
import { byPlace, moveAnnouncement, positionFor } from '../stores/taskOrder';
import type { Task } from '../stores/useTaskStore';

afterEach(() => {
  document.body.innerHTML = '';
  moveAnnouncement.value = '';
});

const task = (id: number, position?: string): Task => ({ id, task: `t${id}`, done: false, createdAt: '', updatedAt: '', position, version: 1 });
const row = (wrapper: Awaited<ReturnType<typeof mountApp>>['wrapper'], text: string) => wrapper.findAll('li[data-id]').find((li) => li.get('.text').text() === text)!;
const patches = (api: ReturnType<typeof fakeApi>) => api.calls.filter((c) => /^PATCH \/api\/tasks\/\d+$/.test(c));

describe('byPlace and positionFor', () => {
  it('orders by position, then id; tasks without a position last, as given', () => {
    const list = [task(5), task(3, 'a1'), task(2, 'a1'), task(-1), task(4, 'Zz'), task(1, 'a0V')];
    expect(list.sort(byPlace).map((t) => t.id)).toEqual([4, 1, 2, 3, 5, -1]);
  });

  it('puts a task between two neighbours at one position just before them (no key between a tie)', () => {
    const list = [task(1, 'a0'), task(2, 'a1'), task(3, 'a1'), task(4, 'a2')];
    const key = positionFor(list, list[1]!, list[2]!);
    expect('a0' < key && key < 'a1').toBe(true);
    expect(positionFor(list, null, list[0]!) < 'a0').toBe(true);
    expect(positionFor(list, list[3]!, null) > 'a2').toBe(true);
  });
});

describe('moving a task', () => {
  it('Alt+ArrowUp and Alt+ArrowDown move the focused task one place: one PATCH of its position, with If-Match', async () => {
    const api = fakeApi(['One', 'Two', 'Three']);
    const { wrapper } = await mountApp(api);
    const edit = row(wrapper, 'Three').findAll('button').find((b) => b.text() === 'Edit')!;
    (edit.element as HTMLElement).focus();
    await edit.trigger('keydown', { key: 'ArrowUp', altKey: true });
    expect(texts(wrapper)).toEqual(['One', 'Three', 'Two']);
    expect(moveAnnouncement.value).toBe('Moved “Three” to 2 of 3.');
    await flushPromises();
    expect(patches(api)).toEqual(['PATCH /api/tasks/3']);
    expect(api.tasks.map((t) => [t.task, t.version])).toEqual([['One', 1], ['Two', 1], ['Three', 2]]);
    expect(document.activeElement).toBe(edit.element);
    await row(wrapper, 'Three').trigger('keydown', { key: 'ArrowUp', altKey: true });
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Three', 'One', 'Two']);
    await row(wrapper, 'Three').trigger('keydown', { key: 'ArrowUp', altKey: true });
    expect(moveAnnouncement.value).toBe('“Three” is already first.');
    await row(wrapper, 'One').trigger('keydown', { key: 'ArrowDown', altKey: true });
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Three', 'Two', 'One']);
    // Without Alt the arrows do nothing here.
    await row(wrapper, 'One').trigger('keydown', { key: 'ArrowUp' });
    expect(patches(api)).toHaveLength(3);
  });

  it('a drop places the dragged task before or after the row under the pointer', async () => {
    const api = fakeApi(['One', 'Two', 'Three']);
    const { wrapper } = await mountApp(api);
    expect(row(wrapper, 'One').attributes('draggable')).toBe('true');
    expect(row(wrapper, 'One').attributes('aria-keyshortcuts')).toBe('Alt+ArrowUp Alt+ArrowDown');
    await row(wrapper, 'One').trigger('dragstart');
    // happy-dom lays nothing out: every row is 0 px high at 0, so a pointer at y 10 is below the middle.
    await row(wrapper, 'Three').trigger('dragover', { clientY: 10 });
    expect(row(wrapper, 'Three').classes()).toContain('drop-after');
    await row(wrapper, 'Three').trigger('drop');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Two', 'Three', 'One']);
    expect(patches(api)).toEqual(['PATCH /api/tasks/1']);
    expect(row(wrapper, 'Three').classes()).not.toContain('drop-after');
  });

  it('a refused move rolls back; a move that meets another change (412) goes again on the new version', async () => {
    const api = fakeApi(['One', 'Two']);
    const { wrapper } = await mountApp(api);
    api.tasks[1]!.task = 'Two, renamed elsewhere';
    api.tasks[1]!.version = 2;
    await row(wrapper, 'Two').trigger('keydown', { key: 'ArrowUp', altKey: true });
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Two, renamed elsewhere', 'One']);
    expect(wrapper.find('[role="alertdialog"]').exists()).toBe(false);
    expect(api.tasks[1]!.version).toBe(3);
    api.intercept((method) => (method === 'PATCH' ? { status: 403, body: { success: false, message: 'Editing tasks is turned off on this server', code: 'feature_disabled' } } : undefined));
    await row(wrapper, 'One').trigger('keydown', { key: 'ArrowUp', altKey: true });
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Two, renamed elsewhere', 'One']);
    expect(row(wrapper, 'One').attributes('draggable')).toBeUndefined();
  });

  it('Move up / Move down (for touch and phone width) take the keyboard move\'s path: one PATCH, announced, focus kept; aria-disabled at the ends', async () => {
    const api = fakeApi(['One', 'Two', 'Three']);
    const { wrapper } = await mountApp(api);
    const button = (name: string) => wrapper.findAll('button').find((b) => b.attributes('aria-label') === name)!;
    expect(wrapper.findAll('li[data-id]').map((li) => li.findAll('button.move').map((b) => [b.attributes('aria-label'), b.attributes('aria-disabled')]))).toEqual([
      [['Move “One” up', 'true'], ['Move “One” down', undefined]],
      [['Move “Two” up', undefined], ['Move “Two” down', undefined]],
      [['Move “Three” up', undefined], ['Move “Three” down', 'true']],
    ]);
    // Not `disabled`: a disabled button would drop the focus of the person who just moved the task there.
    expect(wrapper.findAll('button.move').every((b) => b.attributes('disabled') === undefined)).toBe(true);
    const up = button('Move “Three” up');
    (up.element as HTMLElement).focus();
    await up.trigger('click');
    expect(texts(wrapper)).toEqual(['One', 'Three', 'Two']);
    expect(moveAnnouncement.value).toBe('Moved “Three” to 2 of 3.');
    await flushPromises();
    expect(patches(api)).toEqual(['PATCH /api/tasks/3']);
    expect(api.tasks.map((t) => [t.task, t.version])).toEqual([['One', 1], ['Two', 1], ['Three', 2]]);
    expect(document.activeElement).toBe(up.element);
    expect(button('Move “Two” down').attributes('aria-disabled')).toBe('true');
    expect(button('Move “Three” down').attributes('aria-disabled')).toBeUndefined();
    await up.trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Three', 'One', 'Two']);
    expect(up.attributes('aria-disabled')).toBe('true');
    expect(document.activeElement).toBe(up.element);
    // At the top: said so, nothing sent.
    await up.trigger('click');
    await flushPromises();
    expect(moveAnnouncement.value).toBe('“Three” is already first.');
    expect(patches(api)).toHaveLength(2);
    await button('Move “One” down').trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Three', 'Two', 'One']);
    expect(api.tasks.map((t) => [t.task, t.version])).toEqual([['One', 2], ['Two', 1], ['Three', 3]]);
    // Each move its own key.
    const keys = api.keys.filter((_, i) => /^PATCH /.test(api.calls[i]!));
    expect(new Set(keys).size).toBe(3);
    expect(keys.every(Boolean)).toBe(true);
  });

  it('Move up / Move down count the list shown: under a filter, the ends are the first and last task shown', async () => {
    const api = fakeApi(['One', 'Two', 'Three']);
    api.tasks[0]!.done = true;
    const { wrapper, store } = await mountApp(api);
    store.state.filter = 'active';
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Two', 'Three']);
    const button = (name: string) => wrapper.findAll('button').find((b) => b.attributes('aria-label') === name)!;
    expect(button('Move “Two” up').attributes('aria-disabled')).toBe('true');
    await button('Move “Three” up').trigger('click');
    await flushPromises();
    expect(texts(wrapper)).toEqual(['Three', 'Two']);
    expect(moveAnnouncement.value).toBe('Moved “Three” to 1 of 2.');
    // As the keyboard move: just before the task it passed, so after the hidden one above that.
    store.state.filter = 'all';
    await flushPromises();
    expect(texts(wrapper)).toEqual(['One', 'Three', 'Two']);
    expect(patches(api)).toEqual(['PATCH /api/tasks/3']);
  });

  it('is offered only when editing is on', async () => {
    const { wrapper } = await mountApp(fakeApi(['One', 'Two']), { featureEditTask: false });
    expect(row(wrapper, 'One').attributes('draggable')).toBeUndefined();
    expect(wrapper.find('button.move').exists()).toBe(false);
    expect(wrapper.find('#move-hint').exists()).toBe(false);
  });
});
