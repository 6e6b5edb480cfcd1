import { ref } from 'vue';
import { positionBetween } from '../../../functions/api/task-position';
import type { Task, TaskStore } from './useTaskStore';

/** What a task's place in the order is made of (a list cursor stands for one too). */
export type Place = Pick<Task, 'id' | 'position'>;

/**
 * The person's order: by `position` (a fractional-index key, functions/api/task-position.ts,
 * compared as the API compares it: code unit by code unit, which for its ASCII digits is byte
 * order), then id. A task without a position (not saved yet, or from an API that predates
 * positions) goes after those that have one, in the order given (Array.prototype.sort is stable).
 */
export function byPlace(a: Place, b: Place): number {
  if (a.position === undefined || b.position === undefined) {
    return a.position === b.position ? 0 : a.position === undefined ? 1 : -1;
  }
  if (a.position !== b.position) return a.position < b.position ? -1 : 1;
  return a.id - b.id;
}

/** What the page last said about a move, for its live region (StatusBar.vue). */
export const moveAnnouncement = ref('');

/**
 * A position between tasks `before` and `after` (null: that end of the list), among `tasks` in
 * order. Two neighbours at one position (two moves into one gap at once) have no key between
 * them: the task goes just before every task at `after`'s position instead.
 */
export function positionFor(tasks: readonly Task[], before: Task | null, after: Task | null): string {
  let low = before?.position ?? null;
  const high = after?.position ?? null;
  if (low !== null && high !== null && low >= high) {
    low = null;
    for (const t of tasks) if (t.position !== undefined && t.position < high) low = t.position;
  }
  return positionBetween(low, high);
}

/** Tasks that can be neighbours in a move: saved, with a position; in order. */
const placed = (store: TaskStore, except: number) => store.state.tasks.filter((t) => t.id > 0 && t.position !== undefined && t.id !== except);

/**
 * Moves task `id` just before or after task `target`: one write (`store.move`), of the moved task
 * only. Says where it went in the live region, counted in the list shown.
 */
export function moveNextTo(store: TaskStore, id: number, target: number, side: 'before' | 'after'): Promise<void> {
  const moving = store.state.tasks.find((t) => t.id === id);
  const others = placed(store, id);
  const at = others.findIndex((t) => t.id === target);
  if (!moving || moving.id < 0 || at < 0) return Promise.resolve();
  const [before, after] = side === 'before' ? [others[at - 1] ?? null, others[at]!] : [others[at]!, others[at + 1] ?? null];
  const sent = store.move(id, positionFor(others, before, after));
  announce(store, moving);
  return sent;
}

/**
 * The keyboard move (Alt+ArrowUp / Alt+ArrowDown on a task): one place up or down in the list
 * shown (under a filter, past the next task shown).
 */
export function moveBy(store: TaskStore, id: number, step: -1 | 1): Promise<void> {
  const shown = store.visible.value.filter((t) => t.id > 0 && t.position !== undefined);
  const at = shown.findIndex((t) => t.id === id);
  if (at < 0) return Promise.resolve();
  const target = shown[at + step];
  if (!target) {
    moveAnnouncement.value = `“${shown[at]!.task}” is already ${step < 0 ? 'first' : 'last'}.`;
    return Promise.resolve();
  }
  return moveNextTo(store, id, target.id, step < 0 ? 'before' : 'after');
}

function announce(store: TaskStore, moved: Task) {
  const shown = store.visible.value;
  const place = shown.findIndex((t) => t.id === moved.id) + 1;
  moveAnnouncement.value = `Moved “${moved.task}” to ${place} of ${shown.length}.`;
}
